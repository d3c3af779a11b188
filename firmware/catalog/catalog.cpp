#include "catalog/catalog.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "catalog/sqlite.hpp"

namespace dashloop::firmware::catalog {
namespace {

constexpr int64_t kApplicationId = 0x444C4F50;  // "DLOP"

// Migration N takes the schema from version N to N+1. Append, never edit.
constexpr std::array kMigrations = {
    R"sql(
CREATE TABLE drives (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  vehicle TEXT NOT NULL,
  camera TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('full', 'triage')),
  ingested_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  fps REAL NOT NULL,
  frames INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  elapsed_s REAL NOT NULL,
  keyframe_dir TEXT NOT NULL
);
CREATE TABLE keyframes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER NOT NULL REFERENCES drives(id) ON DELETE CASCADE,
  frame_index INTEGER NOT NULL,
  t_s REAL NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('start', 'cut', 'dissolve', 'interval')),
  trigger_index INTEGER NOT NULL,
  change REAL NOT NULL,
  content REAL NOT NULL,
  sharpness REAL NOT NULL,
  brightness REAL NOT NULL,
  quality REAL NOT NULL,
  dhash TEXT NOT NULL,
  image_path TEXT NOT NULL,
  UNIQUE (drive_id, frame_index)
);
CREATE INDEX keyframes_by_drive ON keyframes(drive_id, t_s);
)sql",
    R"sql(
ALTER TABLE drives ADD COLUMN detector TEXT NOT NULL DEFAULT '';
ALTER TABLE drives ADD COLUMN detected_frames INTEGER NOT NULL DEFAULT 0;
ALTER TABLE drives ADD COLUMN detection_skipped INTEGER NOT NULL DEFAULT 0;
CREATE TABLE tracks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER NOT NULL REFERENCES drives(id) ON DELETE CASCADE,
  track_no INTEGER NOT NULL,
  label TEXT NOT NULL,
  first_frame INTEGER NOT NULL,
  last_frame INTEGER NOT NULL,
  first_s REAL NOT NULL,
  last_s REAL NOT NULL,
  detections INTEGER NOT NULL,
  mean_score REAL NOT NULL,
  class_votes TEXT NOT NULL,
  UNIQUE (drive_id, track_no),
  CHECK (last_frame >= first_frame)
);
CREATE TABLE track_boxes (
  track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  frame INTEGER NOT NULL,
  x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
  score REAL NOT NULL,
  predicted INTEGER NOT NULL CHECK (predicted IN (0, 1)),
  PRIMARY KEY (track_id, frame)
) WITHOUT ROWID;
CREATE TABLE track_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER NOT NULL REFERENCES drives(id) ON DELETE CASCADE,
  frame INTEGER NOT NULL,
  t_s REAL NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('track.started', 'track.ended', 'class.seen')),
  track_no INTEGER NOT NULL,
  label TEXT NOT NULL
);
CREATE INDEX tracks_by_drive ON tracks(drive_id, first_frame);
CREATE INDEX track_events_by_drive ON track_events(drive_id, frame);
)sql",
    R"sql(
CREATE TABLE segments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER REFERENCES drives(id) ON DELETE SET NULL,
  camera TEXT NOT NULL,
  path TEXT NOT NULL,
  owned INTEGER NOT NULL CHECK (owned IN (0, 1)),
  state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'deleted')),
  start_utc TEXT NOT NULL,
  end_utc TEXT NOT NULL,
  first_frame INTEGER NOT NULL,
  frames INTEGER NOT NULL,
  first_pts INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  fps REAL NOT NULL,
  codec TEXT NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE INDEX segments_by_drive ON segments(drive_id, first_frame);
CREATE INDEX segments_by_camera ON segments(camera, id);
CREATE TABLE segment_keyframes (
  segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  frame INTEGER NOT NULL,
  pts INTEGER NOT NULL,
  PRIMARY KEY (segment_id, frame)
) WITHOUT ROWID;
CREATE TABLE triggers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER NOT NULL REFERENCES drives(id) ON DELETE CASCADE,
  frame INTEGER NOT NULL,
  t_s REAL NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('trigger', 'mark')),
  note TEXT NOT NULL,
  created_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE clips (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid TEXT UNIQUE,
  drive_id INTEGER NOT NULL REFERENCES drives(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('planned', 'packaged', 'review', 'approved', 'rejected', 'uploading',
                                       'uploaded', 'acked', 'failed')),
  state_reason TEXT NOT NULL DEFAULT '',
  planned_start INTEGER NOT NULL,
  planned_end INTEGER NOT NULL,
  start_frame INTEGER NOT NULL,
  end_frame INTEGER NOT NULL,
  start_s REAL NOT NULL,
  end_s REAL NOT NULL,
  priority REAL NOT NULL,
  priority_parts TEXT NOT NULL,
  reasons TEXT NOT NULL,
  package_dir TEXT NOT NULL DEFAULT '',
  frames INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  effort_minutes REAL NOT NULL DEFAULT 0,
  purged INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1)),
  created_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CHECK (end_frame > start_frame)
);
CREATE INDEX clips_by_state ON clips(state, priority DESC);
CREATE INDEX clips_by_drive ON clips(drive_id, start_frame);
CREATE TABLE clip_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
  at_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX clip_audit_by_clip ON clip_audit(clip_id, id);
)sql",
    // Sync: what of a package is already in the object store, so a restart
    // (or a kill -9) resumes without re-sending finished parts.
    R"sql(
CREATE TABLE upload_files (
  clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  object_key TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  upload_id TEXT NOT NULL DEFAULT '',
  done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
  PRIMARY KEY (clip_id, path)
) WITHOUT ROWID;
CREATE TABLE upload_parts (
  clip_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  part_no INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  etag TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (clip_id, path, part_no),
  FOREIGN KEY (clip_id, path) REFERENCES upload_files(clip_id, path) ON DELETE CASCADE
) WITHOUT ROWID;
)sql",
    // The depot UI: a package's classes and an operator's edits on the
    // clip; its operators and readers (docs/UI.md).
    R"sql(
