// file://DIR: a directory laid out exactly like the bucket. Every write lands
// under a temporary name and is renamed into place, so a reader never sees a
// half-written object; multipart parts wait under DIR/.multipart/<id>/.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "clips/package.hpp"
#include "sync/stores.hpp"

namespace dashloop::firmware::sync {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPartsDir = ".multipart";

std::string random_hex() {
  std::random_device rd;
  std::ostringstream s;
  s << std::hex << rd() << rd();
  return s.str();
}

bool is_temporary(const fs::path& p) { return p.filename().string().find(".tmp-") != std::string::npos; }

// Copies `bytes` of `from` starting at `offset` to `to` (a new file).
Status copy_range(const fs::path& from, int64_t offset, int64_t bytes, const fs::path& to, bool append = false) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Status::IOError(from.string() + ": cannot open");
  in.seekg(offset);
  std::ofstream out(to, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  if (!out) return Status::IOError(to.string() + ": cannot create");
  std::vector<char> buffer(1 << 20);
  while (bytes > 0) {
    const auto n = std::min<int64_t>(bytes, static_cast<int64_t>(buffer.size()));
    if (!in.read(buffer.data(), n)) return Status::IOError(from.string() + ": short read");
    if (!out.write(buffer.data(), n)) return Status::IOError(to.string() + ": write failed (disk full?)");
    bytes -= n;
  }
  out.close();
  if (!out) return Status::IOError(to.string() + ": write failed (disk full?)");
  return Status::Ok();
}

class FileStore final : public ObjectStore {
 public:
  explicit FileStore(fs::path root) : root_(std::move(root)) {}

  const std::string& prefix() const override { return prefix_; }
  Result<std::unique_ptr<ObjectStore>> open_another() const override {
    return std::unique_ptr<ObjectStore>(std::make_unique<FileStore>(root_));
  }
  std::string name(const std::string& key) const override { return (root_ / key).string(); }

  Status put_file(const std::string& key, const fs::path& file, const std::string& /*sha256*/) override {
    auto dest = path_of(key);
    if (!dest.ok()) return dest.status();
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(file, ec));
    if (ec) return Status::IOError(file.string() + ": " + ec.message());
    const fs::path tmp = temporary_for(*dest);
    if (Status st = copy_range(file, 0, size, tmp); !st.ok()) {
      fs::remove(tmp, ec);
      return st;
    }
    bytes_sent_ += size;
    return publish(tmp, *dest);
  }

  Status put_bytes(const std::string& key, const std::string& bytes, bool if_absent) override {
    auto dest = path_of(key);
    if (!dest.ok()) return dest.status();
    const fs::path tmp = temporary_for(*dest);
    {
      std::ofstream out(tmp, std::ios::binary);
      out << bytes;
      out.close();
      if (!out) return Status::IOError(tmp.string() + ": write failed (disk full?)");
    }
    bytes_sent_ += static_cast<int64_t>(bytes.size());
    if (!if_absent) return publish(tmp, *dest);
    // link() is the filesystem's create-only rename: it fails when the name exists.
    const int rc = ::link(tmp.c_str(), dest->c_str());
    const int err = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    if (rc == 0) return Status::Ok();
    if (err == EEXIST) return Status::AlreadyExists(dest->string() + ": exists");
    return Status::IOError(dest->string() + ": " + std::strerror(err));
  }

  Result<std::optional<std::string>> get_bytes(const std::string& key) override {
    auto path = path_of(key);
    if (!path.ok()) return path.status();
    std::ifstream in(*path, std::ios::binary);
    if (!in) return std::optional<std::string>();
    std::ostringstream s;
    s << in.rdbuf();
    return std::optional<std::string>(s.str());
  }

