// RAII owners for SQLite handles and a transaction guard. Only the catalog
// module includes this.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "handle.hpp"
#include "status.hpp"

namespace dashloop::firmware::catalog {

using DbPtr = Handle<sqlite3, sqlite3_close_v2>;
using StmtPtr = Handle<sqlite3_stmt, sqlite3_finalize>;

// A prepared statement with positional binds (1-based) and typed column reads.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  const Status& status() const { return status_; }

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, const std::string& v);
  Statement& bind_null(int i);
  // Ready to run again with new binds.
  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false; other codes set status().
  bool step();
  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
  double column_double(int i) const { return sqlite3_column_double(stmt_.get(), i); }
  std::string column_text(int i) const;
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  StmtPtr stmt_;
  Status status_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& status() const { return status_; }
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
  Status status_;
};

Status exec(sqlite3* db, const std::string& sql);
Status sqlite_error(sqlite3* db, const std::string& what);

}  // namespace dashloop::firmware::catalog
