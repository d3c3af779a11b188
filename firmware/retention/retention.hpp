// Retention: keeps data_dir within its disk quota. Deletes, in this order,
// until the quota holds again (with room for what is about to be written):
//   1. recorded segments (never an ingested file, never the open segment),
//      oldest first; those a planned clip still needs only past the hard
//      limit (a clip that failed for want of space waits for room);
//   2. packages already safe or not wanted, in this order: acked (the cloud
//      has them, verified), rejected, failed, uploaded (not yet acked);
//   3. only past the hard limit: packages in packaged, review, approved or
//      uploading, lowest priority first; each is logged as an error and
//      recorded (clip moved to failed, with the reason, in the audit table).
//      Room for a package is never made by deleting one of its priority or
//      higher: that package does not fit instead (Report::over).
// Every deletion is recorded in the catalog before the next one starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "status.hpp"

namespace dashloop::firmware::retention {

struct Policy {
  int64_t max_bytes = 0;       // 0: no byte quota
  int64_t hard_max_bytes = 0;  // 0: none; else past this even protected packages go
  double max_percent = 90.0;   // of the filesystem
  double hard_percent = 97.0;
};

struct DiskUse {
  int64_t total = 0;  // bytes under data_dir
  int64_t recordings = 0;
  int64_t packages = 0;
  int64_t keyframes = 0;
  int64_t fs_size = 0;
  int64_t fs_free = 0;
  double fs_percent = 0;  // used, as df counts it
};

DiskUse measure(const std::filesystem::path& data_dir);

// A few MiB kept aside as data_dir/.reserve (not counted in the quota). A
// disk filled to the last byte, by another program or while the station was
// off, would keep SQLite from reading the catalog (it needs room for its WAL
// index first), so retention could not free anything and the box would never
// record again. The station releases the reserve to open its catalog, frees
// space by the usual rules, then keeps the reserve again.
constexpr int64_t kReserveBytes = int64_t(16) << 20;
// Makes the reserve when it is missing and the disk has room for it and as
// much again; ok when there is no room (it is tried again later).
Status keep_reserve(const std::filesystem::path& data_dir);
// Deletes the reserve; false when there was none.
bool release_reserve(const std::filesystem::path& data_dir);

struct Report {
  int64_t freed = 0;
  int segments_deleted = 0;
  int packages_deleted = 0;
  int protected_deleted = 0;  // past the hard limit
  int protected_kept = 0;     // past it, but not below the incoming package's priority
  bool over = false;          // still over the quota when nothing more may go
  std::vector<std::string> actions;
};

// `incoming` bytes are about to be written and must fit too. When they are
// a package, `incoming_priority` is its priority; a recording (infinity)
// may displace any package past the hard limit.
Result<Report> enforce(catalog::Catalog& catalog, const std::filesystem::path& data_dir, const Policy& policy,
                       int64_t incoming = 0, double incoming_priority = std::numeric_limits<double>::infinity());

// A station's (and `dashloop retention`'s) pass: enforce(), then the reserve
// set aside again where there is room (keep_reserve). A reserve that cannot
// be made is logged, never the pass's error.
Result<Report> free_space(catalog::Catalog& catalog, const std::filesystem::path& data_dir, const Policy& policy);

}  // namespace dashloop::firmware::retention
