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

class Catalog {
 public:
  static constexpr int kSchemaVersion = 1;

  static Result<std::unique_ptr<Catalog>> open(const std::filesystem::path& file);
  ~Catalog();

  int schema_version() const;

  // Stores a drive with its keyframes in one transaction; returns its id.
  // `before_commit` runs inside the transaction with the new id (moving
  // files into place); when it fails, nothing is stored.
  using BeforeCommit = std::function<Status(int64_t drive_id, DriveRecord&, std::vector<KeyframeRecord>&)>;
  Result<int64_t> add_drive(DriveRecord drive, std::vector<KeyframeRecord> keyframes,
                            const BeforeCommit& before_commit = {});

  Result<std::vector<DriveRecord>> drives();
  Result<std::vector<KeyframeRecord>> keyframes(int64_t drive_id);
  Status integrity_check();

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::firmware::catalog
