// What the catalog's source files share: the SQL column lists, reading a
// row into its record, and the one database handle (Catalog::Impl). Not the
// contract (catalog.hpp is); only firmware/catalog/*.cpp include it.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/sqlite.hpp"

namespace dashloop::firmware::catalog {

inline constexpr const char* kClipColumns =
    "id, uid, drive_id, state, state_reason, planned_start, planned_end, start_frame, end_frame, start_s, end_s, "
    "priority, priority_parts, reasons, package_dir, frames, bytes, effort_minutes, purged, created_utc, updated_utc, "
    "classes, edits, (SELECT camera FROM drives WHERE drives.id = clips.drive_id)";
inline constexpr const char* kSegmentColumns =
    "id, drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames, first_pts, duration_s, fps, "
    "codec, bytes, reason";

inline constexpr const char* kInsertDrive =
    "INSERT INTO drives (source, vehicle, camera, mode, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped, fingerprint) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12, ?13, ?14)";
inline constexpr const char* kInsertTrack =
    "INSERT INTO tracks (drive_id, track_no, label, first_frame, last_frame, first_s, last_s, detections, "
    "mean_score, class_votes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
inline constexpr const char* kInsertBox =
    "INSERT INTO track_boxes (track_id, frame, x, y, w, h, score, predicted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr const char* kInsertEvent =
    "INSERT INTO track_events (drive_id, frame, t_s, kind, track_no, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kSelectTracks =
    "SELECT id, drive_id, track_no, label, first_frame, last_frame, first_s, last_s, detections, mean_score, "
    "class_votes FROM tracks WHERE drive_id = ?1 ORDER BY track_no";
inline constexpr const char* kSelectBoxes =
    "SELECT frame, x, y, w, h, score, predicted FROM track_boxes WHERE track_id = ?1 ORDER BY frame";
inline constexpr const char* kSelectEvents =
    "SELECT drive_id, frame, t_s, kind, track_no, label FROM track_events WHERE drive_id = ?1 ORDER BY frame, id";
inline constexpr const char* kSetKeyframeDir = "UPDATE drives SET keyframe_dir = ?2 WHERE id = ?1";
inline constexpr const char* kInsertKeyframe =
    "INSERT INTO keyframes (drive_id, frame_index, t_s, reason, trigger_index, change, content, sharpness, "
    "brightness, quality, dhash, image_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
inline constexpr const char* kDriveColumns =
    "id, source, vehicle, camera, mode, ingested_utc, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped, fingerprint";
inline constexpr const char* kSelectKeyframes =
    "SELECT id, drive_id, frame_index, t_s, reason, trigger_index, change, content, sharpness, brightness, quality, "
    "dhash, image_path FROM keyframes WHERE drive_id = ?1 ORDER BY frame_index";

inline Result<int64_t> pragma_int(sqlite3* db, const char* pragma) {
  Statement s(db, pragma);
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  return row ? s.column_int(0) : int64_t{0};
}

inline DriveRecord read_drive(const Statement& s) {
  DriveRecord d;
  d.id = s.column_int(0);
  d.source = s.column_text(1);
  d.vehicle = s.column_text(2);
  d.camera = s.column_text(3);
  d.mode = s.column_text(4);
  d.ingested_utc = s.column_text(5);
  d.width = int(s.column_int(6));
  d.height = int(s.column_int(7));
  d.fps = s.column_double(8);
  d.frames = s.column_int(9);
  d.duration_s = s.column_double(10);
  d.elapsed_s = s.column_double(11);
  d.keyframe_dir = s.column_text(12);
  d.detector = s.column_text(13);
  d.detected_frames = s.column_int(14);
  d.detection_skipped = s.column_int(15);
  d.fingerprint = s.column_text(16);
  return d;
}

inline ClipRecord read_clip(const Statement& s) {
  ClipRecord c;
  c.id = s.column_int(0);
  c.uid = s.column_text(1);
  c.drive_id = s.column_int(2);
  c.state = s.column_text(3);
  c.state_reason = s.column_text(4);
  c.planned_start = s.column_int(5);
  c.planned_end = s.column_int(6);
  c.start_frame = s.column_int(7);
  c.end_frame = s.column_int(8);
  c.start_s = s.column_double(9);
  c.end_s = s.column_double(10);
  c.priority = s.column_double(11);
  c.priority_parts = s.column_text(12);
  c.reasons = s.column_text(13);
  c.package_dir = s.column_text(14);
  c.frames = s.column_int(15);
  c.bytes = s.column_int(16);
  c.effort_minutes = s.column_double(17);
  c.purged = s.column_int(18) != 0;
  c.created_utc = s.column_text(19);
  c.updated_utc = s.column_text(20);
  c.classes = s.column_text(21);
  c.edits = s.column_text(22);
  c.camera = s.column_text(23);
  return c;
}

// Every row a bound statement selects, each read by `read`.
template <typename T, typename Read>
Result<std::vector<T>> rows(Statement& s, Read read) {
  std::vector<T> out;
  while (s.step()) out.push_back(read(s));
  if (!s.status().ok()) return s.status();
  return out;
}

// The one row a bound statement selects, if any, read by `read`.
template <typename T, typename Read>
Result<std::optional<T>> one_row(Statement& s, Read read) {
  std::optional<T> out;
  if (s.step()) out = read(s);
  if (!s.status().ok()) return s.status();
  return out;
}

inline Result<std::optional<ClipRecord>> one_clip(Statement& s) { return one_row<ClipRecord>(s, read_clip); }

inline SegmentRecord read_segment(const Statement& s) {
  SegmentRecord g;
  g.id = s.column_int(0);
  g.drive_id = s.column_is_null(1) ? 0 : s.column_int(1);
  g.camera = s.column_text(2);
  g.path = s.column_text(3);
  g.owned = s.column_int(4) != 0;
  g.state = s.column_text(5);
  g.start_utc = s.column_text(6);
  g.end_utc = s.column_text(7);
  g.first_frame = s.column_int(8);
  g.frames = s.column_int(9);
  g.first_pts = s.column_int(10);
  g.duration_s = s.column_double(11);
  g.fps = s.column_double(12);
  g.codec = s.column_text(13);
  g.bytes = s.column_int(14);
  g.reason = s.column_text(15);
  return g;
}

inline Status insert_segment_keyframes(sqlite3* db, int64_t segment_id, const std::vector<SegmentKeyframe>& keyframes) {
  Statement del(db, "DELETE FROM segment_keyframes WHERE segment_id = ?1");
  del.bind(1, segment_id).step();
  if (!del.status().ok()) return del.status();
  Statement ins(db, "INSERT OR REPLACE INTO segment_keyframes (segment_id, frame, pts) VALUES (?1, ?2, ?3)");
  for (const auto& k : keyframes) {
    ins.reset();
    ins.bind(1, segment_id).bind(2, k.frame).bind(3, k.pts).step();
    if (!ins.status().ok()) return ins.status();
  }
  return Status::Ok();
}

inline Status insert_audit(sqlite3* db, int64_t clip_id, const std::string& from, const std::string& to,
                    const std::string& actor, const std::string& reason) {
  Statement a(db, "INSERT INTO clip_audit (clip_id, from_state, to_state, actor, reason) VALUES (?1, ?2, ?3, ?4, ?5)");
  a.bind(1, clip_id).bind(2, from).bind(3, to).bind(4, actor).bind(5, reason).step();
  return a.status();
}


struct Catalog::Impl {
  std::filesystem::path file;
  DbPtr db;
  int version = 0;

