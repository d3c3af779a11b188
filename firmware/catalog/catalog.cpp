#include "catalog/catalog.hpp"

#include <array>

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
};

constexpr const char* kInsertDrive =
    "INSERT INTO drives (source, vehicle, camera, mode, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12, ?13)";
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
constexpr const char* kSelectDrives =
    "SELECT id, source, vehicle, camera, mode, ingested_utc, width, height, fps, frames, duration_s, elapsed_s, "
    "keyframe_dir, detector, detected_frames, detection_skipped FROM drives ORDER BY id";
constexpr const char* kSelectKeyframes =
    "SELECT id, drive_id, frame_index, t_s, reason, trigger_index, change, content, sharpness, brightness, quality, "
    "dhash, image_path FROM keyframes WHERE drive_id = ?1 ORDER BY frame_index";

Result<int64_t> pragma_int(sqlite3* db, const char* pragma) {
  Statement s(db, pragma);
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  return row ? s.column_int(0) : int64_t{0};
}

}  // namespace

struct Catalog::Impl {
  std::filesystem::path file;
  DbPtr db;
  int version = 0;

  Status refuse(const std::string& why) const {
    return Status::Corruption(file.string() + ": " + why + "; refusing to touch it (move it aside to start anew)");
  }
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
  if (rc != SQLITE_OK) return Status::IOError(file.string() + ": cannot open catalog: " + sqlite3_errstr(rc));
  sqlite3* db = impl->db.get();
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);

  // Reading the header is what tells a database from a random file.
  auto app_id = pragma_int(db, "PRAGMA application_id");
  if (!app_id.ok()) return impl->refuse("not a Dashloop catalog (" + app_id.status().message() + ")");
  auto tables = pragma_int(db, "SELECT count(*) FROM sqlite_schema");
  if (!tables.ok()) return impl->refuse("unreadable (" + tables.status().message() + ")");
  if (*app_id != kApplicationId && (*app_id != 0 || *tables != 0))
    return impl->refuse("a SQLite database of another application");

  {
    Statement check(db, "PRAGMA quick_check");
    const bool row = check.step();
    if (!check.status().ok()) return impl->refuse("integrity check failed (" + check.status().message() + ")");
    if (!row || check.column_text(0) != "ok") return impl->refuse("integrity check failed: " + check.column_text(0));
  }
  if (Status st = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !st.ok())
    return Status::IOError(file.string() + ": " + st.message());

  auto version = pragma_int(db, "PRAGMA user_version");
  if (!version.ok()) return impl->refuse(version.status().message());
  if (*version > kSchemaVersion)
    return Status::InvalidArgument(file.string() + ": catalog schema " + std::to_string(*version) +
                                   " is newer than this dashloop understands (" + std::to_string(kSchemaVersion) +
                                   "); upgrade dashloop");
  for (int v = int(*version); v < kSchemaVersion; ++v) {
    Transaction tx(db);
    if (!tx.status().ok()) return Status::IOError(file.string() + ": " + tx.status().message());
    Status st = exec(db, kMigrations[size_t(v)]);
    if (st.ok()) st = exec(db, "PRAGMA user_version = " + std::to_string(v + 1));
    if (st.ok()) st = exec(db, "PRAGMA application_id = " + std::to_string(kApplicationId));
    if (st.ok()) st = tx.commit();
    if (!st.ok()) return Status::IOError(file.string() + ": migration to schema " + std::to_string(v + 1) +
                                         " failed: " + st.message());
  }
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
  ins.bind(11, d.detector).bind(12, d.detected_frames).bind(13, d.detection_skipped);
  ins.step();
  if (!ins.status().ok()) return ins.status();
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
  Statement s(impl_->db.get(), kSelectDrives);
  std::vector<DriveRecord> out;
  while (s.step()) {
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
    out.push_back(std::move(d));
  }
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
  std::vector<TrackBoxRecord> out;
  while (s.step())
    out.push_back({s.column_int(0), s.column_double(1), s.column_double(2), s.column_double(3), s.column_double(4),
                   s.column_double(5), s.column_int(6) != 0});
  if (!s.status().ok()) return s.status();
  return out;
}

Result<std::vector<TrackEventRecord>> Catalog::track_events(int64_t drive_id) {
  Statement s(impl_->db.get(), kSelectEvents);
  s.bind(1, drive_id);
  std::vector<TrackEventRecord> out;
  while (s.step())
    out.push_back({s.column_int(0), s.column_int(1), s.column_double(2), s.column_text(3), int(s.column_int(4)),
                   s.column_text(5)});
  if (!s.status().ok()) return s.status();
  return out;
}

Status Catalog::integrity_check() {
  Statement s(impl_->db.get(), "PRAGMA integrity_check");
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  if (!row || s.column_text(0) != "ok") return Status::Corruption(impl_->file.string() + ": " + s.column_text(0));
  return Status::Ok();
}

}  // namespace dashloop::firmware::catalog