  Status get_file(const std::string& key, const fs::path& file) override {
    auto path = path_of(key);
    if (!path.ok()) return path.status();
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(*path, ec));
    if (ec) return Status::NotFound(name(key) + ": no such object");
    return copy_range(*path, 0, size, file);
  }

  Result<std::optional<ObjectInfo>> head(const std::string& key) override {
    auto path = path_of(key);
    if (!path.ok()) return path.status();
    std::error_code ec;
    const auto size = fs::file_size(*path, ec);
    if (ec) return std::optional<ObjectInfo>();
    auto sum = pipeline::clips::sha256_file(*path);
    if (!sum.ok()) return sum.status();
    return std::optional<ObjectInfo>(ObjectInfo{key, static_cast<int64_t>(size), *sum});
  }

  Status remove(const std::string& key) override {
    auto path = path_of(key);
    if (!path.ok()) return path.status();
    std::error_code ec;
    fs::remove(*path, ec);
    if (ec) return Status::IOError(path->string() + ": " + ec.message());
    return Status::Ok();
  }

  Result<std::vector<ObjectInfo>> list(const std::string& key_prefix) override {
    std::vector<ObjectInfo> out;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == kPartsDir) {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file() || is_temporary(it->path())) continue;
      const std::string key = fs::relative(it->path(), root_).generic_string();
      if (key.starts_with(key_prefix)) out.push_back({key, static_cast<int64_t>(it->file_size()), ""});
    }
    if (ec) return Status::IOError(root_.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Result<std::string> start_multipart(const std::string& key, const std::string& /*sha256*/) override {
    if (auto dest = path_of(key); !dest.ok()) return dest.status();
    const std::string id = random_hex();
    std::error_code ec;
    fs::create_directories(root_ / kPartsDir / id, ec);
    if (ec) return Status::IOError((root_ / kPartsDir / id).string() + ": " + ec.message());
    return id;
  }

  Result<std::string> put_part(const std::string& key, const std::string& upload_id, int number, const fs::path& file,
                               int64_t offset, int64_t bytes, const std::string& sha256) override {
    const fs::path dir = root_ / kPartsDir / upload_id;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::NotFound(name(key) + ": no multipart upload " + upload_id);
    const fs::path part = dir / std::to_string(number);
    const fs::path tmp = temporary_for(part);
    if (Status st = copy_range(file, offset, bytes, tmp); !st.ok()) return st;
    bytes_sent_ += bytes;
    if (Status st = publish(tmp, part); !st.ok()) return st;
    return sha256;
  }

  Status finish_multipart(const std::string& key, const std::string& upload_id,
                          const std::vector<PartEtag>& parts) override {
    auto dest = path_of(key);
    if (!dest.ok()) return dest.status();
    const fs::path dir = root_ / kPartsDir / upload_id;
    const fs::path tmp = temporary_for(*dest);
    std::error_code ec;
    fs::create_directories(dest->parent_path(), ec);
    for (size_t i = 0; i < parts.size(); ++i) {
      const fs::path part = dir / std::to_string(parts[i].number);
      const auto size = static_cast<int64_t>(fs::file_size(part, ec));
      if (ec) return Status::InvalidArgument(name(key) + ": part " + std::to_string(parts[i].number) + " was never uploaded");
      if (Status st = copy_range(part, 0, size, tmp, i > 0); !st.ok()) return st;
    }
    if (Status st = publish(tmp, *dest); !st.ok()) return st;
    fs::remove_all(dir, ec);
    return Status::Ok();
  }

  Result<std::vector<StoredPart>> list_parts(const std::string& key, const std::string& upload_id) override {
    const fs::path dir = root_ / kPartsDir / upload_id;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::NotFound(name(key) + ": no multipart upload " + upload_id);
    std::vector<StoredPart> out;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (!entry.is_regular_file() || is_temporary(entry.path()) ||
          file.find_first_not_of("0123456789") != std::string::npos)
        continue;
      // A part's ETag here is its sha256, as put_part answered.
      const auto size = static_cast<int64_t>(entry.file_size());
      auto sum = sha256_range(entry.path(), 0, size);
      if (!sum.ok()) return sum.status();
      out.push_back({std::stoi(file), *sum, size});
    }
    if (ec) return Status::IOError(dir.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](const StoredPart& a, const StoredPart& b) { return a.number < b.number; });
    return out;
  }

  Status abort_multipart(const std::string& /*key*/, const std::string& upload_id) override {
    std::error_code ec;
    fs::remove_all(root_ / kPartsDir / upload_id, ec);
    return Status::Ok();
  }

 private:
  // A key names a file under the root, never anything outside it.
  Result<fs::path> path_of(const std::string& key) const {
    const fs::path rel = fs::path(key).lexically_normal();
    if (key.empty() || rel.is_absolute() || rel.begin()->string() == ".." || rel.begin()->string() == kPartsDir)
      return Status::InvalidArgument("object key '" + key + "' leaves the target " + root_.string());
    return root_ / rel;
  }
  static fs::path temporary_for(const fs::path& dest) {
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    return dest.parent_path() / (dest.filename().string() + ".tmp-" + random_hex());
  }
  static Status publish(const fs::path& tmp, const fs::path& dest) {
    std::error_code ec;
    fs::rename(tmp, dest, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return Status::IOError(dest.string() + ": " + ec.message());
    }
    return Status::Ok();
  }

  fs::path root_;
  std::string prefix_;
};

}  // namespace

std::unique_ptr<ObjectStore> make_file_store(const fs::path& root) { return std::make_unique<FileStore>(root); }

}  // namespace dashloop::firmware::sync
