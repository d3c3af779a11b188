// Config: the station's settings, parsed and validated once from TOML into
// typed structs. Nothing else reads TOML.
//
// Every key is checked: an unknown key, a wrong type or an out-of-range value
// is an InvalidArgument whose message names the file, the line and the key.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "clips/package.hpp"
#include "clips/planner.hpp"
#include "privacy/redactor.hpp"
#include "status.hpp"
#include "vision/detectors.hpp"
#include "vision/keyframe_selector.hpp"
#include "vision/offline_tracker.hpp"
#include "vision/tracker.hpp"

namespace dashloop::firmware::config {

struct IngestConfig {
  std::string mode = "full";  // full | triage
  int analysis_width = 640;
};

struct KeyframeConfig {
  pipeline::vision::SelectorConfig selector;
  int jpeg_quality = 90;
};

// People are what a street clip is mostly checked for, and HOG needs no
// model file: tracking works out of the box (about 3x real time at 1080p).
// The bundled YOLOX-Nano (firmware/models/README.md): the classes a fleet
// labels first, each above its own score. Paths are relative to the models
// directory (resolve_model_paths).
inline pipeline::vision::DetectorConfig default_detector() {
  pipeline::vision::DetectorConfig d;
  d.kind = "onnx";
  d.model = "yolox_nano.onnx";
  d.labels = "coco80.txt";
  d.format = "yolox";
  d.input_size = 416;
  d.min_score = 0.25f;
  d.classes = {"person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign"};
  d.class_min_scores = {{"person", 0.3f}, {"car", 0.3f}, {"traffic light", 0.35f}, {"stop sign", 0.4f}};
  return d;
}

// Where the bundled models are: $DASHLOOP_MODEL_DIR, else the directory the
// build was configured with (the source tree's firmware/models, or an
// installed box's share directory).
std::filesystem::path model_dir();
// A relative detector.model or detector.labels is taken from model_dir().
void resolve_model_paths(pipeline::vision::DetectorConfig& detector);

// Pre-labels must be right where live analysis must be cheap: the detector's
// accurate setting (a larger network input on less shrunk frames), used by
// `dashloop detect` (docs/TRACKING.md: the trade, measured).
struct PrelabelConfig {
  int input_size = 960;  // network input
  int width = 1920;      // frames reach the detector at up to this width
  int tiles = 1;         // overlapping tiles across the frame besides the whole (1: none)
  float tile_overlap = 0.2f;
  double rate_hz = 6.0;  // detections a second of the clip (0: every frame); the offline tracker fills between
  // Detect a package's own frames again with this setting and track them
  // with the offline tracker, for its pre-labels; false: the live tracks
  // (docs/TRACKING.md: what each costs and finds).
  bool redetect = true;
  // Another ONNX model for pre-labels (a depot or cloud site's larger one;
  // NanoDet-Plus, docs/TRACKING.md); empty: the [detector] model.
  std::filesystem::path model;
  std::string format = "auto";  // of that model: auto | yolov5 | yolov8 | yolox | nanodet
  // The station's pass waits while analysis runs, but a clip that has
  // waited this long goes on beside it (niced): clips reach review on a box
  // whose analysis never rests.
  double max_wait_s = 300.0;
  // The pre-label setting applied to a detector config.
  void apply_to(pipeline::vision::DetectorConfig& d) const {
    if (!model.empty()) {
      d.kind = "onnx";
      d.model = model;
      d.format = format;
    }
    d.input_size = input_size;
    d.width = width;
    d.tiles = tiles;
    d.tile_overlap = tile_overlap;
  }
};

struct TrackingConfig {
  pipeline::vision::TrackerConfig tracker;
  // How pre-labels and `dashloop track` use the whole clip ([tracker] offline_*).
  pipeline::vision::OfflineTrackerConfig offline;
  bool camera_motion = true;  // a vehicle camera moves; set false for a fixed one
};

struct ClipsConfig {
  bool enabled = true;  // ingest plans, cuts and packages clips
  // At most this many minutes of clips per hour of a camera's driving (0: no
  // budget); 2.5 keeps the uploads over 20 x smaller than the recording.
  double budget_min_per_hour = 2.5;
  pipeline::clips::PlannerConfig planner;
  pipeline::clips::EffortConfig effort;
};

struct RecordingConfig {
  double segment_s = 60.0;  // length of one recorded segment
  // `dashloop run` analyses a camera's closed segments as one drive once they
  // hold this much video (or at once when a trigger waits in them): tracks
  // and clips do not cross these drives, samples are drawn per hour alike.
  double analysis_chunk_s = 60.0;
  // A camera that delivers no frame this long (frozen, its link half dead:
  // no error comes) has its pipeline torn down and rebuilt; 0 turns it off.
  double stall_s = 10.0;
};

// Disk quota of data_dir: recordings go first, then finished packages; a
// package still in review, approved or uploading only past the hard limit.
struct RetentionConfig {
  int64_t max_bytes = 0;        // what Dashloop may keep in data_dir (0: no byte quota)
  int64_t hard_max_bytes = 0;   // past this even packages waiting for review go (0: none)
  double max_percent = 90.0;    // the filesystem may be at most this full
  double hard_percent = 97.0;   // past this, even packages waiting for review go (loudly)
  double interval_s = 60.0;     // how often a recorder checks (and before every write of a package)
};

// One of the station's cameras (`[[camera]]` tables; `dashloop run`).
struct CameraConfig {
  std::string name;    // letters, digits, - and _: directory names and bus fields
  std::string source;  // rtsp://, v4l2:///dev/videoN or test://
  std::string role = "road";  // road | cabin | rear | ...: for people and filters
  std::string faces;   // this camera's redaction of faces; "": [privacy] faces
  std::string plates;  // this camera's redaction of plates; "": [privacy] plates
};

// [privacy] (docs/PRIVACY.md): on by default, faces and plates blurred in
// everything that leaves the vehicle; a camera opts out in its [[camera]]
// table. Models are the bundled ones: people and
// vehicles by YOLOX-Nano at input 640 (all five classes above 0.25, recall
// first), faces by BlazeFace's 256x256 "back" model.
inline pipeline::privacy::PrivacyConfig default_privacy() {
  pipeline::privacy::PrivacyConfig p;
  p.faces = p.plates = "blur";
  p.objects = default_detector();
  p.objects.input_size = 640;
  p.objects.classes = {"person", "car", "bus", "truck", "motorcycle"};
  p.objects.class_min_scores.clear();
  p.face_model = "blazeface/face_detection_back_256x256_barracuda.onnx";
  p.plate_cascades = {"/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml"};
  return p;
}

// Sync of approved packages to object storage (docs/SYNC.md).
struct SyncConfig {
  bool enabled = true;  // a part of `dashloop run`
  // s3://BUCKET[/PREFIX] or file:///DIR; "" : file://<data_dir>/upload-target, a local bucket.
  std::string target;
  std::string endpoint;  // http(s)://host[:port] of an S3-compatible server; "" : AWS in `region`
  std::string region = "us-east-1";
  bool path_style = true;  // false: virtual-host style (bucket.host)
  std::string ca_file;     // extra CA bundle (TLS verification stays on)
  std::string credentials_file;  // TOML, mode 0600: access_key, secret_key; "" : AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
  int multipart_threshold_mib = 8;   // files this large or larger go multipart (= part_mib: a kill loses at most one part)
  int part_mib = 8;                  // S3: parts >= 5 MiB, <= 10,000 of them
  int64_t max_bytes_per_s = 0;       // upload bandwidth cap (0: none), all connections together
  // Requests in flight at once (small files, parts, checks), each on its own
  // connection; their bodies go out one at a time.
  int concurrency = 2;
  // When the network may be used: always | probe (the endpoint answers) |
  // interface:NAME (that interface is up) | command:CMD (CMD exits 0).
  std::string network = "always";
  std::string hours;         // "H-H": allowed UTC hours, e.g. "22-6"; "" : any hour
  double interval_s = 30;    // between passes (`sync --follow`, `run`)
  int attempts = 5;          // tries of one request on transient errors
  double backoff_s = 1;      // first wait between tries (doubled, with jitter)
  double backoff_max_s = 60;
  double timeout_s = 60;     // a request stalled this long fails (transient)
};

// The depot review UI (docs/UI.md): `dashloop ui`, and a part of `dashloop run`.
struct UiConfig {
  bool enabled = true;         // a part of `dashloop run`
  std::string bind = "127.0.0.1";  // the depot LAN's address to serve it there (then HTTPS: cert and key)
  int port = 8080;
  std::string cert;            // PEM certificate and key: HTTPS (required off loopback)
  std::string key;
  double session_hours = 12;   // an operator's login lasts this long
  int max_failures = 5;        // wrong passwords in a row before an account is locked
  double lockout_s = 900;      // ...for this long
  double address_wait_s = 30;  // a client address's wait after its 3rd wrong password in a row, doubling
  // Reasons an operator picks from when rejecting a clip.
  std::vector<std::string> reject_reasons = {"nothing of interest", "duplicate", "bad image (blur, glare, dark)",
                                             "camera blocked", "private (people, plates)", "wrong labels beyond repair"};
};

struct Credentials {
  std::string access_key, secret_key;
};
// Reads a credentials file, refusing one that others can read.
Result<Credentials> load_credentials(const std::filesystem::path& file);

// The power-fail input: a file (a GPIO's sysfs value) that reads fail_value
// while the vehicle's supply is failing; `dashloop run` then stops as on
// SIGTERM (segments closed, exit 0) before the hold-up capacitor runs dry.
struct PowerConfig {
  std::filesystem::path fail_file;  // empty: not watched
  std::string fail_value = "1";
};

struct Config {
  std::filesystem::path data_dir = "./dashloop-data";
  std::string vehicle = "vehicle-0";
  std::string camera = "front";      // `camera = "NAME"`: the one camera of ingest and record
  std::vector<CameraConfig> cameras;  // `[[camera]]`: the station's cameras
  std::string log_level = "info";
  IngestConfig ingest;
  KeyframeConfig keyframes;
  pipeline::vision::DetectorConfig detector = default_detector();
  PrelabelConfig prelabel;
  TrackingConfig tracking;
  ClipsConfig clips;
  RecordingConfig recording;
  RetentionConfig retention;
  SyncConfig sync;
  UiConfig ui;
  PowerConfig power;
  pipeline::privacy::PrivacyConfig privacy = default_privacy();
};

// The redaction a camera's clips get: [privacy] with the camera's own faces
// and plates over it, model paths resolved. A camera not in [[camera]]
// (ingest's `camera`) gets [privacy] as it is.
pipeline::privacy::PrivacyConfig privacy_for(const Config& c, const std::string& camera);

// [sync] target, or the embedded default: file://<data_dir>/upload-target.
inline std::string sync_target(const Config& c) {
  return c.sync.target.empty() ? "file://" + (c.data_dir / "upload-target").string() : c.sync.target;
}

// Parses a TOML file over the defaults. Relative data_dir is taken relative to
// the working directory, as a person at a terminal expects.
Result<Config> load_file(const std::filesystem::path& file);
// Same, from text (file names the origin in messages).
Result<Config> load_string(const std::string& text, const std::string& file);

}  // namespace dashloop::firmware::config
