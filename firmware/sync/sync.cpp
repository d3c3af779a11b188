#include "sync/sync.hpp"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <mutex>
#include <thread>

#include "clips/package.hpp"
#include "handle.hpp"

namespace dashloop::firmware::sync {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kMaxParts = 10000;  // S3's limit

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<json> read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Status::IOError(file.string() + ": cannot read");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return Status::Corruption(file.string() + ": not JSON");
  return j;
}

// Part size for a file: the configured one, grown when the file would need
// more than S3's 10,000 parts. Deterministic, so a resumed upload plans the
// same parts.
int64_t part_size_for(int64_t bytes, int64_t configured) {
  return std::max(configured, (bytes + kMaxParts - 1) / kMaxParts);
}

// Claims of a package: claims/<uid>.json, then claims/<uid>~<n>.json for
// each takeover ('~' is never in a clip name).
std::string claim_key(const std::string& uid, int generation) {
  return "claims/" + uid + (generation == 0 ? "" : "~" + std::to_string(generation)) + ".json";
}

// Seconds since a UTC time as utc_now() writes it; very large when unreadable.
double seconds_since(const std::string& utc) {
  std::tm tm{};
  if (utc.empty() || !strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 1e18;
  return std::difftime(std::time(nullptr), timegm(&tm));
}

// A string field, "" when missing or not a string (null included).
std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string manifest_date(const json& manifest, const catalog::ClipRecord& clip) {
  const std::string utc = text(manifest, "utc_start");
  const std::string& from = utc.size() >= 10 ? utc : clip.created_utc;
  return from.size() >= 10 ? from.substr(0, 10) : "undated";
}

}  // namespace

json SyncReport::to_json() const {
  return {{"uploaded", uploaded}, {"acked", acked},           {"reupload", reupload},
          {"failed", failed},     {"waiting", waiting},       {"bytes_sent", bytes_sent},
          {"bytes_resumed", bytes_resumed}, {"errors", errors}, {"blocked", blocked},
          {"stopped", stopped.ok() ? "" : stopped.message()}};
}

SyncReport& SyncReport::operator+=(const SyncReport& later) {
  uploaded += later.uploaded;
  acked += later.acked;
  reupload += later.reupload;
  failed += later.failed;
  bytes_sent += later.bytes_sent;
  bytes_resumed += later.bytes_resumed;
  errors.insert(errors.end(), later.errors.begin(), later.errors.end());
  waiting = later.waiting;
  blocked = later.blocked;
  stopped = later.stopped;
  return *this;
}

Result<std::unique_ptr<SyncLock>> SyncLock::acquire(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "sync.lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(file.string() + ": " + std::strerror(errno));
  std::unique_ptr<SyncLock> lock(new SyncLock(fd));  // closes fd on every return below
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    const std::string holder = n > 0 ? std::string(pid, size_t(n)) : std::string("?");
    return Status::Unavailable("another sync (pid " + holder.substr(0, holder.find('\n')) + ") holds " +
                               file.string() + "; one sync per data directory");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size()))
    return Status::IOError(file.string() + ": " + std::strerror(errno));
  return lock;
}

SyncLock::~SyncLock() { ::close(fd_); }

void sleep_unless(const std::atomic<bool>* stop, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until && !(stop && stop->load()))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

json CollectReport::to_json() const {
  return {{"taken", taken},   {"damaged", damaged}, {"claimed_elsewhere", claimed_elsewhere},
          {"already_acked", already_acked}, {"uids", uids}, {"errors", errors},
          {"labelstudio_tasks", labelstudio_tasks}};
}

std::string package_prefix(const std::string& vehicle, const std::string& utc_date, const std::string& uid) {
  return vehicle + "/" + utc_date + "/" + uid + "/";
}

std::string network_blocked(const config::SyncConfig& config, ObjectStore& store) {
  if (!config.hours.empty()) {
    int from = 0, to = 0;
    std::sscanf(config.hours.c_str(), "%d-%d", &from, &to);  // validated by config
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const int h = tm.tm_hour;
    const bool inside = from < to ? (h >= from && h < to) : (h >= from || h < to);
    if (!inside) return "outside the allowed hours " + config.hours + " UTC";
  }
  const std::string& n = config.network;
  if (n == "probe") {
    // Any answer, even a refusal, means the endpoint is reachable.
    auto probe = store.head("acks/.probe");
    if (!probe.ok() && probe.status().kind() == Status::Kind::kUnavailable)
      return "the endpoint does not answer: " + probe.status().message();
  } else if (n.starts_with("interface:")) {
    const std::string name = n.substr(10);
    std::ifstream in("/sys/class/net/" + name + "/operstate");
    std::string state;
    in >> state;
    // "unknown": interfaces without carrier reporting (loopback, some tunnels).
    if (state != "up" && state != "unknown")
      return "interface " + name + " is " + (state.empty() ? "missing" : state);
  } else if (n.starts_with("command:")) {
    const std::string cmd = n.substr(8);
    if (const int rc = std::system(cmd.c_str()); rc != 0)
      return "network probe command '" + cmd + "' exited " + std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
  }
  return "";
}