ALTER TABLE clips ADD COLUMN classes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clips ADD COLUMN edits TEXT NOT NULL DEFAULT '{}';
UPDATE clips SET classes = (SELECT json_group_array(label) FROM (SELECT DISTINCT t.label FROM tracks t
  WHERE t.drive_id = clips.drive_id AND t.last_frame >= clips.start_frame AND t.first_frame < clips.end_frame
  ORDER BY t.label));
CREATE INDEX clips_by_id_state ON clips(state, id DESC);
CREATE INDEX clips_queue ON clips(state, priority DESC, id DESC);
CREATE TABLE operators (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('operator', 'reader')),
  secret_hash TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until_utc TEXT NOT NULL DEFAULT '',
  created_utc TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;
)sql",
    // The station: where a camera's recording has a hole (lost, rebuilt).
    R"sql(
CREATE TABLE camera_gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera TEXT NOT NULL,
  start_utc TEXT NOT NULL,
  end_utc TEXT NOT NULL,
  reason TEXT NOT NULL,
  CHECK (end_utc >= start_utc)
);
CREATE INDEX camera_gaps_by_camera ON camera_gaps(camera, start_utc);
)sql",
    // A segment that could not be read when it was closed is kept, never
    // deleted for it: 'unreadable' with the reason, retried, aged out by
    // retention like any other. SQLite cannot change a CHECK in place, so
    // the table is made anew (its migration runs with foreign keys off).
    R"sql(
CREATE TABLE segments_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drive_id INTEGER REFERENCES drives(id) ON DELETE SET NULL,
  camera TEXT NOT NULL,
  path TEXT NOT NULL,
  owned INTEGER NOT NULL CHECK (owned IN (0, 1)),
  state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'unreadable', 'deleted')),
  start_utc TEXT NOT NULL,
  end_utc TEXT NOT NULL,
  first_frame INTEGER NOT NULL,
  frames INTEGER NOT NULL,
  first_pts INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  fps REAL NOT NULL,
  codec TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT ''
);
INSERT INTO segments_new (id, drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames, first_pts,
  duration_s, fps, codec, bytes)
  SELECT id, drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames, first_pts, duration_s, fps,
  codec, bytes FROM segments;
DROP TABLE segments;
ALTER TABLE segments_new RENAME TO segments;
CREATE INDEX segments_by_drive ON segments(drive_id, first_frame);
CREATE INDEX segments_by_camera ON segments(camera, id);
)sql",
    // A file ingested once is known again by its fingerprint (size and the
    // sha256 of its first and last MiB): no second drive of it, unless asked.
    R"sql(
ALTER TABLE drives ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX drives_by_fingerprint ON drives(fingerprint) WHERE fingerprint != '';
)sql",
    // An operator made with a one-time password (the demo's, user add
    // --one-time) must replace it at the first login.
    R"sql(
ALTER TABLE operators ADD COLUMN one_time INTEGER NOT NULL DEFAULT 0 CHECK (one_time IN (0, 1));
)sql",
    // A reader's scope: `read` lists and downloads; `ack` may also mark a
    // package pulled, which lets retention delete it first. Readers made
    // before scopes could ack, and keep that.
    R"sql(
ALTER TABLE operators ADD COLUMN scope TEXT NOT NULL DEFAULT 'ack' CHECK (scope IN ('read', 'ack'));
)sql",
};
static_assert(kMigrations.size() == Catalog::kSchemaVersion, "a migration and the schema version go together");

// The queue's legal moves (from, to).
constexpr std::pair<const char*, const char*> kClipMoves[] = {
    {"planned", "packaged"},     {"planned", "failed"},    {"packaged", "review"},   {"packaged", "failed"},
    {"review", "approved"},      {"review", "rejected"},   {"approved", "uploading"}, {"approved", "review"},
    {"review", "failed"},        {"approved", "failed"},  // the package was lost (retention past the hard limit)
    {"rejected", "review"},      {"uploading", "uploaded"}, {"uploading", "failed"},  {"uploaded", "acked"},
    {"failed", "planned"},
    {"uploaded", "approved"},  // the cloud's ack says a file arrived damaged: upload again
    {"failed", "approved"},    // an operator retries an upload that failed (credentials fixed)
    {"review", "review"},      // an operator's edit rebuilt the package
};

constexpr const char* kClipColumns =
    "id, uid, drive_id, state, state_reason, planned_start, planned_end, start_frame, end_frame, start_s, end_s, "
    "priority, priority_parts, reasons, package_dir, frames, bytes, effort_minutes, purged, created_utc, updated_utc, "
    "classes, edits, (SELECT camera FROM drives WHERE drives.id = clips.drive_id)";
constexpr const char* kSegmentColumns =
    "id, drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames, first_pts, duration_s, fps, "
    "codec, bytes, reason";

constexpr const char* kInsertDrive =
    "INSERT INTO drives (source, vehicle, camera, mode, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped, fingerprint) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12, ?13, ?14)";
constexpr const char* kInsertTrack =
    "INSERT INTO tracks (drive_id, track_no, label, first_frame, last_frame, first_s, last_s, detections, "
    "mean_score, class_votes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* kInsertBox =
    "INSERT INTO track_boxes (track_id, frame, x, y, w, h, score, predicted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kInsertEvent =
    "INSERT INTO track_events (drive_id, frame, t_s, kind, track_no, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kSelectTracks =
    "SELECT id, drive_id, track_no, label, first_frame, last_frame, first_s, last_s, detections, mean_score, "
    "class_votes FROM tracks WHERE drive_id = ?1 ORDER BY track_no";
constexpr const char* kSelectBoxes =
    "SELECT frame, x, y, w, h, score, predicted FROM track_boxes WHERE track_id = ?1 ORDER BY frame";
constexpr const char* kSelectEvents =
    "SELECT drive_id, frame, t_s, kind, track_no, label FROM track_events WHERE drive_id = ?1 ORDER BY frame, id";
constexpr const char* kSetKeyframeDir = "UPDATE drives SET keyframe_dir = ?2 WHERE id = ?1";
constexpr const char* kInsertKeyframe =
    "INSERT INTO keyframes (drive_id, frame_index, t_s, reason, trigger_index, change, content, sharpness, "
    "brightness, quality, dhash, image_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* kDriveColumns =
    "id, source, vehicle, camera, mode, ingested_utc, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped, fingerprint";
