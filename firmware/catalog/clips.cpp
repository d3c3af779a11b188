// The clip queue: clips, their moves (the one transition function) and audit, priorities, pages and facets.
#include "catalog/catalog.hpp"

#include <nlohmann/json.hpp>

#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

namespace {
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
}  // namespace

bool clip_move_allowed(const std::string& from, const std::string& to) {
  for (const auto& [f, t] : kClipMoves)
    if (from == f && to == t) return true;
  return false;
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

}  // namespace dashloop::firmware::catalog
