// Privacy redaction of a clip before it leaves the vehicle: faces and
// licence plates of passers-by blurred, pixelated or filled on every frame,
// recall first (docs/PRIVACY.md).
//
// Two passes over the clip. The first finds what to hide at `detect_hz`:
// people and vehicles with the object detector (its own run, or the
// pre-label pass's detections as the detector gave them: an operator's label
// edits never un-redact anyone), faces with BlazeFace on
// the whole frame and, scaled up, in each person's upper body, plates with
// cascades inside each vehicle's lower part. Each kind is tracked across
// frames (vision::Tracker, every detection a track), so a face missed
// between two hits is still covered, held `hold_s` past its last hit and
// padded. Conservative mode hides a near person's head region where no
// face was found, and a near vehicle's plate band where no plate was. The
// second pass decodes again, draws the boxes on every frame and re-encodes
// (media::H264Writer) with the same frame count, timestamps and keyframes.
#pragma once

#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <set>
#include <string>
#include <vector>

#include "status.hpp"
#include "vision/detectors.hpp"
#include "vision/offline_tracker.hpp"

namespace dashloop::pipeline::privacy {

struct PrivacyConfig {
  std::string faces = "none";   // none | blur | pixelate | fill
  std::string plates = "none";  // none | blur | pixelate | fill
  bool conservative = true;     // head regions and plate bands where nothing was found
  double min_person_px = 100;   // a person at least this tall (source px) gets its head region hidden
  double min_vehicle_px = 120;  // a vehicle at least this wide gets its plate band hidden
  double detect_hz = 5;         // detection rate; the boxes cover every frame
  double hold_s = 0.5;          // a box stays this long past its last hit (and before its first)
  double pad = 0.3;             // boxes grow by this share of their size
  vision::DetectorConfig objects;        // people and vehicles (the bundled YOLOX at input 640 by default)
  std::filesystem::path face_model;      // BlazeFace ONNX
  float face_min_score = 0.5f;
  std::vector<std::filesystem::path> plate_cascades;
  // An ONNX plate detector (YOLO-family output, as vision's onnx kind reads),
  // run besides the cascades in each vehicle's lower part; "": none.
  std::filesystem::path plate_model, plate_labels;
  std::string plate_format = "auto";
  int plate_input_size = 320;
  float plate_min_score = 0.4f;
  std::array<int, 3> fill_rgb = {0, 0, 0};
  int quality = 21;  // the re-encode's constant quality (x264)

  bool on() const { return faces != "none" || plates != "none"; }
};

// The policies there are: none, blur, pixelate, fill.
const std::set<std::string>& policies();
// Policies and ranges; names the setting.
Status validate(const PrivacyConfig& config);

struct RedactionBox {
  cv::Rect2f box;    // source pixels
  std::string kind;  // face | head | plate | band | added_face | added_plate
};

// A box an operator drew over what the detectors missed: one or more keys
// (frame of the video, 0-based; box in source pixels), held and followed
// like a detector's track (interpolated between keys, held `hold_s` before
// the first and after the last). Hidden by the policy of its kind, or blurred
// where that policy is none: the operator asked for it.
struct AddedMark {
  int id = 0;
  std::string what = "face";  // face | plate
  std::vector<std::pair<int64_t, cv::Rect2f>> keys;
};

// People and vehicles that another pass over the same video found (the
// pre-label pass), used instead of the redactor's own object detector: one
// detection pass per clip. Boxes as the detector gave them, before any
// operator's edit, so that deleting a false track never un-redacts anyone.
struct SeenObjects {
  nlohmann::json detector;  // what found them, for the manifest
  struct Frame {
    int64_t frame = 0;  // of the video, 0-based
    std::vector<vision::Detection> people, vehicles;  // source pixels
  };
  std::vector<Frame> frames;  // ascending; the redactor's detect frames
};

// The people and vehicles among a pass's detector steps (boxes in source
// pixels; class ids index `labels`).
SeenObjects seen_objects(const std::vector<vision::TrackStep>& steps, const std::vector<std::string>& labels,
                         nlohmann::json detector);

struct RedactionReport {
  int64_t frames = 0;
  int64_t frames_redacted = 0;
  int64_t detect_frames = 0;  // frames the detectors ran on
  std::map<std::string, int64_t> detections;  // person, vehicle, face, plate: hits over all detect frames
  std::map<std::string, int64_t> boxes;       // by RedactionBox::kind: boxes drawn over all frames
  int64_t added_marks = 0;                    // the operator's AddedMark count
  nlohmann::json objects;                     // the people and vehicles detector, or the SeenObjects' one
  std::vector<std::vector<RedactionBox>> by_frame;  // what was drawn on each frame
  cv::Size frame_size;
  bool keyframes_kept = false;  // the output's keyframes are the input's
  bool reencoded = true;         // false: nothing to hide, the output is the input's bytes
  std::string encoder;
  double seconds = 0;  // wall time of both passes
};

class Redactor {
 public:
  // Loads every model and cascade the policy needs; a missing one is named.
  // `own_objects` false: no people and vehicles detector is loaded, every
  // redact_video is given SeenObjects.
  static Result<std::unique_ptr<Redactor>> open(const PrivacyConfig& config, bool own_objects = true);
  ~Redactor();

  // `in` (any video GStreamer decodes) -> `out` (H.264 MP4), redacted, with
  // the operator's `added` boxes besides what the policy finds (a redactor
  // whose policy is off draws only those).
  // `stop` set: returns Unavailable within a frame (a station shutting down).
  // `seen` set: its frames are the detect frames and its people and vehicles
  // the ones searched for faces and plates (the policy's detect_hz unused).
  Result<RedactionReport> redact_video(const std::filesystem::path& in, const std::filesystem::path& out,
                                       const std::atomic<bool>* stop = nullptr,
                                       const std::vector<AddedMark>& added = {},
                                       const SeenObjects* seen = nullptr);
  // An image of one of the video's frames (a keyframe) with that frame's
  // boxes, scaled from `frame_size` to the image's size.
  Status redact_image(const std::filesystem::path& in, const std::filesystem::path& out,
                      const std::vector<RedactionBox>& boxes, cv::Size frame_size) const;
  // For the package manifest: the policy, the detectors with their model
  // files' sha256, and the report's counts.
  nlohmann::json manifest(const RedactionReport& report) const;

 private:
  struct Impl;
  explicit Redactor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::pipeline::privacy
