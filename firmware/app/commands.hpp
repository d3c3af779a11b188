// The dashloop subcommands, as functions from parsed options to an exit code.
// This is the composition root: the subcommands over the station's services
// (firmware/station/) and the libraries. Messages for people go to stderr;
// results (and --json) to stdout.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "station/process.hpp"
#include "station/station.hpp"

namespace dashloop::app {

struct IngestOptions {
  std::vector<std::string> sources;
  std::string mode;          // empty: from config
  int analysis_width = 0;    // 0: from config
  std::vector<double> triggers;  // external triggers, seconds into the drive
  bool json = false;
  bool quiet = false;
  bool again = false;  // a file already ingested is ingested again
};

struct ClipsOptions {
  std::string state;  // list: only this state
  int64_t drive_id = 0;  // list: only this drive
  std::string clip;   // show, export, move: id or uid
  std::string format;  // export: cvat | mot | coco | labelstudio
  std::string out;     // export: directory
  std::string video_url_prefix;  // export labelstudio: where clip.mp4 will be served
  std::vector<std::string> clips;  // move: ids or uids (several at once)
  std::string to;      // move: the new state
  std::string by;      // move: the operator
  std::string reason;  // move: why
  bool json = false;
};

struct RecordOptions {
  std::string source;
  std::string camera;    // empty: from config
  double seconds = 0;    // 0: until Ctrl-C / SIGTERM
  double segment_s = 0;  // 0: from config
};

struct EventsOptions {
  int count = 0;       // exit after this many events (0: no limit)
  double seconds = 0;  // exit after this long (0: no limit)
  std::string type;    // only events whose type starts with this
};

struct SyncOptions {
  bool follow = false;  // keep going (every [sync] interval_s) until SIGTERM
  bool json = false;
};

struct CollectOptions {
  std::string from;  // s3://BUCKET/PREFIX or file:///DIR
  std::string to;    // directory for the packages
  std::string job;   // who acks
  std::string video_url_prefix;
  double claim_timeout_s = 3600;
  bool follow = false;
  bool json = false;
  bool prelabel = false;  // the pre-label pass again on each package, with this config's [prelabel]
};

struct UiCommandOptions {
  int port = -1;              // -1: [ui] port
  double seconds = 0;         // 0: until SIGINT / SIGTERM
  std::string demo_operator;  // made now with a one-time password, printed (the demo)
};

struct TrackOptions {
  std::string detections;  // MOTChallenge det.txt
  std::string out;         // MOTChallenge results
  int fill_gap = 2;        // --online: predicted boxes fill gaps of at most this many frames
  bool online = false;     // the live tracker alone (past only), not the offline one
  float min_score = -std::numeric_limits<float>::infinity();  // rows under it dropped (the file's units)
  std::string score_map = "auto";  // auto | none | quantile (vision::calibrate_scores)
};

struct DetectOptions {
  std::vector<std::string> inputs;   // images, directories of images, videos
  std::vector<std::string> classes;  // only these (empty: the config's)
  std::string out;                   // MOTChallenge rows or JSON; empty: stdout
  int input_size = 0;                // 0: the config's
  int tiles = 0;                     // 0: the config's
  bool live = false;                 // the live setting ([detector]) instead of [prelabel]
  bool json = false;
};

struct PrelabelOptions {
  std::vector<std::string> packages;  // package directories
  bool json = false;
};

struct RedactOptions {
  std::string input;
  std::string output;
  std::string camera;  // whose policy ([[camera]] faces/plates over [privacy]); "": the config's camera
  std::string faces;   // over the policy: none | blur | pixelate | fill
  std::string plates;
  bool json = false;   // the manifest's privacy and every frame's boxes, on stdout
};

struct EvalMotOptions {
  std::string gt, pred;
  float min_iou = 0.5f;
  bool json = false;
};

int run_ingest(const GlobalOptions& global, const IngestOptions& options);
int run_drives(const GlobalOptions& global, bool json);
int run_keyframes(const GlobalOptions& global, int64_t drive_id, bool json);
// A drive's tracks; with --boxes, every box (MOTChallenge-style lines in JSON).
int run_tracks(const GlobalOptions& global, int64_t drive_id, bool json, bool boxes);
// The tracker alone on MOTChallenge detections -> MOTChallenge results.
int run_track(const GlobalOptions& global, const TrackOptions& options);
// The detector alone on images, image directories or videos.
int run_detect(const GlobalOptions& global, const DetectOptions& options);
// The pre-label pass on packages anywhere, each rewritten in place (docs/TRACKING.md).
int run_prelabel(const GlobalOptions& global, const PrelabelOptions& options);
// Redacts faces and plates in a video as packages are (docs/PRIVACY.md).
int run_redact(const GlobalOptions& global, const RedactOptions& options);
// CLEAR-MOT and IDF1 of results against ground truth.
int run_eval_mot(const EvalMotOptions& options);
// Checks what this machine needs: GStreamer elements (and the optional
// Jetson ones), the data directory, the catalog. Exit 1 when a required
// check fails.
int run_doctor(const GlobalOptions& global, bool json);

// The clip queue: list, show (with its audit trail), export one format,
// move (an operator's approve / reject / re-review).
int run_clips_list(const GlobalOptions& global, const ClipsOptions& options);
int run_clips_show(const GlobalOptions& global, const ClipsOptions& options);
int run_clips_export(const GlobalOptions& global, const ClipsOptions& options);
int run_clips_move(const GlobalOptions& global, const ClipsOptions& options);
// An operator's mark at a moment of a drive: a clip around it, packaged now.
int run_mark(const GlobalOptions& global, int64_t drive_id, double at_s, const std::string& note);
// Drives, clips by state, disk use: for a person at a terminal.
int run_status(const GlobalOptions& global, bool json);
// Enforces the disk quota once.
int run_retention(const GlobalOptions& global, bool json);
// The station: every [[camera]] recorded, analysed as segments close, the bus.
int run_station(const GlobalOptions& global, const RunOptions& options);
// The bus's clients: the event stream, one JSON per line; a control request
// (trigger, mark, flush, status) with its reply.
int run_events(const GlobalOptions& global, const EventsOptions& options);
int run_control(const GlobalOptions& global, const std::string& cmd, const std::string& camera, const std::string& note,
                const std::string& at = "");
// Uploads approved packages, reads acks; exits when nothing is left (or --follow).
int run_sync(const GlobalOptions& global, const SyncOptions& options);
// The cloud job: takes complete packages from the store, verifies, acks.
int run_collect(const GlobalOptions& global, const CollectOptions& options);
// The depot UI alone; its accounts: operators (a password) and readers (a token).
int run_ui(const GlobalOptions& global, const UiCommandOptions& options);
// --one-time: a random password printed once, replaced at the first login.
int run_user_add(const GlobalOptions& global, const std::string& name, bool one_time);
int run_user_remove(const GlobalOptions& global, const std::string& name);
int run_user_unlock(const GlobalOptions& global, const std::string& name);
int run_user_list(const GlobalOptions& global);
// scope: read (list, download, metrics) | ack (the cloud job: also acks).
int run_token_add(const GlobalOptions& global, const std::string& name, const std::string& scope);
// Records a live source into crash-safe segments without re-encoding.
int run_record(const GlobalOptions& global, const RecordOptions& options);

}  // namespace dashloop::app