constexpr const char* kSelectKeyframes =
    "SELECT id, drive_id, frame_index, t_s, reason, trigger_index, change, content, sharpness, brightness, quality, "
    "dhash, image_path FROM keyframes WHERE drive_id = ?1 ORDER BY frame_index";

Result<int64_t> pragma_int(sqlite3* db, const char* pragma) {
  Statement s(db, pragma);
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  return row ? s.column_int(0) : int64_t{0};
}

DriveRecord read_drive(const Statement& s) {
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

ClipRecord read_clip(const Statement& s) {
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

Result<std::optional<ClipRecord>> one_clip(Statement& s) { return one_row<ClipRecord>(s, read_clip); }

SegmentRecord read_segment(const Statement& s) {
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

Status insert_segment_keyframes(sqlite3* db, int64_t segment_id, const std::vector<SegmentKeyframe>& keyframes) {
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

Status insert_audit(sqlite3* db, int64_t clip_id, const std::string& from, const std::string& to,
                    const std::string& actor, const std::string& reason) {
  Statement a(db, "INSERT INTO clip_audit (clip_id, from_state, to_state, actor, reason) VALUES (?1, ?2, ?3, ?4, ?5)");
  a.bind(1, clip_id).bind(2, from).bind(3, to).bind(4, actor).bind(5, reason).step();
  return a.status();
}

}  // namespace

bool clip_move_allowed(const std::string& from, const std::string& to) {
  for (const auto& [f, t] : kClipMoves)
    if (from == f && to == t) return true;
  return false;
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

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::~Catalog() = default;
int Catalog::schema_version() const { return impl_->version; }

Result<std::unique_ptr<Catalog>> Catalog::open(const std::filesystem::path& file) {
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return impl->cannot_use(Status::IOError(std::string("cannot open: ") + sqlite3_errstr(rc)));
  sqlite3* db = impl->db.get();
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);

  // Reading the header is what tells a database from a random file.
  // Both from one snapshot: a catalog another process is creating has its
  // tables and its id in one transaction, never one without the other.
  int64_t app_id = 0, tables = 0;
  {
    Statement header(db,
                     "SELECT (SELECT application_id FROM pragma_application_id()), (SELECT count(*) FROM sqlite_schema)");
    const bool row = header.step();
    if (!header.status().ok()) return impl->cannot_use(header.status());
    if (!row) return impl->refuse("not a Dashloop catalog");
    app_id = header.column_int(0);
    tables = header.column_int(1);
  }
  if (app_id != kApplicationId && (app_id != 0 || tables != 0))
    return impl->refuse("a SQLite database of another application");

  {
    Statement check(db, "PRAGMA quick_check");
    const bool row = check.step();
    if (!check.status().ok()) return impl->cannot_use(check.status());
    if (!row || check.column_text(0) != "ok") return impl->refuse("integrity check failed: " + check.column_text(0));
  }
  // Turning a new file to WAL needs it alone, and SQLite answers "locked"
  // at once, without its busy handler, while another process reads it:
  // tried again for up to the busy timeout.
  for (int attempt = 0;; ++attempt) {
    Status st = exec(db, "PRAGMA journal_mode=WAL");
    if (st.ok()) break;
    if ((sqlite3_errcode(db) & 0xff) != SQLITE_BUSY || attempt >= 100) return impl->cannot_use(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Foreign keys are off while migrating: a migration that makes a table
  // anew must not cascade its DROP into the tables that refer to it.
  if (Status st = exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"); !st.ok())
    return Status::IOError(file.string() + ": " + st.message());

  auto version = pragma_int(db, "PRAGMA user_version");
  if (!version.ok()) return impl->cannot_use(version.status());
  if (*version > kSchemaVersion)
    return Status::InvalidArgument(file.string() + ": catalog schema " + std::to_string(*version) +
                                   " is newer than this dashloop understands (" + std::to_string(kSchemaVersion) +
                                   "); upgrade dashloop");
  for (int v = int(*version); v < kSchemaVersion; ++v) {
    Transaction tx(db);
    if (!tx.status().ok()) return impl->cannot_use(tx.status());
    // Read again under the write lock: another process opening the new
    // catalog at the same moment (a station's units) may have migrated it.
    auto now = pragma_int(db, "PRAGMA user_version");
    if (!now.ok()) return Status::IOError(file.string() + ": " + now.status().message());
    if (*now > v) {
      v = int(*now) - 1;
      continue;
    }
    Status st = exec(db, kMigrations[size_t(v)]);
    if (st.ok()) st = exec(db, "PRAGMA user_version = " + std::to_string(v + 1));
    if (st.ok()) st = exec(db, "PRAGMA application_id = " + std::to_string(kApplicationId));
    if (st.ok()) st = tx.commit();
    if (!st.ok())
      return impl->cannot_use(Status::IOError("migration to schema " + std::to_string(v + 1) + " failed: " + st.message()));
  }
  if (Status st = exec(db, "PRAGMA foreign_keys=ON;"); !st.ok())
    return Status::IOError(file.string() + ": " + st.message());
  impl->version = kSchemaVersion;
  return std::unique_ptr<Catalog>(new Catalog(std::move(impl)));
}

Result<int64_t> Catalog::add_drive(DriveRecord d, std::vector<KeyframeRecord> keyframes, const DriveObjects& objects,
                                   const BeforeCommit& before_commit) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement ins(db, kInsertDrive);
  ins.bind(1, d.source).bind(2, d.vehicle).bind(3, d.camera).bind(4, d.mode).bind(5, int64_t{d.width});
  ins.bind(6, int64_t{d.height}).bind(7, d.fps).bind(8, d.frames).bind(9, d.duration_s).bind(10, d.elapsed_s);
  ins.bind(11, d.detector).bind(12, d.detected_frames).bind(13, d.detection_skipped).bind(14, d.fingerprint);
  ins.step();
  if (!ins.status().ok()) {
    if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_CONSTRAINT && !d.fingerprint.empty())
      return Status::AlreadyExists(d.source + ": this file was ingested at the same time by another process");
    return ins.status();
  }
  const int64_t id = sqlite3_last_insert_rowid(db);
  if (before_commit) {
    if (Status st = before_commit(id, d, keyframes); !st.ok()) return st;
  }
  Statement dir(db, kSetKeyframeDir);
  dir.bind(1, id).bind(2, d.keyframe_dir).step();
  if (!dir.status().ok()) return dir.status();
  Statement kf(db, kInsertKeyframe);
  for (const auto& k : keyframes) {
    kf.reset();
    kf.bind(1, id).bind(2, k.frame_index).bind(3, k.t_s).bind(4, k.reason).bind(5, k.trigger_index);
    kf.bind(6, k.change).bind(7, k.content).bind(8, k.sharpness).bind(9, k.brightness).bind(10, k.quality);
    kf.bind(11, k.dhash).bind(12, k.image_path).step();
    if (!kf.status().ok()) return kf.status();
  }
  Statement tr(db, kInsertTrack), box(db, kInsertBox);
  for (const auto& t : objects.tracks) {
    tr.reset();
    tr.bind(1, id).bind(2, int64_t{t.track_no}).bind(3, t.label).bind(4, t.first_frame).bind(5, t.last_frame);
    tr.bind(6, t.first_s).bind(7, t.last_s).bind(8, t.detections).bind(9, t.mean_score).bind(10, t.class_votes).step();
    if (!tr.status().ok()) return tr.status();
    const int64_t track_id = sqlite3_last_insert_rowid(db);
    for (const auto& b : t.boxes) {
      box.reset();
      box.bind(1, track_id).bind(2, b.frame).bind(3, b.x).bind(4, b.y).bind(5, b.w).bind(6, b.h).bind(7, b.score);
      box.bind(8, int64_t{b.predicted}).step();
      if (!box.status().ok()) return box.status();
    }
  }
  Statement ev(db, kInsertEvent);
  for (const auto& e : objects.events) {
    ev.reset();
    ev.bind(1, id).bind(2, e.frame).bind(3, e.t_s).bind(4, e.kind).bind(5, int64_t{e.track_no}).bind(6, e.label).step();
    if (!ev.status().ok()) return ev.status();
  }
  if (Status st = tx.commit(); !st.ok()) return st;
  return id;
}

Result<std::vector<DriveRecord>> Catalog::drives() {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kDriveColumns + " FROM drives ORDER BY id").c_str());
  return rows<DriveRecord>(s, read_drive);
}

Result<std::optional<DriveRecord>> Catalog::drive_with_fingerprint(const std::string& fingerprint) {
  Statement s(impl_->db.get(),
              (std::string("SELECT ") + kDriveColumns + " FROM drives WHERE fingerprint = ?1 AND fingerprint != ''").c_str());
  s.bind(1, fingerprint);
  return one_row<DriveRecord>(s, read_drive);
}

Result<std::vector<DriveRecord>> Catalog::camera_drives(const std::string& camera, int64_t before_id, int limit) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kDriveColumns +
                                " FROM drives WHERE camera = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3")
                                   .c_str());
  s.bind(1, camera).bind(2, before_id).bind(3, int64_t(limit));
  return rows<DriveRecord>(s, read_drive);
}

