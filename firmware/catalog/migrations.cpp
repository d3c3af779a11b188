#include "catalog/migrations.hpp"

#include <array>

#include "catalog/catalog.hpp"

namespace dashloop::firmware::catalog {
namespace {

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

}  // namespace

std::span<const char* const> migrations() { return kMigrations; }

}  // namespace dashloop::firmware::catalog