Status privacy_admits(const config::Config& config, const json& manifest) {
  const auto policy = config::privacy_for(config, text(manifest, "camera"));
  const json privacy = manifest.value("privacy", json::object());
  for (const auto& [what, wanted] : {std::pair{"faces", policy.faces}, std::pair{"plates", policy.plates}}) {
    const std::string done = privacy.value(what, std::string("none"));
    if (wanted != "none" && done != wanted)
      return Status::InvalidArgument(std::string("not uploaded: the camera's policy redacts ") + what + " (" + wanted +
                                     "), the package says " + done + "; rebuild it under the policy");
  }
  return Status::Ok();
}

Syncer::Syncer(catalog::Catalog& catalog, ObjectStore& store, config::SyncConfig config, std::string vehicle,
               Progress progress, const std::atomic<bool>* stop)
    : catalog_(catalog),
      store_(store),
      config_(std::move(config)),
      vehicle_(std::move(vehicle)),
      progress_(std::move(progress)),
      stop_(stop) {
  store_.cancel_on(stop);
}

// Runs a request until it succeeds, fails permanently, or has had
// config.attempts tries; waits backoff_s, doubling up to backoff_max_s,
// each wait scaled by a random 0.5-1.5 so many boxes do not retry in step.
template <typename F>
auto Syncer::retried(const std::string& what, F&& request) -> decltype(request()) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  double wait = config_.backoff_s;
  for (int attempt = 1;; ++attempt) {
    auto result = request();
    Status st;
    if constexpr (std::is_same_v<decltype(result), Status>) st = result;
    else st = result.status();
    if (st.ok() || st.kind() != Status::Kind::kUnavailable || attempt >= config_.attempts || stopping()) return result;
    const double sleep_s = std::min(wait, config_.backoff_max_s) * jitter(rng);
    spdlog::warn("sync: {}: {} (try {} of {}; again in {:.1f} s)", what, st.message(), attempt, config_.attempts,
                 sleep_s);
    sleep_unless(stop_, sleep_s);
    wait *= 2;
  }
}

SyncReport Syncer::pass() {
  SyncReport report;
  report.blocked = network_blocked(config_, store_);
  if (!report.blocked.empty()) {
    spdlog::info("sync: not now: {}", report.blocked);
    return report;
  }
  // Acks that cannot be read now are read next pass; uploads go on (a
  // permanent refusal then fails the package it meets, with the reason).
  if (Status st = read_acks(report); !st.ok()) {
    spdlog::error("sync: reading acks: {}", st.message());
    report.errors.push_back("acks: " + st.message());
    if (st.kind() == Status::Kind::kUnavailable) report.stopped = st;
  }
  // Interrupted uploads first (their parts are waiting), then the approved,
  // each list highest priority first, oldest first within one priority.
  std::vector<catalog::ClipRecord> todo;
  for (const char* state : {"uploading", "approved"}) {
    auto clips = catalog_.clips(state);
    if (!clips.ok()) {
      report.stopped = clips.status();
      return report;
    }
    todo.insert(todo.end(), clips->begin(), clips->end());
  }
  const int64_t sent_before = sent();
  // What is uploaded is what was packaged: a file changed on disk since is
  // never sent. The check reads and hashes every byte, so the next
  // package's runs while this one uploads instead of keeping the link idle.
  auto check = [](const catalog::ClipRecord& clip) {
    if (clip.package_dir.empty() || clip.purged) return Status::NotFound("has no package to upload");
    if (Status st = pipeline::clips::verify_package(clip.package_dir); !st.ok())
      return Status::Corruption("package: " + st.message());
    return Status::Ok();
  };
  std::future<Status> next_checked;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!report.stopped.ok() || stopping()) {
      report.waiting = static_cast<int>(todo.size() - i);
      break;
    }
    const catalog::ClipRecord& clip = todo[i];
    Status checked = next_checked.valid() ? next_checked.get() : check(clip);
    if (i + 1 < todo.size()) next_checked = std::async(std::launch::async, check, todo[i + 1]);
    Status st = checked.ok() ? upload(clip, report) : checked;
    if (st.ok()) continue;
    if (st.kind() == Status::Kind::kUnavailable || st.kind() == Status::Kind::kPermissionDenied) {
      // The store is unreachable, or refuses us (credentials, rights, the
      // bucket): no fault of this package. Stop here; it stays `approved`
      // or `uploading` with its finished parts, and a later pass resumes it.
      report.stopped = st;
      report.waiting = static_cast<int>(todo.size() - i);
      break;
    }
    spdlog::error("sync: clip {}: {}", clip.uid, st.message());
    report.errors.push_back(clip.uid + ": " + st.message());
    ++report.failed;
    auto now = catalog_.clip(clip.id);
    if (now.ok() && *now && ((*now)->state == "approved" || (*now)->state == "uploading")) {
      if (Status moved = catalog_.move_clip(clip.id, "failed", "sync", st.message()); !moved.ok())
        spdlog::error("sync: clip {}: {}", clip.uid, moved.message());
      if (progress_) progress_({{"clip", clip.uid}, {"state", "failed"}, {"reason", st.message()}});
    }
    // Parts the store holds for an upload that will not finish are dropped there too.
    if (auto files = catalog_.upload_files(clip.id); files.ok())
      for (const auto& f : *files)
        if (!f.done && !f.upload_id.empty() && f.key.starts_with(store_.name("")))
          store_.abort_multipart(f.key.substr(store_.name("").size()), f.upload_id);
    catalog_.clear_upload(clip.id);
  }
  report.bytes_sent = sent() - sent_before;
  return report;
}

