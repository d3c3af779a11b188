// Catalog: the station's SQLite file (WAL, foreign keys, busy timeout),
// schema versioned by migrations in PRAGMA user_version and marked with its
// own application_id. All SQL lives in this module.
//
// A file that is not a SQLite database, fails its integrity check, belongs
// to another application or comes from a newer Dashloop is refused with a
// Corruption/InvalidArgument status: never recreated over user data.
// One Catalog per thread; several processes may open the same file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::firmware::catalog {

struct DriveRecord {
  int64_t id = 0;
  std::string source;        // path or URI as given
  std::string vehicle;
  std::string camera;
  std::string mode;          // full | triage
  std::string ingested_utc;  // ISO 8601, set by the catalog
  int width = 0;
  int height = 0;
  double fps = 0.0;
  int64_t frames = 0;
  double duration_s = 0.0;
  double elapsed_s = 0.0;
  std::string keyframe_dir;
  std::string detector;           // "" when no detector ran, else its description
  int64_t detected_frames = 0;    // frames the detector saw
  int64_t detection_skipped = 0;  // frames due for detection that a live source could not wait for
};

struct KeyframeRecord {
  int64_t id = 0;
  int64_t drive_id = 0;
  int64_t frame_index = 0;
  double t_s = 0.0;
  std::string reason;
  int64_t trigger_index = 0;
  double change = 0.0;
  double content = 0.0;
  double sharpness = 0.0;
  double brightness = 0.0;
  double quality = 0.0;
  std::string dhash;  // 16 hex digits
  std::string image_path;
};

// One box of a track, in source-frame pixels.
struct TrackBoxRecord {
  int64_t frame = 0;
  double x = 0, y = 0, w = 0, h = 0;
  double score = 0;
  bool predicted = false;  // no detection: the tracker's prediction (occluded span)
};

struct TrackRecord {
  int64_t id = 0;
  int64_t drive_id = 0;
  int track_no = 0;  // the tracker's id, stable within the drive
  std::string label;
  int64_t first_frame = 0;
  int64_t last_frame = 0;
  double first_s = 0, last_s = 0;
  int64_t detections = 0;
  double mean_score = 0;
  std::string class_votes;  // JSON object: label -> detections
  std::vector<TrackBoxRecord> boxes;  // filled by add_drive's caller, and by track_boxes()
};

struct TrackEventRecord {
  int64_t drive_id = 0;
  int64_t frame = 0;
  double t_s = 0;
  std::string kind;  // track.started | track.ended | class.seen
  int track_no = 0;
  std::string label;
};

struct DriveObjects {
  std::vector<TrackRecord> tracks;
  std::vector<TrackEventRecord> events;
};

class Catalog {
 public:
  static constexpr int kSchemaVersion = 2;

  static Result<std::unique_ptr<Catalog>> open(const std::filesystem::path& file);
  ~Catalog();

  int schema_version() const;

  // Stores a drive with its keyframes, tracks (with their boxes) and events
  // in one transaction; returns its id.
  // `before_commit` runs inside the transaction with the new id (moving
  // files into place); when it fails, nothing is stored.
  using BeforeCommit = std::function<Status(int64_t drive_id, DriveRecord&, std::vector<KeyframeRecord>&)>;
  Result<int64_t> add_drive(DriveRecord drive, std::vector<KeyframeRecord> keyframes, const DriveObjects& objects = {},
                            const BeforeCommit& before_commit = {});

  Result<std::vector<DriveRecord>> drives();
  Result<std::vector<KeyframeRecord>> keyframes(int64_t drive_id);
  // A drive's tracks without their boxes, by track_no.
  Result<std::vector<TrackRecord>> tracks(int64_t drive_id);
  Result<std::vector<TrackBoxRecord>> track_boxes(int64_t track_id);
  Result<std::vector<TrackEventRecord>> track_events(int64_t drive_id);
  Status integrity_check();

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::firmware::catalog