Result<std::optional<DriveRecord>> Catalog::drive(int64_t id) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kDriveColumns + " FROM drives WHERE id = ?1").c_str());
  s.bind(1, id);
  std::optional<DriveRecord> out;
  if (s.step()) out = read_drive(s);
  if (!s.status().ok()) return s.status();
  return out;
}

Result<std::vector<KeyframeRecord>> Catalog::keyframes(int64_t drive_id) {
  Statement s(impl_->db.get(), kSelectKeyframes);
  s.bind(1, drive_id);
  std::vector<KeyframeRecord> out;
  while (s.step()) {
    KeyframeRecord k;
    k.id = s.column_int(0);
    k.drive_id = s.column_int(1);
    k.frame_index = s.column_int(2);
    k.t_s = s.column_double(3);
    k.reason = s.column_text(4);
    k.trigger_index = s.column_int(5);
    k.change = s.column_double(6);
    k.content = s.column_double(7);
    k.sharpness = s.column_double(8);
    k.brightness = s.column_double(9);
    k.quality = s.column_double(10);
    k.dhash = s.column_text(11);
    k.image_path = s.column_text(12);
    out.push_back(std::move(k));
  }
  if (!s.status().ok()) return s.status();
  return out;
}

Result<std::vector<TrackRecord>> Catalog::tracks(int64_t drive_id) {
  Statement s(impl_->db.get(), kSelectTracks);
  s.bind(1, drive_id);
  std::vector<TrackRecord> out;
  while (s.step()) {
    TrackRecord t;
    t.id = s.column_int(0);
    t.drive_id = s.column_int(1);
    t.track_no = int(s.column_int(2));
    t.label = s.column_text(3);
    t.first_frame = s.column_int(4);
    t.last_frame = s.column_int(5);
    t.first_s = s.column_double(6);
    t.last_s = s.column_double(7);
    t.detections = s.column_int(8);
    t.mean_score = s.column_double(9);
    t.class_votes = s.column_text(10);
    out.push_back(std::move(t));
  }
  if (!s.status().ok()) return s.status();
  return out;
}

Result<std::vector<TrackBoxRecord>> Catalog::track_boxes(int64_t track_id) {
  Statement s(impl_->db.get(), kSelectBoxes);
  s.bind(1, track_id);
  return rows<TrackBoxRecord>(s, [](const Statement& s) {
    return TrackBoxRecord{s.column_int(0), s.column_double(1), s.column_double(2), s.column_double(3),
        s.column_double(4), s.column_double(5), s.column_int(6) != 0};
  });
}

Result<std::vector<TrackEventRecord>> Catalog::track_events(int64_t drive_id) {
  Statement s(impl_->db.get(), kSelectEvents);
  s.bind(1, drive_id);
  return rows<TrackEventRecord>(s, [](const Statement& s) {
    return TrackEventRecord{s.column_int(0), s.column_int(1), s.column_double(2),
        s.column_text(3), int(s.column_int(4)), s.column_text(5)};
  });
}

