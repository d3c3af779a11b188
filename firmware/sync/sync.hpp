// Sync: approved packages to object storage, resumable part by part, and
// the cloud's acknowledgements back (docs/SYNC.md).
//
// On the box, Syncer::pass moves each approved package approved -> uploading
// -> uploaded through the queue's one move function: every file but the
// manifest first (large ones multipart, each finished part's ETag and sha256
// kept in the catalog), then manifest.json, so that "manifest present" means
// "package complete" to the cloud side. Then it reads acks/<clip>.json and
// moves uploaded -> acked, or back to approved when the ack names a damaged
// file. Transient errors are retried with backoff and jitter; a permanent one
// (403, missing bucket, a package file changed on disk) fails that package
// with the reason and the pass goes on.
//
// In the cloud, collect takes every complete package once (a create-only
// claim object), verifies each file's sha256 against its manifest, writes it
// to a directory with a Label Studio tasks file for the batch, and acks it.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "sync/store.hpp"

namespace dashloop::firmware::sync {

struct SyncReport {
  int uploaded = 0;  // packages now in the store
  int acked = 0;
  int reupload = 0;  // acks that named a damaged file: approved again
  int failed = 0;    // packages failed this pass (reasons in `errors`)
  int waiting = 0;   // approved or uploading packages left for a later pass
  int64_t bytes_sent = 0;
  int64_t bytes_resumed = 0;  // already in the store from an earlier, interrupted pass
  std::vector<std::string> errors;
  std::string blocked;  // why the network was not used this pass ("" : it was)
  Status stopped;       // a transient error outlived its tries: the pass ended early
  nlohmann::json to_json() const;
  // Adds a later pass: counts summed, errors appended, its state (waiting, blocked, stopped) taken.
  SyncReport& operator+=(const SyncReport& later);
};

// Sleeps up to `seconds`, waking early when *stop turns true (stop may be null).
void sleep_unless(const std::atomic<bool>* stop, double seconds);

// Why the network may not be used now ("" : it may): sync.hours, then sync.network.
std::string network_blocked(const config::SyncConfig& config, ObjectStore& store);

// The object key prefix of a package: <vehicle>/<UTC date>/<clip uid>/.
std::string package_prefix(const std::string& vehicle, const std::string& utc_date, const std::string& uid);

// Whether a package may leave under the privacy policy of `config`: one
// whose camera's policy redacts must say (manifest `privacy`) that it was
// redacted so; a package made before the policy, or under another, is
// refused with the reason (never a silent upload without redaction).
Status privacy_admits(const config::Config& config, const nlohmann::json& manifest);

// One sync per data directory: two would upload the same package and one
// would fail. Held as an flock on data_dir/sync.lock (released by the
// kernel when the process ends, a kill -9 included), with the holder's pid
// in the file so a second sync can say who has it.
class SyncLock {
 public:
  // kUnavailable when another process holds it (its pid in the message).
  static Result<std::unique_ptr<SyncLock>> acquire(const std::filesystem::path& data_dir);
  ~SyncLock();
  SyncLock(const SyncLock&) = delete;
  SyncLock& operator=(const SyncLock&) = delete;

 private:
  explicit SyncLock(int fd) : fd_(fd) {}
  int fd_;
};

class Syncer {
 public:
  using Progress = std::function<void(const nlohmann::json&)>;  // sync.progress events
  using Admission = std::function<Status(const nlohmann::json& manifest)>;
  Syncer(catalog::Catalog& catalog, ObjectStore& store, config::SyncConfig config, std::string vehicle,
         Progress progress = {}, const std::atomic<bool>* stop = nullptr);
  // Checked on every package before its first byte is sent (privacy_admits).
  void admit_only(Admission admission) { admission_ = std::move(admission); }
  SyncReport pass();

 private:
  // One package, already checked against its manifest.
  Status upload(const catalog::ClipRecord& clip, SyncReport& report);
  // Sends what of `files` the store does not hold yet (small files whole,
  // large ones part by part) and finishes their multipart uploads, adding
  // to `done_bytes` (of the package's `total`, for progress events); `lost`
  // turns true when the store forgot an upload (that file then starts over).
  Status send_files(const catalog::ClipRecord& clip, const std::filesystem::path& dir,
                    std::vector<catalog::UploadFileRecord> files, int64_t total, int64_t& done_bytes,
                    SyncReport& report, bool& lost);
  // The parts of a multipart file the store holds (the catalog's, and any
  // it finished that the catalog missed); starts a new upload when `f` has
  // none or the store lost it, and sets f.done when the store finished it.
  Result<std::map<int, StoredPart>> stored_parts(const catalog::ClipRecord& clip, catalog::UploadFileRecord& f,
                                                 int64_t part);
  // Whether the store holds `f` whole: its size, and the sha256 the upload
  // stored with it.
  Result<bool> holds(const catalog::UploadFileRecord& f);
  // Runs work(store, i) for every i below count, `concurrency` at a time,
  // each lane on its own connection taking the next i; the first error
  // stops them all and is returned.
  Status in_lanes(size_t count, const std::function<Status(ObjectStore&, size_t)>& work);
  Status read_acks(SyncReport& report);
  template <typename F>
  auto retried(const std::string& what, F&& request) -> decltype(request());
  bool stopping() const { return stop_ && stop_->load(); }
  int64_t sent() const {
    int64_t n = store_.bytes_sent();
    for (const auto& s : lane_stores_) n += s->bytes_sent();
    return n;
  }

  catalog::Catalog& catalog_;
  ObjectStore& store_;
  config::SyncConfig config_;
  Admission admission_;
  std::string vehicle_;
  Progress progress_;
  const std::atomic<bool>* stop_;
  std::vector<std::unique_ptr<ObjectStore>> lane_stores_;  // connections for work in parallel, made when needed
};

struct CollectOptions {
  std::filesystem::path to;  // packages land in TO/<clip uid>/
  std::string job;           // who acks (default: host name and pid)
  std::string video_url_prefix;  // Label Studio's URL of TO ("" : its local-files URL of TO's name)
  double claim_timeout_s = 3600;  // a claim this old with no ack is taken over (its job died)
  // Called on each verified package before it is written for the tools (the
  // pre-label pass again, `collect --prelabel`); an error keeps the box's labels.
  std::function<Status(const std::filesystem::path&)> relabel;
};

struct CollectReport {
  int taken = 0;            // verified, written, acked ok
  int damaged = 0;          // a file failed its sha256: acked as failed, not written
  int claimed_elsewhere = 0;  // another job holds the claim
  int already_acked = 0;
  std::vector<std::string> uids;  // taken
  std::vector<std::string> errors;
  std::string labelstudio_tasks;  // the batch's tasks file ("" : nothing taken)
  nlohmann::json to_json() const;
};

Result<CollectReport> collect(ObjectStore& store, const CollectOptions& options);

}  // namespace dashloop::firmware::sync
