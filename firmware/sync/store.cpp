#include "sync/store.hpp"

#include <cctype>

#include "clips/package.hpp"
#include "sync/stores.hpp"

namespace dashloop::firmware::sync {

std::string sha256_hex(const std::string& bytes) { return pipeline::clips::sha256_bytes(bytes); }

Result<std::string> sha256_range(const std::filesystem::path& file, int64_t offset, int64_t bytes) {
  return pipeline::clips::sha256_range(file, offset, bytes);
}

Result<std::unique_ptr<ObjectStore>> open_store(const StoreConfig& config) {
  const std::string& t = config.target;
  if (t.starts_with("file://")) {
    const std::string dir = t.substr(7);
    if (dir.empty()) return Status::InvalidArgument("sync target '" + t + "' names no directory");
    return make_file_store(dir);
  }
  if (t.starts_with("s3://")) {
    const std::string rest = t.substr(5);
    const auto slash = rest.find('/');
    const std::string bucket = rest.substr(0, slash);
    std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.pop_back();
    if (!prefix.empty()) prefix += '/';
    // S3's bucket naming rules: 3-63 of a-z 0-9 . -, starting and ending alphanumeric.
    const bool valid = bucket.size() >= 3 && bucket.size() <= 63 &&
                       bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string::npos &&
                       std::isalnum(static_cast<unsigned char>(bucket.front())) &&
                       std::isalnum(static_cast<unsigned char>(bucket.back()));
    if (!valid) return Status::InvalidArgument("sync target '" + t + "': '" + bucket + "' is not a bucket name");
    return make_s3_store(config, bucket, prefix);
  }
  return Status::InvalidArgument("sync target '" + t + "' is neither s3://BUCKET[/PREFIX] nor file:///DIR");
}

}  // namespace dashloop::firmware::sync