Status Syncer::upload(const catalog::ClipRecord& clip, SyncReport& report) {
  const fs::path dir = clip.package_dir;
  auto manifest = read_json(dir / "manifest.json");
  if (!manifest.ok()) return manifest.status();
  auto manifest_sum = pipeline::clips::sha256_file(dir / "manifest.json");
  if (!manifest_sum.ok()) return manifest_sum.status();
  if (admission_)
    if (Status st = admission_(*manifest); !st.ok()) return st;
  if (clip.state == "approved") {
    // A new upload starts clean; only one interrupted in `uploading` resumes.
    if (Status st = catalog_.clear_upload(clip.id); !st.ok()) return st;
    if (Status st = catalog_.move_clip(clip.id, "uploading", "sync", "to " + store_.name("")); !st.ok()) return st;
  }
  const std::string prefix = package_prefix(vehicle_, manifest_date(*manifest, clip), clip.uid);

  // Every listed file, then the manifest: its presence means "complete".
  std::vector<catalog::UploadFileRecord> files;
  for (const json& f : manifest->value("files", json::array()))
    files.push_back({clip.id, text(f, "path"), prefix + text(f, "path"), f.value("bytes", int64_t(0)),
                     text(f, "sha256"), "", false});
  std::error_code ec;
  const catalog::UploadFileRecord manifest_file{clip.id, "manifest.json", prefix + "manifest.json",
                                                static_cast<int64_t>(fs::file_size(dir / "manifest.json", ec)),
                                                *manifest_sum, "", false};
  int64_t total = manifest_file.bytes;
  for (const auto& f : files) total += f.bytes;

  // An upload id the store lost (expired, aborted by a lifecycle rule)
  // starts those files over, once.
  int64_t done_bytes = 0;  // for the progress events, across both calls
  const int64_t resumed_before = report.bytes_resumed;
  for (int round = 0;; ++round) {
    bool lost = false;
    done_bytes = 0;
    report.bytes_resumed = resumed_before;  // a second round finds the first's again
    Status st = send_files(clip, dir, files, total, done_bytes, report, lost);
    if (st.ok()) break;
    if (!lost || round > 0) return st;
    spdlog::warn("sync: clip {}: {}; starting that file over", clip.uid, st.message());
  }
  if (stopping()) return Status::Unavailable("stopped");
  bool lost = false;
  if (Status st = send_files(clip, dir, {manifest_file}, total, done_bytes, report, lost); !st.ok()) return st;
  files.push_back(manifest_file);

  // The store's own word, in one listing of the package: every object there
  // with the manifest's size. (Each body's sha256 was checked by the store as
  // it came in: every request carries it, signed, in x-amz-content-sha256.)
  auto listed = retried("list", [&] { return store_.list(prefix); });
  if (!listed.ok()) return listed.status();
  std::map<std::string, int64_t> sizes;
  for (const ObjectInfo& o : *listed) sizes[o.key] = o.size;
  for (const auto& f : files) {
    auto it = sizes.find(f.key);
    if (it == sizes.end()) return Status::IOError(store_.name(f.key) + ": missing after upload");
    if (it->second != f.bytes)
      return Status::Corruption(store_.name(f.key) + ": the store holds " + std::to_string(it->second) +
                                " bytes, the manifest says " + std::to_string(f.bytes));
  }
  if (Status st = catalog_.move_clip(clip.id, "uploaded", "sync",
                                     std::to_string(files.size()) + " files, " + std::to_string(total) + " bytes at " +
                                         store_.name(prefix));
      !st.ok())
    return st;
  ++report.uploaded;
  spdlog::info("sync: clip {}: uploaded to {}", clip.uid, store_.name(prefix));
  if (progress_) progress_({{"clip", clip.uid}, {"state", "uploaded"}, {"bytes_total", total}});
  return Status::Ok();
}