  Status refuse(const std::string& why) const {
    return Status::Corruption(file.string() + ": " + why + "; refusing to touch it (move it aside to start anew)");
  }

  // SQLite could not read or write the catalog (`failed`, as sqlite_error
  // made it). Only a file that is not a database, or a corrupt one, is
  // refused as such; a full, read-only or foreign-owned disk holds a sound
  // catalog, and the operator is told which and what to do.
  Status cannot_use(const Status& failed) const {
    if (failed.kind() == Status::Kind::kCorruption) return refuse("not a Dashloop catalog (" + failed.message() + ")");
    const std::string detail = " (" + failed.message() + ")";
    const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    struct statvfs fs {};
    const bool measured = statvfs(dir.c_str(), &fs) == 0;
    if (measured && (fs.f_flag & ST_RDONLY))
      return Status::IOError(file.string() + ": the filesystem holding it is read-only" + detail +
                             "; remount it read-write (the catalog is not damaged)");
    struct stat st {};
    const bool exists = ::stat(file.c_str(), &st) == 0;
    if (::access(dir.c_str(), W_OK) != 0 || (exists && ::access(file.c_str(), R_OK | W_OK) != 0)) {
      struct stat ds {};
      const uid_t owner = exists ? st.st_uid : (::stat(dir.c_str(), &ds) == 0 ? ds.st_uid : uid_t(-1));
      return Status::IOError(file.string() + ": not writable by this process (uid " + std::to_string(::geteuid()) +
                             "; owner uid " + std::to_string(owner) + ")" + detail +
                             "; give the data directory and its files to the user the station runs as (chown -R)");
    }
    if (measured && uint64_t(fs.f_bavail) * fs.f_frsize < kFullBelowBytes)
      return Status::Unavailable(file.string() + ": the disk holding it is full" + detail +
                                 "; free space on it (the catalog is not damaged)");
    return Status::IOError(file.string() + ": cannot be read or written" + detail + "; check the disk (dmesg)");
  }

  static constexpr uint64_t kFullBelowBytes = 1 << 20;
};

}  // namespace dashloop::firmware::catalog