Status Catalog::integrity_check() {
  Statement s(impl_->db.get(), "PRAGMA integrity_check");
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  if (!row || s.column_text(0) != "ok") return Status::Corruption(impl_->file.string() + ": " + s.column_text(0));
  return Status::Ok();
}

Result<int64_t> Catalog::add_segment(const SegmentRecord& g, const std::vector<SegmentKeyframe>& keyframes) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement ins(db,
                "INSERT INTO segments (drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames, "
                "first_pts, duration_s, fps, codec, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                "?13, ?14)");
  if (g.drive_id > 0) ins.bind(1, g.drive_id);
  else ins.bind_null(1);
  ins.bind(2, g.camera).bind(3, g.path).bind(4, int64_t{g.owned}).bind(5, g.state).bind(6, g.start_utc);
  ins.bind(7, g.end_utc).bind(8, g.first_frame).bind(9, g.frames).bind(10, g.first_pts).bind(11, g.duration_s);
  ins.bind(12, g.fps).bind(13, g.codec).bind(14, g.bytes).step();
  if (!ins.status().ok()) return ins.status();
  const int64_t id = sqlite3_last_insert_rowid(db);
  if (Status st = insert_segment_keyframes(db, id, keyframes); !st.ok()) return st;
  if (Status st = tx.commit(); !st.ok()) return st;
  return id;
}

Status Catalog::close_segment(const SegmentRecord& g, const std::vector<SegmentKeyframe>& keyframes) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement up(db,
               "UPDATE segments SET state = 'closed', end_utc = ?2, frames = ?3, first_pts = ?4, duration_s = ?5, "
               "fps = ?6, codec = ?7, bytes = ?8, first_frame = ?9, reason = '' WHERE id = ?1 AND state IN ('open', "
               "'unreadable')");
  up.bind(1, g.id).bind(2, g.end_utc).bind(3, g.frames).bind(4, g.first_pts).bind(5, g.duration_s).bind(6, g.fps);
  up.bind(7, g.codec).bind(8, g.bytes).bind(9, g.first_frame).step();
  if (!up.status().ok()) return up.status();
  // Only an open or unreadable segment closes: one retention deleted while
  // it was being indexed again stays deleted (it came back 'closed' with its
  // file gone, found by faults.station).
  if (sqlite3_changes(db) != 1)
    return Status::NotFound("segment " + std::to_string(g.id) + " is not open in the catalog (deleted meanwhile?)");
  if (Status st = insert_segment_keyframes(db, g.id, keyframes); !st.ok()) return st;
  return tx.commit();
}

Status Catalog::mark_segment_unreadable(int64_t segment_id, const std::string& end_utc, int64_t bytes,
                                        const std::string& reason) {
  Statement up(impl_->db.get(),
               "UPDATE segments SET state = 'unreadable', end_utc = ?2, bytes = ?3, reason = ?4 WHERE id = ?1 AND state "
               "IN ('open', 'unreadable')");
  up.bind(1, segment_id).bind(2, end_utc).bind(3, bytes).bind(4, reason).step();
  return up.status();
}

Status Catalog::mark_segment_deleted(int64_t segment_id) {
  Statement up(impl_->db.get(), "UPDATE segments SET state = 'deleted' WHERE id = ?1");
  up.bind(1, segment_id).step();
  return up.status();
}

Status Catalog::attach_segments(int64_t drive_id, const std::vector<std::pair<int64_t, int64_t>>& first_frames) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement up(db, "UPDATE segments SET drive_id = ?2, first_frame = ?3 WHERE id = ?1 AND drive_id IS NULL");
  for (const auto& [id, first] : first_frames) {
    up.reset();
    up.bind(1, id).bind(2, drive_id).bind(3, first).step();
    if (!up.status().ok()) return up.status();
    if (sqlite3_changes(db) != 1)
      return Status::InvalidArgument("segment " + std::to_string(id) + " is missing or already part of a drive");
  }
  return tx.commit();
}

Result<std::vector<SegmentRecord>> Catalog::segments(int64_t drive_id, const std::string& camera) {
  std::string sql = std::string("SELECT ") + kSegmentColumns + " FROM segments";
  if (drive_id > 0) sql += " WHERE drive_id = ?1 ORDER BY first_frame, id";
  else if (!camera.empty()) sql += " WHERE camera = ?2 ORDER BY id";
  else sql += " ORDER BY id";
  Statement s(impl_->db.get(), sql.c_str());
  if (drive_id > 0) s.bind(1, drive_id);
  else if (!camera.empty()) s.bind(2, camera);
  return rows<SegmentRecord>(s, [](const Statement& s) { return read_segment(s); });
}

Result<std::vector<SegmentKeyframe>> Catalog::segment_keyframes(int64_t segment_id) {
  Statement s(impl_->db.get(), "SELECT frame, pts FROM segment_keyframes WHERE segment_id = ?1 ORDER BY frame");
  s.bind(1, segment_id);
  return rows<SegmentKeyframe>(s, [](const Statement& s) {
    return SegmentKeyframe{s.column_int(0), s.column_int(1)};
  });
}

