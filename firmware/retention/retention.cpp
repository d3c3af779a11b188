#include "retention/retention.hpp"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "clips/package.hpp"

namespace dashloop::firmware::retention {
namespace fs = std::filesystem;

namespace {

// Where the quota stands: the bytes over the soft (or hard) limit, if any.
struct Budget {
  const Policy& policy;
  DiskUse use;
  int64_t incoming;

  int64_t over(bool hard) const {
    int64_t worst = 0;
    const int64_t cap = hard ? policy.hard_max_bytes : policy.max_bytes;
    if (cap > 0) worst = std::max(worst, use.total + incoming - cap);
    const double pct = hard ? policy.hard_percent : policy.max_percent;
    if (use.fs_size > 0) {
      const double used = double(use.fs_size - use.fs_free + incoming);
      worst = std::max(worst, int64_t(used - pct / 100.0 * double(use.fs_size)));
    }
    return worst;
  }
  void freed(int64_t bytes) {
    use.total -= bytes;
    use.fs_free += bytes;
  }
};

constexpr char kReserveName[] = ".reserve";

}  // namespace

Status keep_reserve(const fs::path& data_dir) {
  const fs::path reserve = data_dir / kReserveName;
  std::error_code ec;
  if (fs::file_size(reserve, ec) == uint64_t(kReserveBytes)) return Status::Ok();
  struct statvfs st {};
  if (statvfs(data_dir.c_str(), &st) != 0) return Status::IOError(data_dir.string() + ": " + std::strerror(errno));
  if (int64_t(st.f_bavail) * int64_t(st.f_frsize) < 2 * kReserveBytes) return Status::Ok();  // no room yet
  const fs::path tmp = data_dir / ".reserve.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(tmp.string() + ": " + std::strerror(errno));
  const int rc = posix_fallocate(fd, 0, kReserveBytes);  // blocks really taken, not a sparse file
  const bool synced = rc == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    fs::remove(tmp, ec);
    return Status::IOError(tmp.string() + ": cannot set aside " + std::to_string(kReserveBytes >> 20) +
                           " MiB: " + std::strerror(rc ? rc : errno));
  }
  fs::rename(tmp, reserve, ec);
  if (ec) return Status::IOError(reserve.string() + ": " + ec.message());
  return Status::Ok();
}

bool release_reserve(const fs::path& data_dir) {
  std::error_code ec;
  return fs::remove(data_dir / kReserveName, ec);
}

DiskUse measure(const fs::path& data_dir) {
  DiskUse u;
  // One walk; each file counts toward the total and its top-level folder.
  std::error_code ec;
  std::string top;  // the top-level entry being walked (visited before its contents)
  for (fs::recursive_directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it.depth() == 0) top = it->path().filename().string();
    if (!it->is_regular_file(ec)) continue;
    if (it.depth() == 0 && top == kReserveName) continue;
    const auto bytes = int64_t(it->file_size(ec));
    u.total += bytes;
    if (top == "recordings") u.recordings += bytes;
    else if (top == "packages") u.packages += bytes;
    else if (top == "keyframes") u.keyframes += bytes;
  }
  struct statvfs st {};
  if (statvfs(data_dir.c_str(), &st) == 0 && st.f_blocks > 0) {
    const double block = double(st.f_frsize);
    const double used = double(st.f_blocks - st.f_bfree) * block;
    u.fs_free = int64_t(double(st.f_bavail) * block);
    u.fs_size = int64_t(used) + u.fs_free;  // as df: reserved blocks are not ours to use
    u.fs_percent = 100.0 * used / double(u.fs_size);
  }
  return u;
}

