// Object stores that packages are synced to: S3-compatible storage (AWS S3,
// MinIO, Ceph RGW: libcurl's own SigV4) and a local directory laid out
// exactly like a bucket (`file://`, the embedded default). Sync and collect
// see only this interface, so both targets take the same code paths,
// multipart uploads and create-only writes included.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::firmware::sync {

struct ObjectInfo {
  std::string key;
  int64_t size = 0;
  std::string sha256;  // as the uploader stored it (x-amz-meta-sha256); "" when unknown
};

struct PartEtag {
  int number = 0;  // 1-based
  std::string etag;
};

// A part the store holds for an unfinished multipart upload.
struct StoredPart {
  int number = 0;
  std::string etag;
  int64_t size = 0;
};

// Where objects go. `target` is s3://BUCKET[/PREFIX] or file:///DIR[/PREFIX];
// the rest applies to s3:// only.
struct StoreConfig {
  std::string target;
  std::string endpoint;  // http(s)://host[:port]; "" for s3://: AWS's regional endpoint
  std::string region = "us-east-1";
  bool path_style = true;  // host/bucket/key; false: bucket.host/key (virtual-host style)
  std::string ca_file;     // extra CA bundle for TLS (verification is always on)
  std::string access_key, secret_key;
  int64_t max_bytes_per_s = 0;  // upload cap (0: none)
  double timeout_s = 60;        // a request that stalls this long fails (transient)
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The key prefix of the target ("" or ending in '/'), and an object's full name for messages.
  virtual const std::string& prefix() const = 0;
  virtual std::string name(const std::string& key) const = 0;

  // Errors: kUnavailable is transient (retry later: timeouts, DNS, refused
  // connections, 5xx, 429); anything else is permanent for that request.
  virtual Status put_file(const std::string& key, const std::filesystem::path& file, const std::string& sha256) = 0;
  // if_absent: create-only (If-None-Match: *); kAlreadyExists when the key is taken.
  virtual Status put_bytes(const std::string& key, const std::string& bytes, bool if_absent = false) = 0;
  // nullopt when there is no such object.
  virtual Result<std::optional<std::string>> get_bytes(const std::string& key) = 0;
  virtual Status get_file(const std::string& key, const std::filesystem::path& file) = 0;
  virtual Result<std::optional<ObjectInfo>> head(const std::string& key) = 0;
  // Deleting what is not there is not an error.
  virtual Status remove(const std::string& key) = 0;
  // Every object whose key starts with `key_prefix`, in key order.
  virtual Result<std::vector<ObjectInfo>> list(const std::string& key_prefix) = 0;

  virtual Result<std::string> start_multipart(const std::string& key, const std::string& sha256) = 0;
  // One part: `bytes` of `file` from `offset`; returns its ETag.
  virtual Result<std::string> put_part(const std::string& key, const std::string& upload_id, int number,
                                       const std::filesystem::path& file, int64_t offset, int64_t bytes,
                                       const std::string& sha256) = 0;
  virtual Status finish_multipart(const std::string& key, const std::string& upload_id,
                                  const std::vector<PartEtag>& parts) = 0;
  // The parts the store holds for an upload, by number: what a restart finds
  // there even when the process died before it could record a part's ETag.
  // kNotFound when the store no longer knows the upload.
  virtual Result<std::vector<StoredPart>> list_parts(const std::string& key, const std::string& upload_id) = 0;
  // An upload id the store no longer knows is not an error to abort.
  virtual Status abort_multipart(const std::string& key, const std::string& upload_id) = 0;

  // Another connection to the same target, for work in parallel (one store
  // is used by one thread at a time).
  virtual Result<std::unique_ptr<ObjectStore>> open_another() const = 0;

  // Payload bytes sent so far (benchmarks and the resume test count them).
  int64_t bytes_sent() const { return bytes_sent_.load(); }
  // When *flag turns true, a transfer under way ends (kUnavailable) instead
  // of running to its end: SIGTERM never waits for a slow part.
  void cancel_on(const std::atomic<bool>* flag) { cancel_ = flag; }

 protected:
  std::atomic<int64_t> bytes_sent_{0};
  const std::atomic<bool>* cancel_ = nullptr;
};

// Parses the target and checks what it needs (a bucket name, an endpoint
// URL, credentials for s3://). Errors name the setting.
Result<std::unique_ptr<ObjectStore>> open_store(const StoreConfig& config);

// sha256 of a byte string, or of `bytes` of a file from `offset`; lowercase hex.
std::string sha256_hex(const std::string& bytes);
Result<std::string> sha256_range(const std::filesystem::path& file, int64_t offset, int64_t bytes);

}  // namespace dashloop::firmware::sync