Status Syncer::in_lanes(size_t count, const std::function<Status(ObjectStore&, size_t)>& work) {
  const size_t lanes = std::min<size_t>(std::max(1, config_.concurrency), count);
  while (lane_stores_.size() + 1 < lanes) {
    auto another = store_.open_another();
    if (!another.ok()) return another.status();
    (*another)->cancel_on(stop_);
    lane_stores_.push_back(std::move(*another));
  }
  std::atomic<size_t> next{0};
  std::mutex mutex;  // guards failed
  Status failed;
  auto lane = [&](ObjectStore& store) {
    for (size_t i = next++; i < count; i = next++) {
      Status st = stopping() ? Status::Unavailable("stopped") : work(store, i);
      std::lock_guard lock(mutex);
      if (!st.ok() && failed.ok()) failed = st;
      if (!failed.ok()) return;
    }
  };
  std::vector<std::jthread> threads;
  for (size_t l = 1; l < lanes; ++l) threads.emplace_back([&, l] { lane(*lane_stores_[l - 1]); });
  if (lanes > 0) lane(store_);
  threads.clear();  // joins
  return failed;
}

Result<bool> Syncer::holds(const catalog::UploadFileRecord& f) {
  auto info = retried("HEAD", [&] { return store_.head(f.key); });
  if (!info.ok()) return info.status();
  return *info && (*info)->size == f.bytes && (*info)->sha256 == f.sha256;
}

Result<std::map<int, StoredPart>> Syncer::stored_parts(const catalog::ClipRecord& clip, catalog::UploadFileRecord& f,
                                                       int64_t part) {
  std::map<int, StoredPart> have;
  if (!f.upload_id.empty()) {
    auto recorded = catalog_.upload_parts(clip.id, f.path);
    if (!recorded.ok()) return recorded.status();
    for (const auto& p : *recorded) have[p.number] = {p.number, p.etag, p.bytes};
    // The store may hold parts the catalog never heard of: a kill between
    // the store's answer and the catalog's write, or while waiting for that
    // answer. The server checked each one's sha256 as it came in.
    auto listed = retried("list parts", [&] { return store_.list_parts(f.key, f.upload_id); });
    if (listed.ok()) {
      for (const StoredPart& p : *listed) {
        const int64_t offset = int64_t(p.number - 1) * part;
        if (have.contains(p.number) || p.number < 1 || offset + p.size > f.bytes) continue;
        auto sum = sha256_range(fs::path(clip.package_dir) / f.path, offset, p.size);
        if (!sum.ok()) return sum.status();
        if (Status st = catalog_.add_upload_part(clip.id, f.path, {p.number, offset, p.size, p.etag, *sum}); !st.ok())
          return st;
        have[p.number] = p;
      }
    } else if (listed.status().kind() == Status::Kind::kNotFound) {
      // Gone because it was finished (a kill during or after the complete),
      // or lost (expired, aborted by a lifecycle rule): the object says which.
      auto whole = holds(f);
      if (!whole.ok()) return whole.status();
      if (*whole) {
        f.done = true;
        return have;
      }
      spdlog::warn("sync: {}: the store lost upload {}; starting the file over", store_.name(f.key), f.upload_id);
      f.upload_id.clear();
      have.clear();
    } else {
      return listed.status();
    }
  }
  if (f.upload_id.empty()) {
    auto id = retried("POST", [&] { return store_.start_multipart(f.key, f.sha256); });
    if (!id.ok()) return id.status();
    f.upload_id = *id;
    catalog::UploadFileRecord r = f;
    r.key = store_.name(f.key);
    if (Status st = catalog_.put_upload_file(r); !st.ok()) return st;
  }
  return have;
}