Result<int64_t> Catalog::add_trigger(const TriggerRecord& t) {
  Statement s(impl_->db.get(), "INSERT INTO triggers (drive_id, frame, t_s, kind, note) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, t.drive_id).bind(2, t.frame).bind(3, t.t_s).bind(4, t.kind).bind(5, t.note).step();
  if (!s.status().ok()) return s.status();
  return int64_t(sqlite3_last_insert_rowid(impl_->db.get()));
}

Result<int64_t> Catalog::add_gap(const GapRecord& g) {
  Statement s(impl_->db.get(), "INSERT INTO camera_gaps (camera, start_utc, end_utc, reason) VALUES (?1, ?2, ?3, ?4)");
  s.bind(1, g.camera).bind(2, g.start_utc).bind(3, g.end_utc).bind(4, g.reason).step();
  if (!s.status().ok()) return s.status();
  return int64_t(sqlite3_last_insert_rowid(impl_->db.get()));
}

Result<std::vector<GapRecord>> Catalog::gaps(const std::string& camera) {
  Statement s(impl_->db.get(),
              "SELECT id, camera, start_utc, end_utc, reason FROM camera_gaps WHERE ?1 = '' OR camera = ?1 "
              "ORDER BY start_utc, id");
  s.bind(1, camera);
  return rows<GapRecord>(s, [](const Statement& s) {
    return GapRecord{s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_text(4)};
  });
}

Result<std::vector<TriggerRecord>> Catalog::triggers(int64_t drive_id) {
  Statement s(impl_->db.get(),
              "SELECT id, drive_id, frame, t_s, kind, note, created_utc FROM triggers WHERE drive_id = ?1 ORDER BY frame");
  s.bind(1, drive_id);
  return rows<TriggerRecord>(s, [](const Statement& s) {
    return TriggerRecord{s.column_int(0), s.column_int(1), s.column_int(2), s.column_double(3), s.column_text(4),
        s.column_text(5), s.column_text(6)};
  });
}

Result<std::vector<UploadFileRecord>> Catalog::upload_files(int64_t clip_id) {
  Statement s(impl_->db.get(),
              "SELECT clip_id, path, object_key, bytes, sha256, upload_id, done FROM upload_files WHERE clip_id = ?1 "
              "ORDER BY path");
  s.bind(1, clip_id);
  return rows<UploadFileRecord>(s, [](const Statement& s) {
    return UploadFileRecord{s.column_int(0), s.column_text(1), s.column_text(2), s.column_int(3), s.column_text(4),
                            s.column_text(5), s.column_int(6) != 0};
  });
}

Status Catalog::put_upload_file(const UploadFileRecord& f) {
  // Parts of another upload id are no use to this one.
  Statement drop(impl_->db.get(),
                 "DELETE FROM upload_parts WHERE clip_id = ?1 AND path = ?2 AND ?3 != "
                 "(SELECT upload_id FROM upload_files WHERE clip_id = ?1 AND path = ?2)");
  drop.bind(1, f.clip_id).bind(2, f.path).bind(3, f.upload_id).step();
  if (!drop.status().ok()) return drop.status();
  // An upsert that keeps the file's parts (REPLACE would cascade them away).
  Statement s(impl_->db.get(),
              "INSERT INTO upload_files (clip_id, path, object_key, bytes, sha256, upload_id, done) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (clip_id, path) DO UPDATE SET object_key = ?3, "
              "bytes = ?4, sha256 = ?5, upload_id = ?6, done = ?7");
  s.bind(1, f.clip_id).bind(2, f.path).bind(3, f.key).bind(4, f.bytes).bind(5, f.sha256).bind(6, f.upload_id);
  s.bind(7, int64_t(f.done ? 1 : 0)).step();
  return s.status();
}

Result<std::vector<UploadPartRecord>> Catalog::upload_parts(int64_t clip_id, const std::string& path) {
  Statement s(impl_->db.get(),
              "SELECT part_no, offset, bytes, etag, sha256 FROM upload_parts WHERE clip_id = ?1 AND path = ?2 "
              "ORDER BY part_no");
  s.bind(1, clip_id).bind(2, path);
  return rows<UploadPartRecord>(s, [](const Statement& s) {
    return UploadPartRecord{int(s.column_int(0)), s.column_int(1), s.column_int(2), s.column_text(3),
                            s.column_text(4)};
  });
}

Status Catalog::add_upload_part(int64_t clip_id, const std::string& path, const UploadPartRecord& p) {
  Statement s(impl_->db.get(),
              "INSERT OR REPLACE INTO upload_parts (clip_id, path, part_no, offset, bytes, etag, sha256) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s.bind(1, clip_id).bind(2, path).bind(3, int64_t(p.number)).bind(4, p.offset).bind(5, p.bytes).bind(6, p.etag);
  s.bind(7, p.sha256).step();
  return s.status();
}

Status Catalog::clear_upload(int64_t clip_id) {
  Statement s(impl_->db.get(), "DELETE FROM upload_files WHERE clip_id = ?1");
  s.bind(1, clip_id).step();
  return s.status();
}

Result<std::vector<std::pair<std::string, int64_t>>> Catalog::class_counts() {
  Statement s(impl_->db.get(), "SELECT label, count(*) FROM tracks GROUP BY label ORDER BY label");
  std::vector<std::pair<std::string, int64_t>> out;
  while (s.step()) out.emplace_back(s.column_text(0), s.column_int(1));
  if (!s.status().ok()) return s.status();
  return out;
}

Result<int64_t> Catalog::add_clip(ClipRecord c, const std::string& actor) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement ins(db,
                "INSERT INTO clips (drive_id, state, planned_start, planned_end, start_frame, end_frame, start_s, "
                "end_s, priority, priority_parts, reasons) VALUES (?1, 'planned', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  ins.bind(1, c.drive_id).bind(2, c.planned_start).bind(3, c.planned_end).bind(4, c.start_frame).bind(5, c.end_frame);
  ins.bind(6, c.start_s).bind(7, c.end_s).bind(8, c.priority).bind(9, c.priority_parts).bind(10, c.reasons).step();
  if (!ins.status().ok()) return ins.status();
  const int64_t id = sqlite3_last_insert_rowid(db);
  Statement uid(db, "UPDATE clips SET uid = ?2 WHERE id = ?1");
  uid.bind(1, id).bind(2, c.uid + "_c" + std::to_string(id)).step();
  if (!uid.status().ok()) return uid.status();
  if (Status st = insert_audit(db, id, "", "planned", actor, c.state_reason); !st.ok()) return st;
  if (Status st = tx.commit(); !st.ok()) return st;
  return id;
}

Result<std::optional<ClipRecord>> Catalog::clip(int64_t id) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kClipColumns + " FROM clips WHERE id = ?1").c_str());
  s.bind(1, id);
  return one_clip(s);
}

Result<std::optional<ClipRecord>> Catalog::clip_by_uid(const std::string& uid) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kClipColumns + " FROM clips WHERE uid = ?1").c_str());
  s.bind(1, uid);
  return one_clip(s);
}