Result<Report> enforce(catalog::Catalog& catalog, const fs::path& data_dir, const Policy& policy, int64_t incoming,
                       double incoming_priority) {
  Report report;
  Budget budget{policy, measure(data_dir), incoming};
  if (budget.over(false) <= 0) return report;

  // 1. Recorded segments.
  auto segments = catalog.segments(0);
  if (!segments.ok()) return segments.status();
  auto planned = catalog.clips("planned");
  if (!planned.ok()) return planned.status();
  std::set<int64_t> needed;  // drives with a clip still to be cut
  for (const auto& c : *planned) needed.insert(c.drive_id);
  std::vector<catalog::SegmentRecord> victims;
  for (const auto& s : *segments)
    if (s.owned && (s.state == "closed" || s.state == "unreadable")) victims.push_back(s);
  std::stable_sort(victims.begin(), victims.end(), [&](const auto& a, const auto& b) {
    return needed.count(a.drive_id) < needed.count(b.drive_id);  // by id (age) within each group
  });
  for (const auto& s : victims) {
    // A clip still to be cut from it (one that failed for want of space
    // waits planned) keeps its recording up to the hard limit: past it,
    // recording goes on at that clip's cost, never the other way round.
    const bool keep_for_clip = needed.count(s.drive_id) > 0;
    if (budget.over(keep_for_clip) <= 0) break;  // sorted: the rest are kept for their clips too
    std::error_code ec;
    const auto bytes = int64_t(fs::file_size(s.path, ec));
    // The catalog first: a crash between the two then leaves a file whose
    // row says deleted (the camera's next start removes it), never a
    // 'closed' row whose file is gone, which analysis could not read.
    if (Status st = catalog.mark_segment_deleted(s.id); !st.ok()) return st;
    fs::remove(s.path, ec);
    if (ec) return Status::IOError(s.path + ": marked deleted, but cannot be removed: " + ec.message());
    budget.freed(bytes);
    report.freed += bytes;
    ++report.segments_deleted;
    report.actions.push_back("deleted segment " + s.path);
    spdlog::info("retention: deleted segment {} ({} bytes)", s.path, bytes);
  }

  // 2 and 3. Packages, least needed first.
  auto delete_packages = [&](const std::vector<std::string>& states, bool hard) -> Status {
    std::vector<catalog::ClipRecord> clips;
    for (const auto& state : states) {
      auto rows = catalog.clips(state);
      if (!rows.ok()) return rows.status();
      for (auto& c : *rows)
        if (!c.purged && !c.package_dir.empty()) clips.push_back(std::move(c));
    }
    if (hard)  // lowest priority, then oldest, goes first
      std::stable_sort(clips.begin(), clips.end(), [](const auto& a, const auto& b) {
        return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
      });
    for (const auto& c : clips) {
      if (budget.over(hard) <= 0) break;
      if (hard && c.priority >= incoming_priority) {  // sorted: every one left is as wanted as the incoming
        report.protected_kept = int(clips.size()) - int(&c - clips.data());
        break;
      }
      // The original a redacted package keeps beside it goes with it.
      const fs::path original = pipeline::clips::original_clip_of(c.package_dir);
      std::error_code ec;
      const auto original_bytes = fs::file_size(original, ec);
      const int64_t bytes = c.bytes + (ec ? 0 : int64_t(original_bytes));
      fs::remove(original, ec);
      if (ec) return Status::IOError(original.string() + ": cannot delete: " + ec.message());
      fs::remove_all(c.package_dir, ec);
      if (ec) return Status::IOError(c.package_dir + ": cannot delete: " + ec.message());
      fs::remove(pipeline::clips::prelabel_cache_of(c.package_dir), ec);  // its pass's kept tracks, if any
      fs::remove(pipeline::clips::pass_steps_of(c.package_dir), ec);      // a stopped pass's steps, if any
      const std::string why = hard ? "disk past its hard limit" : "disk quota";
      if (Status st = catalog.mark_clip_purged(c.id, "retention", why); !st.ok()) return st;
      budget.freed(bytes);
      report.freed += bytes;
      ++report.packages_deleted;
      report.actions.push_back("deleted package " + c.uid + " (" + c.state + ")");
      if (hard) {
        ++report.protected_deleted;
        spdlog::error("retention: DELETED package {} in state '{}' (priority {:.2f}): {}; it is lost to annotation",
                      c.uid, c.state, c.priority, why);
        if (Status st = catalog.move_clip(c.id, "failed", "retention", "package deleted: " + why); !st.ok()) return st;
      } else {
        spdlog::info("retention: deleted package {} ({}, {} bytes)", c.uid, c.state, bytes);
      }
    }
    return Status::Ok();
  };
  if (Status st = delete_packages({"acked", "rejected", "failed", "uploaded"}, false); !st.ok()) return st;
  if (budget.over(false) > 0 && budget.over(true) > 0)
    if (Status st = delete_packages({"packaged", "review", "approved", "uploading"}, true); !st.ok()) return st;
  report.over = budget.over(false) > 0;
  if (report.over)
    spdlog::warn("retention: still {} bytes over the quota of {}; nothing else may be deleted{}", budget.over(false),
                 data_dir.string(),
                 report.protected_kept > 0 ? " (" + std::to_string(report.protected_kept) +
                                                 " packages kept: none below the incoming one's priority)"
                                           : "");
  return report;
}

Result<Report> free_space(catalog::Catalog& catalog, const fs::path& data_dir, const Policy& policy) {
  auto report = enforce(catalog, data_dir, policy);
  if (Status st = keep_reserve(data_dir); !st.ok()) spdlog::warn("retention: {}", st.message());
  return report;
}

}  // namespace dashloop::firmware::retention