Status Syncer::send_files(const catalog::ClipRecord& clip, const fs::path& dir,
                          std::vector<catalog::UploadFileRecord> files, int64_t total, int64_t& done_bytes,
                          SyncReport& report, bool& lost) {
  auto stored = catalog_.upload_files(clip.id);
  if (!stored.ok()) return stored.status();
  std::map<std::string, catalog::UploadFileRecord> by_path;
  for (auto& f : *stored) by_path[f.path] = f;
  // The catalog keeps the object's full name: a changed target never resumes.
  auto remember = [&](catalog::UploadFileRecord r) {
    r.key = store_.name(r.key);
    return catalog_.put_upload_file(r);
  };

  // What is left to send, as units for the lanes: a small file whole, or
  // one part of a large one.
  struct Unit {
    size_t file;
    int number;  // 0: the whole file in one PUT
    int64_t offset, bytes;
  };
  std::vector<Unit> units;
  std::vector<std::vector<PartEtag>> etags(files.size());
  std::vector<bool> multipart(files.size(), false);
  const int64_t threshold = int64_t(config_.multipart_threshold_mib) * kMiB;
  for (size_t i = 0; i < files.size(); ++i) {
    auto& f = files[i];
    auto it = by_path.find(f.path);
    // Resumed only into the same object of the same target.
    const bool same = it != by_path.end() && it->second.sha256 == f.sha256 && it->second.key == store_.name(f.key);
    if (same && it->second.done) {
      report.bytes_resumed += f.bytes;
      done_bytes += f.bytes;
      continue;
    }
    if (f.bytes < threshold) {
      units.push_back({i, 0, 0, f.bytes});
      continue;
    }
    if (same) f.upload_id = it->second.upload_id;
    const int64_t part = part_size_for(f.bytes, int64_t(config_.part_mib) * kMiB);
    auto have = stored_parts(clip, f, part);
    if (!have.ok()) return have.status();
    if (f.done) {  // completed before the catalog heard of it
      if (Status put = remember(f); !put.ok()) return put;
      report.bytes_resumed += f.bytes;
      done_bytes += f.bytes;
      continue;
    }
    multipart[i] = true;
    for (int64_t offset = 0, number = 1; offset < f.bytes; offset += part, ++number) {
      const int64_t len = std::min(part, f.bytes - offset);
      auto p = have->find(int(number));
      if (p != have->end() && p->second.size == len) {
        etags[i].push_back({int(number), p->second.etag});
        report.bytes_resumed += len;
        done_bytes += len;
      } else {
        units.push_back({i, int(number), offset, len});
      }
    }
  }

  // Units go out `concurrency` at a time, each lane on its own connection:
  // a request's round trip through the store, not the box, is what a small
  // file or a part costs.
  std::mutex mutex;  // guards etags, done_bytes, the catalog and progress
  Status st = in_lanes(units.size(), [&](ObjectStore& store, size_t u) -> Status {
    const Unit& unit = units[u];
    const auto& f = files[unit.file];
    const fs::path path = dir / f.path;
    if (unit.number == 0) {
      if (Status put = retried("PUT", [&] { return store.put_file(f.key, path, f.sha256); }); !put.ok()) return put;
    } else {
      auto sum = sha256_range(path, unit.offset, unit.bytes);
      if (!sum.ok()) return sum.status();
      auto etag = retried("PUT part", [&] {
        return store.put_part(f.key, f.upload_id, unit.number, path, unit.offset, unit.bytes, *sum);
      });
      std::lock_guard lock(mutex);
      if (!etag.ok()) {
        if (etag.status().kind() == Status::Kind::kNotFound) lost = true;
        return etag.status();
      }
      etags[unit.file].push_back({unit.number, *etag});
      if (Status added = catalog_.add_upload_part(clip.id, f.path, {unit.number, unit.offset, unit.bytes, *etag, *sum});
          !added.ok())
        return added;
    }
    std::lock_guard lock(mutex);
    if (unit.number == 0) {
      catalog::UploadFileRecord r = f;
      r.upload_id.clear();
      r.done = true;
      if (Status put = remember(r); !put.ok()) return put;
    }
    done_bytes += unit.bytes;
    if (progress_)
      progress_({{"clip", clip.uid}, {"state", "uploading"}, {"file", f.path}, {"bytes_done", done_bytes},
                 {"bytes_total", total}});
    return Status::Ok();
  });
  if (!st.ok()) return st;

  for (size_t i = 0; i < files.size(); ++i) {
    if (!multipart[i]) continue;
    auto& f = files[i];
    std::sort(etags[i].begin(), etags[i].end(), [](const PartEtag& a, const PartEtag& b) { return a.number < b.number; });
    Status done = retried("complete", [&] { return store_.finish_multipart(f.key, f.upload_id, etags[i]); });
    if (done.kind() == Status::Kind::kNotFound) {
      // A complete tried again after the store finished it (its answer lost
      // on the way) finds no upload: the object there says so.
      auto whole = holds(f);
      if (!whole.ok()) return whole.status();
      if (*whole) done = Status::Ok();
    }
    if (!done.ok()) {
      if (done.kind() == Status::Kind::kNotFound) {
        lost = true;
        f.upload_id.clear();
        if (Status put = remember(f); !put.ok()) return put;  // the next round starts this file over
      }
      return done;
    }
    f.done = true;
    if (Status put = remember(f); !put.ok()) return put;
  }
  return Status::Ok();
}