Result<std::vector<ClipRecord>> Catalog::clips(const std::string& state, int64_t drive_id) {
  std::string sql = std::string("SELECT ") + kClipColumns +
                    " FROM clips WHERE (?1 = '' OR state = ?1) AND (?2 = 0 OR drive_id = ?2) "
                    "ORDER BY priority DESC, id";
  Statement s(impl_->db.get(), sql.c_str());
  s.bind(1, state).bind(2, drive_id);
  return rows<ClipRecord>(s, [](const Statement& s) { return read_clip(s); });
}

Status Catalog::move_clip(int64_t clip_id, const std::string& to, const std::string& actor, const std::string& reason,
                          const PackageFacts* package, const std::string& only_from) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement get(db, "SELECT state, uid FROM clips WHERE id = ?1");
  get.bind(1, clip_id);
  if (!get.step()) {
    if (!get.status().ok()) return get.status();
    return Status::NotFound("clip " + std::to_string(clip_id) + " is not in the catalog");
  }
  const std::string from = get.column_text(0);
  const std::string uid = get.column_text(1);
  if (!clip_move_allowed(from, to) || (from == to && !package))  // a self-move is a rebuilt package only
    return Status::InvalidArgument("clip " + uid + ": cannot move from '" + from + "' to '" + to + "'");
  if (!only_from.empty() && from != only_from)
    return Status::InvalidArgument("clip " + uid + " is '" + from + "', no longer '" + only_from +
                                   "': it was moved meanwhile");
  if (actor.empty()) return Status::InvalidArgument("clip " + uid + ": a move needs an actor (who or what moved it)");
  Statement up(db,
               "UPDATE clips SET state = ?2, state_reason = ?3, updated_utc = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
               "WHERE id = ?1");
  up.bind(1, clip_id).bind(2, to).bind(3, reason).step();
  if (!up.status().ok()) return up.status();
  if (package) {
    Statement p(db,
                "UPDATE clips SET package_dir = ?2, frames = ?3, bytes = ?4, effort_minutes = ?5, classes = ?6 "
                "WHERE id = ?1");
    p.bind(1, clip_id).bind(2, package->dir).bind(3, package->frames).bind(4, package->bytes);
    p.bind(5, package->effort_minutes).bind(6, nlohmann::json(package->classes).dump()).step();
    if (!p.status().ok()) return p.status();
    if (!package->edits.empty()) {
      Statement e(db, "UPDATE clips SET edits = ?2 WHERE id = ?1");
      e.bind(1, clip_id).bind(2, package->edits).step();
      if (!e.status().ok()) return e.status();
    }
    if (const auto& span = package->span) {
      Statement t(db, "UPDATE clips SET start_frame = ?2, end_frame = ?3, start_s = ?4, end_s = ?5 WHERE id = ?1");
      t.bind(1, clip_id).bind(2, span->start_frame).bind(3, span->end_frame).bind(4, span->start_s);
      t.bind(5, span->end_s).step();
      if (!t.status().ok()) return t.status();
    }
  }
  if (Status st = insert_audit(db, clip_id, from, to, actor, reason); !st.ok()) return st;
  return tx.commit();
}

Result<ClipPage> Catalog::clip_page(const ClipQuery& q) {
  // Only the filters given: `(?1 = '' OR state = ?1)` would keep SQLite
  // from the (state, priority, id) index and sort every row each page.
  std::string where = " FROM clips WHERE 1";
  std::vector<std::string> binds;
  auto filter = [&](const std::string& value, const std::string& clause, const char* close) {
    if (value.empty()) return;
    binds.push_back(value);
    where += " AND " + clause + std::to_string(binds.size()) + close;
  };
  filter(q.state, "state = ?", "");
  filter(q.camera, "drive_id IN (SELECT id FROM drives WHERE camera = ?", ")");
  // classes is a JSON array of strings: an element's exact encoding, quotes included, is in it or not
  filter(q.label, "instr(classes, json_quote(?", ")) > 0");
  filter(q.from_utc, "created_utc >= ?", "");
  filter(q.to_utc, "created_utc < ?", "");
  auto bind_filters = [&](Statement& s) {
    for (size_t i = 0; i < binds.size(); ++i) s.bind(int(i + 1), binds[i]);
  };
  ClipPage page;
  Statement count(impl_->db.get(), ("SELECT count(*)" + where).c_str());
  bind_filters(count);
  if (count.step()) page.total = count.column_int(0);
  if (!count.status().ok()) return count.status();
  // The page's ids first (the order's columns only, from the index), then their rows.
  const std::string order = q.newest_first ? " ORDER BY id DESC" : " ORDER BY priority DESC, id DESC";
  const int n = int(binds.size());
  const std::string sql = std::string("SELECT ") + kClipColumns + " FROM clips WHERE id IN (SELECT id" + where + order +
                          " LIMIT ?" + std::to_string(n + 1) + " OFFSET ?" + std::to_string(n + 2) + ")" + order;
  Statement s(impl_->db.get(), sql.c_str());
  bind_filters(s);
  s.bind(n + 1, q.limit).bind(n + 2, q.offset);
  auto clips = rows<ClipRecord>(s, [](const Statement& s) { return read_clip(s); });
  if (!clips.ok()) return clips.status();
  page.clips = std::move(clips.value());
  return page;
}

Result<ClipFacets> Catalog::clip_facets() {
  ClipFacets f;
  auto column = [&](const char* sql, std::vector<std::string>& out) {
    Statement s(impl_->db.get(), sql);
    while (s.step()) out.push_back(s.column_text(0));
    return s.status();
  };
  if (Status st = column("SELECT DISTINCT d.camera FROM clips c JOIN drives d ON d.id = c.drive_id ORDER BY 1", f.cameras);
      !st.ok())
    return st;
  if (Status st = column("SELECT DISTINCT j.value FROM clips, json_each(clips.classes) j ORDER BY 1", f.classes); !st.ok())
    return st;
  auto counts = clip_counts();
  if (!counts.ok()) return counts.status();
  f.counts = std::move(counts.value());
  return f;
}

Result<std::vector<std::pair<std::string, int64_t>>> Catalog::clip_counts() {
  Statement s(impl_->db.get(), "SELECT state, count(*) FROM clips GROUP BY state ORDER BY state");
  std::vector<std::pair<std::string, int64_t>> out;
  while (s.step()) out.emplace_back(s.column_text(0), s.column_int(1));
  if (!s.status().ok()) return s.status();
  return out;
}

