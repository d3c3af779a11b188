// Recording segments and their keyframes, camera gaps, triggers.
#include "catalog/catalog.hpp"

#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

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

}  // namespace dashloop::firmware::catalog