Status Syncer::read_acks(SyncReport& report) {
  auto uploaded = catalog_.clips("uploaded");
  if (!uploaded.ok()) return uploaded.status();
  for (const auto& clip : *uploaded) {
    if (stopping()) break;
    auto body = retried("GET ack", [&] { return store_.get_bytes("acks/" + clip.uid + ".json"); });
    if (!body.ok()) return body.status();
    if (!*body) continue;
    json ack = json::parse(**body, nullptr, false);
    if (!ack.is_object() || !ack.contains("ok")) {
      spdlog::warn("sync: {}: not an ack; ignored", store_.name("acks/" + clip.uid + ".json"));
      continue;
    }
    const std::string by = text(ack, "by"), at = text(ack, "at");
    if (ack["ok"].is_boolean() && ack["ok"].get<bool>()) {
      if (Status st = catalog_.move_clip(clip.id, "acked", "sync", "taken in by " + by + " at " + at); !st.ok())
        return st;
      ++report.acked;
      if (progress_) progress_({{"clip", clip.uid}, {"state", "acked"}, {"by", by}});
    } else {
      const std::string why = "the cloud's ack (" + by + " at " + at + ") says " +
                              text(ack, "failed_file") + " failed: " + text(ack, "reason") + "; uploading again";
      spdlog::warn("sync: clip {}: {}", clip.uid, why);
      // In this order, so a crash anywhere leaves a state that heals: the
      // ack kept aside, the claim and the ack removed (collect takes the
      // package afresh), then the package queued to upload again.
      const std::string ack_key = "acks/" + clip.uid + ".json";
      if (Status st = store_.put_bytes(ack_key + ".superseded-" + utc_now(), **body); !st.ok()) return st;
      auto claim_keys = store_.list("claims/" + clip.uid);
      if (!claim_keys.ok()) return claim_keys.status();
      for (const auto& c : *claim_keys)
        if (c.key == claim_key(clip.uid, 0) || c.key.starts_with("claims/" + clip.uid + "~"))
          if (Status st = store_.remove(c.key); !st.ok()) return st;
      if (Status st = store_.remove(ack_key); !st.ok()) return st;
      if (Status st = catalog_.clear_upload(clip.id); !st.ok()) return st;
      if (Status st = catalog_.move_clip(clip.id, "approved", "sync", why); !st.ok()) return st;
      ++report.reupload;
    }
  }
  return Status::Ok();
}

namespace {

// CVAT's "CVAT 1.1" import takes a zip holding annotations.xml: with the
// package's clip.mp4 that makes the task (`cvat-cli task create NAME local
// clip.mp4 --annotation_path cvat-annotations.zip --annotation_format "CVAT 1.1"`).
Status write_cvat_archive(const fs::path& package) {
  const fs::path zip_file = package / "cvat-annotations.zip", xml = package / "labels/cvat-video.xml";
  int err = 0;
  zip_t* raw = zip_open(zip_file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!raw) return Status::IOError(zip_file.string() + ": cannot create (libzip error " + std::to_string(err) + ")");
  Handle<zip_t, zip_discard> archive(raw);  // discarded unless closed below
  zip_source_t* source = zip_source_file(archive.get(), xml.c_str(), 0, -1);
  if (!source || zip_file_add(archive.get(), "annotations.xml", source, ZIP_FL_ENC_UTF_8) < 0) {
    if (source) zip_source_free(source);
    return Status::IOError(zip_file.string() + ": " + zip_strerror(archive.get()));
  }
  if (zip_close(archive.get()) != 0) return Status::IOError(zip_file.string() + ": " + zip_strerror(archive.get()));
  archive.release();  // zip_close freed it
  return Status::Ok();
}

}  // namespace