Status Catalog::set_clip_priority(int64_t clip_id, double priority, const std::string& actor) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement get(db, "SELECT state, priority FROM clips WHERE id = ?1");
  get.bind(1, clip_id);
  if (!get.step()) return get.status().ok() ? Status::NotFound("clip " + std::to_string(clip_id) + " is not in the catalog")
                                            : get.status();
  const std::string state = get.column_text(0);
  const double before = get.column_double(1);
  Statement up(db, "UPDATE clips SET priority = ?2, updated_utc = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1");
  up.bind(1, clip_id).bind(2, priority).step();
  if (!up.status().ok()) return up.status();
  char reason[96];
  std::snprintf(reason, sizeof reason, "priority %.2f -> %.2f", before, priority);
  if (Status st = insert_audit(db, clip_id, state, state, actor, reason); !st.ok()) return st;
  return tx.commit();
}

namespace {
constexpr const char* kOperatorColumns =
    "name, role, secret_hash, failures, locked_until_utc, created_utc, one_time, scope";
OperatorRecord read_operator(const Statement& s) {
  return {s.column_text(0), s.column_text(1), s.column_text(2), int(s.column_int(3)), s.column_text(4),
          s.column_text(5), s.column_int(6) != 0, s.column_text(7)};
}
// One operator's row changed, or NotFound naming it.
Status changed_operator(sqlite3* db, Statement& s, const std::string& name) {
  s.step();
  if (!s.status().ok()) return s.status();
  if (sqlite3_changes(db) == 0) return Status::NotFound("no operator named '" + name + "'");
  return Status::Ok();
}
}  // namespace

Status Catalog::add_operator(const OperatorRecord& op) {
  Statement s(impl_->db.get(),
              "INSERT INTO operators (name, role, secret_hash, one_time, scope) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, op.name).bind(2, op.role).bind(3, op.secret_hash).bind(4, int64_t(op.one_time)).bind(5, op.scope).step();
  if (!s.status().ok() && sqlite3_extended_errcode(impl_->db.get()) == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Status::InvalidArgument("an operator or reader named '" + op.name + "' exists already");
  return s.status();
}

Status Catalog::remove_operator(const std::string& name) {
  Statement s(impl_->db.get(), "DELETE FROM operators WHERE name = ?1");
  s.bind(1, name).step();
  if (!s.status().ok()) return s.status();
  if (sqlite3_changes(impl_->db.get()) == 0) return Status::NotFound("no operator or reader named '" + name + "'");
  return Status::Ok();
}

Result<std::optional<OperatorRecord>> Catalog::operator_named(const std::string& name) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kOperatorColumns + " FROM operators WHERE name = ?1").c_str());
  s.bind(1, name);
  return one_row<OperatorRecord>(s, read_operator);
}

Result<std::optional<OperatorRecord>> Catalog::reader_with_token_hash(const std::string& sha256) {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kOperatorColumns +
                                " FROM operators WHERE role = 'reader' AND secret_hash = ?1").c_str());
  s.bind(1, sha256);
  return one_row<OperatorRecord>(s, read_operator);
}

Result<std::vector<OperatorRecord>> Catalog::operators() {
  Statement s(impl_->db.get(), (std::string("SELECT ") + kOperatorColumns + " FROM operators ORDER BY name").c_str());
  return rows<OperatorRecord>(s, read_operator);
}

Status Catalog::record_login(const std::string& name, bool ok, int max_failures, const std::string& lock_until_utc) {
  Statement s(impl_->db.get(),
              ok ? "UPDATE operators SET failures = 0, locked_until_utc = '' WHERE name = ?1"
                 : "UPDATE operators SET failures = failures + 1, locked_until_utc = CASE WHEN failures + 1 >= ?2 "
                   "THEN ?3 ELSE locked_until_utc END WHERE name = ?1");
  s.bind(1, name);
  if (!ok) s.bind(2, int64_t(max_failures)).bind(3, lock_until_utc);
  s.step();
  return s.status();
}

Status Catalog::set_operator_secret(const std::string& name, const std::string& secret_hash) {
  Statement s(impl_->db.get(),
              "UPDATE operators SET secret_hash = ?2, one_time = 0, failures = 0, locked_until_utc = '' "
              "WHERE name = ?1 AND role = 'operator'");
  s.bind(1, name).bind(2, secret_hash);
  return changed_operator(impl_->db.get(), s, name);
}

Status Catalog::unlock_operator(const std::string& name) {
  Statement s(impl_->db.get(),
              "UPDATE operators SET failures = 0, locked_until_utc = '' WHERE name = ?1 AND role = 'operator'");
  s.bind(1, name);
  return changed_operator(impl_->db.get(), s, name);
}

Status Catalog::mark_clip_purged(int64_t clip_id, const std::string& actor, const std::string& reason) {
  sqlite3* db = impl_->db.get();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  Statement get(db, "SELECT state FROM clips WHERE id = ?1");
  get.bind(1, clip_id);
  if (!get.step()) return get.status().ok() ? Status::NotFound("clip " + std::to_string(clip_id) + " is not in the catalog")
                                            : get.status();
  const std::string state = get.column_text(0);
  Statement up(db, "UPDATE clips SET purged = 1, updated_utc = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1");
  up.bind(1, clip_id).step();
  if (!up.status().ok()) return up.status();
  if (Status st = insert_audit(db, clip_id, state, state, actor, "package deleted: " + reason); !st.ok()) return st;
  return tx.commit();
}

Result<std::vector<ClipAuditRecord>> Catalog::clip_audit(int64_t clip_id) {
  Statement s(impl_->db.get(),
              "SELECT clip_id, at_utc, from_state, to_state, actor, reason FROM clip_audit WHERE clip_id = ?1 ORDER BY id");
  s.bind(1, clip_id);
  return rows<ClipAuditRecord>(s, [](const Statement& s) {
    return ClipAuditRecord{s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_text(4),
        s.column_text(5)};
  });
}

Result<int64_t> Catalog::drive_count() { return pragma_int(impl_->db.get(), "SELECT count(*) FROM drives"); }

}  // namespace dashloop::firmware::catalog
