// The depot UI's accounts: operators (a password) and readers (a token).
#include "catalog/catalog.hpp"

#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

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

}  // namespace dashloop::firmware::catalog
