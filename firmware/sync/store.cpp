#include "sync/store.hpp"

#include <glib.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <vector>

#include "handle.hpp"

#include "sync/stores.hpp"

namespace dashloop::firmware::sync {

std::string sha256_hex(const std::string& bytes) {
  gchar* sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(bytes.data()),
                                           bytes.size());
  std::string out(sum);
  g_free(sum);
  return out;
}

Result<std::string> sha256_range(const std::filesystem::path& file, int64_t offset, int64_t bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::IOError(file.string() + ": cannot open");
  in.seekg(offset);
  Handle<GChecksum, g_checksum_free> sum(g_checksum_new(G_CHECKSUM_SHA256));
  std::vector<char> buffer(1 << 20);
  while (bytes > 0) {
    const auto n = std::min<int64_t>(bytes, static_cast<int64_t>(buffer.size()));
    if (!in.read(buffer.data(), n)) return Status::IOError(file.string() + ": shorter than expected");
    g_checksum_update(sum.get(), reinterpret_cast<const guchar*>(buffer.data()), static_cast<gssize>(n));
    bytes -= n;
  }
  return std::string(g_checksum_get_string(sum.get()));
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