namespace {

// Written aside, flushed to the disk, renamed into place, the rename flushed
// too: after a crash the file is there whole or not at all. Never replaces
// a file of that name.
Status write_durably(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.parent_path() / ("." + file.filename().string() + ".part");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(tmp.string() + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (!written || fs::exists(file, ec)) {
    fs::remove(tmp, ec);
    return Status::IOError(file.string() + (written ? ": exists already" : ": write failed (disk full?)"));
  }
  fs::rename(tmp, file, ec);
  if (ec) return Status::IOError(file.string() + ": " + ec.message());
  if (const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

}  // namespace

Result<CollectReport> collect(ObjectStore& store, const CollectOptions& options) {
  CollectReport report;
  auto objects = store.list("");
  if (!objects.ok()) return objects.status();
  std::map<std::string, bool> acked;
  std::map<std::string, std::pair<int, std::string>> claims;  // uid -> the latest claim: (generation, key)
  for (const auto& o : *objects) {
    if (o.key.starts_with("acks/") && o.key.ends_with(".json")) acked[o.key.substr(5, o.key.size() - 10)] = true;
    if (o.key.starts_with("claims/") && o.key.ends_with(".json")) {
      std::string uid = o.key.substr(7, o.key.size() - 12);
      int generation = 0;
      if (const auto tilde = uid.find('~'); tilde != std::string::npos) {
        generation = std::atoi(uid.c_str() + tilde + 1);
        uid.resize(tilde);
      }
      auto& latest = claims.try_emplace(uid, -1, "").first->second;
      if (generation > latest.first) latest = {generation, o.key};
    }
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const std::string job = options.job.empty() ? std::string(host) + ":" + std::to_string(getpid()) : options.job;
  std::error_code ec;
  fs::create_directories(options.to, ec);
  if (ec) return Status::IOError(options.to.string() + ": " + ec.message());
  json tasks = json::array();
  std::vector<json> taken_acks;  // sent after the tasks file that lists them is durable
  fs::path to_abs = fs::absolute(options.to).lexically_normal();
  if (to_abs.filename().empty()) to_abs = to_abs.parent_path();
  const std::string url_prefix = options.video_url_prefix.empty()
                                     ? "/data/local-files/?d=" + to_abs.filename().string() + "/"
                                     : options.video_url_prefix + (options.video_url_prefix.ends_with('/') ? "" : "/");

  for (const auto& o : *objects) {
    if (!o.key.ends_with("/manifest.json") || o.key.starts_with("acks/") || o.key.starts_with("claims/")) continue;
    const std::string prefix = o.key.substr(0, o.key.size() - std::string("manifest.json").size());
    const std::string uid = fs::path(prefix.substr(0, prefix.size() - 1)).filename().string();
    // The clip id becomes a directory name here: only what the box makes
    // (letters, digits, - _ .), never "." or "..".
    if (uid.empty() || uid == "." || uid == ".." ||
        uid.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos) {
      report.errors.push_back(store.name(o.key) + ": not a package name; skipped");
      continue;
    }
    if (acked.count(uid)) {
      ++report.already_acked;
      continue;
    }
    // A claim older than claim_timeout_s without an ack belongs to a job that
    // died: the next generation's create-only claim takes the package over
    // (one job wins it).
    int generation = 0;
    if (auto it = claims.find(uid); it != claims.end()) {
      auto body = store.get_bytes(it->second.second);
      if (!body.ok()) return body.status();
      const json held = *body ? json::parse(**body, nullptr, false) : json();
      const double age = seconds_since(held.is_object() ? text(held, "at") : "");
      const bool ours = held.is_object() && text(held, "by") == job;  // this job was stopped before its ack
      if (age < options.claim_timeout_s && !ours) {
        ++report.claimed_elsewhere;
        continue;
      }
      generation = it->second.first + 1;
      spdlog::warn("collect: {}: claimed by {} {:.0f} s ago and never acked: taking it over", uid,
                   held.is_object() ? text(held, "by") : "?", age);
    }
    const json claim = {{"version", 1}, {"clip", uid}, {"by", job}, {"at", utc_now()}};
    if (Status st = store.put_bytes(claim_key(uid, generation), claim.dump(), true); !st.ok()) {
      if (st.kind() == Status::Kind::kAlreadyExists) {
        ++report.claimed_elsewhere;
        continue;
      }
      return st;
    }
    // Into a hidden directory first; renamed into place only when whole.
    const fs::path incoming = options.to / (".incoming-" + uid), final_dir = options.to / uid;
    fs::remove_all(incoming, ec);
    auto manifest_text = store.get_bytes(o.key);
    if (!manifest_text.ok()) return manifest_text.status();
    if (!*manifest_text) return Status::NotFound(store.name(o.key) + ": vanished while collecting");
    json manifest = json::parse(**manifest_text, nullptr, false);
    json ack = {{"version", 1}, {"clip", uid}, {"by", job}, {"ok", true}, {"failed_file", ""}, {"reason", ""}};
    std::string failed_file, reason;
    if (manifest.is_discarded()) {
      failed_file = "manifest.json";
      reason = "not JSON";
    }
    for (const json& f : manifest.is_discarded() ? json::array() : manifest.value("files", json::array())) {
      const std::string path = text(f, "path");
      const fs::path dest = (incoming / path).lexically_normal();
      if (path.empty() || !dest.string().starts_with(incoming.lexically_normal().string() + "/")) {
        failed_file = path;
        reason = "a path outside the package";
        break;
      }
      fs::create_directories(dest.parent_path(), ec);
      if (Status st = store.get_file(prefix + path, dest); !st.ok()) {
        if (st.kind() == Status::Kind::kUnavailable) return st;
        failed_file = path;
        reason = st.message();
        break;
      }
    }
    if (failed_file.empty()) {
      std::ofstream out(incoming / "manifest.json", std::ios::binary);
      out << **manifest_text;
      out.close();
      if (!out) return Status::IOError((incoming / "manifest.json").string() + ": write failed (disk full?)");
      if (Status st = pipeline::clips::verify_package(incoming); !st.ok()) {
        reason = st.message();
        failed_file = "?";
        for (const json& f : manifest.value("files", json::array()))
          if (const std::string path = text(f, "path"); !path.empty() && reason.find(path) != std::string::npos)
            failed_file = path;
      }
    }
    ack["at"] = utc_now();
    if (!failed_file.empty()) {
      ack["ok"] = false;
      ack["failed_file"] = failed_file;
      ack["reason"] = reason;
      fs::remove_all(incoming, ec);
      ++report.damaged;
      report.errors.push_back(uid + ": " + failed_file + ": " + reason);
      spdlog::error("collect: {}: {}: {}", uid, failed_file, reason);
    } else {
      if (options.relabel)
        if (Status st = options.relabel(incoming); !st.ok())
          spdlog::warn("collect: {}: pre-label pass: {}; the box's labels kept", uid, st.message());
      if (Status st = write_cvat_archive(incoming); !st.ok()) return st;
      fs::remove_all(final_dir, ec);
      fs::rename(incoming, final_dir, ec);
      if (ec) return Status::IOError(final_dir.string() + ": " + ec.message());
      ++report.taken;
      report.uids.push_back(uid);
      auto ls = read_json(final_dir / "labels/labelstudio.json");
      if (ls.ok() && ls->is_array()) {
        for (json& task : *ls) {
          task["data"]["video"] = url_prefix + uid + "/clip.mp4";
          tasks.push_back(task);
        }
      }
    }
    // A package is acked only once the hand-over that lists it is on disk
    // (below): the box deletes acked packages first.
    if (ack["ok"].get<bool>()) {
      taken_acks.push_back(ack);
      continue;
    }
    if (Status st = store.put_bytes("acks/" + uid + ".json", ack.dump(1)); !st.ok()) return st;
  }
  if (!tasks.empty()) {
    // One file per batch, never overwritten: two jobs, or two passes in one
    // second, write files of their own names.
    std::string stamp = utc_now();
    std::erase(stamp, ':');
    std::string who = job;
    for (char& c : who)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
    const fs::path file = options.to / ("labelstudio-tasks-" + stamp + "-" + who + ".json");
    if (Status st = write_durably(file, tasks.dump(1) + "\n"); !st.ok()) return st;
    report.labelstudio_tasks = file.string();
  }
  for (const json& ack : taken_acks)
    if (Status st = store.put_bytes("acks/" + text(ack, "clip") + ".json", ack.dump(1)); !st.ok()) return st;
  return report;
}

}  // namespace dashloop::firmware::sync
