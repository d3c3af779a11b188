// Opening a catalog: the file checked, WAL, the migrations run in order.
#include "catalog/catalog.hpp"

#include <chrono>
#include <thread>

#include "catalog/migrations.hpp"
#include "catalog/internal.hpp"

namespace dashloop::firmware::catalog {

namespace {
constexpr int64_t kApplicationId = 0x444C4F50;  // "DLOP"
}  // namespace

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
    Status st = exec(db, migrations()[size_t(v)]);
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


Status Catalog::integrity_check() {
  Statement s(impl_->db.get(), "PRAGMA integrity_check");
  const bool row = s.step();
  if (!s.status().ok()) return s.status();
  if (!row || s.column_text(0) != "ok") return Status::Corruption(impl_->file.string() + ": " + s.column_text(0));
  return Status::Ok();
}

}  // namespace dashloop::firmware::catalog
