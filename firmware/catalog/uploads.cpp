// Uploads: each package file's multipart upload and its parts, kept so a restart resumes.
#include "catalog/catalog.hpp"

#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

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

}  // namespace dashloop::firmware::catalog
