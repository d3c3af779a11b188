// Drives and what their analysis found: keyframes, tracks with their boxes, track events.
#include "catalog/catalog.hpp"

#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

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


Result<int64_t> Catalog::drive_count() { return pragma_int(impl_->db.get(), "SELECT count(*) FROM drives"); }

}  // namespace dashloop::firmware::catalog
