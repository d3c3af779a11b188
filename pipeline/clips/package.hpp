// Package builder: writes a clip's pre-labels in the formats annotation tools
// import (CVAT for video 1.1, MOT 1.1, COCO 1.0, Label Studio video), copies
// its keyframes, and writes manifest.json last, with the sha256 of every
// file and an effort estimate. docs/CLIPS.md documents each file.
//
// The caller cuts clip.mp4 into `dir` first and renames `dir` into place
// after: a package is whole exactly when its manifest exists.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::pipeline::clips {

inline constexpr int kPackageVersion = 1;

// A box of a track at a detector frame, in source pixels, by drive frame.
struct LabelBox {
  int64_t frame = 0;
  double x = 0, y = 0, w = 0, h = 0;
  double score = 0;
  bool predicted = false;  // the tracker's guess while the object was hidden
};

struct LabelTrack {
  int track_no = 0;
  std::string label;
  std::vector<LabelBox> boxes;  // ascending frames
  bool operator_added = false;  // drawn by an operator at review (its boxes are keys), not detected
};

struct PackageKeyframe {
  int64_t frame = 0;  // drive frame
  std::filesystem::path image;
};

// Seconds an annotator spends, per unit (docs/CLIPS.md: effort).
struct EffortConfig {
  double watch_passes = 2.0;     // times the clip is watched at real time
  double per_track_s = 20.0;     // set up and check one object's identity
  double per_box_s = 2.0;        // check or fix one pre-labelled box at a detector frame
  double per_keyframe_s = 30.0;  // label one keyframe image (COCO)
  double per_missed_box_s = 7.0;  // draw one box the labels lack, at a detector frame (docs/CLIPS.md: why 7)
  // What the labels are expected to miss: the share of visible objects'
  // boxes they hold (recall), by where they came from, and the share of their
  // boxes that are objects (precision). docs/CLIPS.md says where each is from.
  double recall_live = 0.35;
  double recall_redetected = 0.6;
  double precision = 0.8;
};

struct Effort {
  int64_t boxes_to_check = 0;
  int64_t tracks = 0;
  int64_t keyframes = 0;
  double video_s = 0;
  double recall = 1;              // the expected recall the misses below assume
  double missed_boxes = 0;        // expected boxes to draw: boxes_to_check * precision * (1 - recall) / recall
  double missed_tracks = 0;       // expected objects with no track, the same way
  double minutes = 0;
};

struct PackageInput {
  std::string id;
  int64_t drive_id = 0;
  std::string vehicle;
  std::string camera;
  std::string source;
  std::string utc_start;  // "" when the source has no wall-clock time
  double fps = 0;
  int width = 0;
  int height = 0;
  std::string codec;
  std::vector<int64_t> clip_frames;  // the drive frame of each clip frame, in order (from the cut)
  std::vector<LabelTrack> tracks;
  std::vector<PackageKeyframe> keyframes;
  std::vector<std::string> labels;  // the label set (the detector's classes), besides those in tracks
  std::string detector;
  // "live": the tracks the drive's analysis made; "redetected": the clip's
  // frames detected and tracked again with the pre-label setting.
  std::string labels_from = "live";
  std::string detector_scores;  // what the boxes' scores mean (vision::score_scale_of)
  std::string tracker;
  nlohmann::json prelabel;  // "redetected": the pass's detector setting and tracker settings; null: live
  nlohmann::json plan;  // why the clip exists and its priority
  EffortConfig effort;
  nlohmann::json review;  // an operator's edits (who, when, what); null: none
  nlohmann::json privacy;  // what was redacted, how, by what (privacy::Redactor::manifest); null: nothing
};

struct PackageFile {
  std::string path;  // relative to the package
  int64_t bytes = 0;
  std::string sha256;
};

struct PackageResult {
  Effort effort;
  std::vector<PackageFile> files;
  nlohmann::json manifest;
};

// `labels_from`: "live" or "redetected", which picks the expected recall.
Effort estimate_effort(int64_t boxes_to_check, int64_t tracks, int64_t keyframes, double video_s,
                       const std::string& labels_from, const EffortConfig& config);

// `dir` holds clip.mp4; writes keyframes/, labels/ and manifest.json.
Result<PackageResult> write_package(const PackageInput& input, const std::filesystem::path& dir);

// A written package read back as the input that wrote it, but for its
// tracks (left empty: what a new pre-label pass replaces); its keyframes are
// the package's own images. The label set is the manifest's.
Result<PackageInput> read_package_input(const std::filesystem::path& dir);

// The class ids of a package's MOT file, numbered the MOTChallenge way so
// that MOTChallenge's tools (TrackEval, its evaluation kit: class 1 is a
// pedestrian, 3 a car) and CVAT's MOT 1.1 importer (which reads names through
// labels.txt) both read every box as its class: person/pedestrian 1, person
// on vehicle 2, car 3, bicycle 4, motorcycle/motorbike 5, non-motorized
// vehicle 6, static person 7; any other class from 13 on, in name order.
// names[i] is id i + 1's line in labels.txt: an id no label uses keeps
// MOTChallenge's name for it.
struct MotClasses {
  std::vector<std::string> names;
  std::map<std::string, int> id;
};
MotClasses mot_classes(const std::vector<std::string>& labels);

// The Label Studio labeling config that imports labelstudio.json as written:
// <Video framerate> = the clip's fps, <VideoRectangle name="box">, the labels.
std::string labelstudio_config(double fps, const std::vector<std::string>& labels);

// Where a redacted package's original clip stays on the box: beside the
// package, never in it (every file in a package is listed and uploaded).
inline std::filesystem::path original_clip_of(const std::filesystem::path& package_dir) {
  return package_dir.parent_path() / (package_dir.filename().string() + ".original.mp4");
}

// Where the box keeps a package's pre-label pass tracks (on drive frames), so
// that an operator's edit rebuilds the package without running the pass
// again: beside the package, never in it.
inline std::filesystem::path prelabel_cache_of(const std::filesystem::path& package_dir) {
  return package_dir.parent_path() / (package_dir.filename().string() + ".prelabel.json");
}

// A package whose redaction waits for its pre-label pass (the redactor uses
// the pass's detections: one detection pass per clip) has a manifest
// `privacy` of {"pending": true, ...}: its files are unredacted, so they are
// never served, reviewed or uploaded until the pass has redacted them.
inline bool privacy_pending(const nlohmann::json& privacy) {
  return privacy.is_object() && privacy.value("pending", false);
}

// Where a running pre-label pass keeps the detector steps it has made (one
// JSON line each), so that a stopped pass resumes where it stopped: beside
// the package, never in it; gone once the pass ends.
inline std::filesystem::path pass_steps_of(const std::filesystem::path& package_dir) {
  return package_dir.parent_path() / (package_dir.filename().string() + ".pass-steps.jsonl");
}

// sha256 of a file, of `bytes` of it from `offset` (-1: to the end), or of a
// string; lowercase hex.
Result<std::string> sha256_file(const std::filesystem::path& file);
Result<std::string> sha256_range(const std::filesystem::path& file, int64_t offset, int64_t bytes);
std::string sha256_bytes(const std::string& bytes);

// Checks a package: manifest present and parsable, every listed file there
// with its size and sha256. Names the first file that differs.
Status verify_package(const std::filesystem::path& dir);

}  // namespace dashloop::pipeline::clips
