#include "catalog/sqlite.hpp"

namespace dashloop::firmware::catalog {

Status sqlite_error(sqlite3* db, const std::string& what) {
  const int code = sqlite3_extended_errcode(db);
  std::string msg = what + ": " + sqlite3_errmsg(db);
  if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) return Status::Corruption(msg);
  return Status::IOError(msg);
}

Status exec(sqlite3* db, const std::string& sql) {
  char* raw = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &raw) != SQLITE_OK) {
    Status st = sqlite_error(db, "catalog");
    sqlite3_free(raw);
    return st;
  }
  return Status::Ok();
}

Statement::Statement(sqlite3* db, const char* sql) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) status_ = sqlite_error(db, "catalog: prepare");
  stmt_.reset(raw);
}

Statement& Statement::bind(int i, int64_t v) {
  if (stmt_) sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  if (stmt_) sqlite3_bind_double(stmt_.get(), i, v);
  return *this;
}
Statement& Statement::bind(int i, const std::string& v) {
  if (stmt_) sqlite3_bind_text(stmt_.get(), i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  if (stmt_) sqlite3_bind_null(stmt_.get(), i);
  return *this;
}

bool Statement::step() {
  if (!status_.ok() || !stmt_) return false;
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = sqlite_error(db_, "catalog: step");
  return false;
}

std::string Statement::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_.get(), i);
  return p ? reinterpret_cast<const char*>(p) : "";
}

Transaction::Transaction(sqlite3* db) : db_(db) {
  status_ = exec(db, "BEGIN IMMEDIATE");
  open_ = status_.ok();
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit() {
  if (!open_) return status_.ok() ? Status::Internal("catalog: transaction already closed") : status_;
  Status st = exec(db_, "COMMIT");
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace dashloop::firmware::catalog
