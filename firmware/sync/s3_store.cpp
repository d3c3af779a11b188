// s3://BUCKET/PREFIX over libcurl: requests signed by libcurl's own AWS SigV4
// (CURLOPT_AWS_SIGV4), with the payload's real sha256 in
// x-amz-content-sha256, so the server checks every body it takes
// (XAmzContentSHA256Mismatch) and a part is never stored corrupt. Files are
// streamed from disk, never loaded whole. One store is used by one thread.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>

#include "handle.hpp"
#include "sync/stores.hpp"

namespace dashloop::firmware::sync {
namespace {

namespace fs = std::filesystem;
using CurlPtr = Handle<CURL, curl_easy_cleanup>;
using SlistPtr = Handle<curl_slist, curl_slist_free_all>;
using UrlPtr = Handle<CURLU, curl_url_cleanup>;
using CurlString = Handle<char, curl_free>;
constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// RFC 3986 unreserved characters stay; '/' stays in paths.
std::string uri_encode(const std::string& s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string xml_unescape(std::string s) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&quot;", "\""}, {"&apos;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) s.replace(at, strlen(from), to);
  }
  return s;
}

// The text of each <tag>...</tag> in `xml`, in order. S3's replies are flat
// enough (ListObjectsV2, InitiateMultipartUpload, Error) for this.
std::vector<std::string> xml_texts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    const size_t begin = at + open.size(), end = xml.find(close, begin);
    if (end == std::string::npos) break;
    out.push_back(xml_unescape(xml.substr(begin, end - begin)));
    at = end + close.size();
  }
  return out;
}
std::string xml_text(const std::string& xml, const std::string& tag) {
  auto all = xml_texts(xml, tag);
  return all.empty() ? "" : all.front();
}

struct Request {
  std::string method = "GET";  // GET HEAD PUT POST DELETE
  std::string key;             // "" : the bucket itself
  std::string query;           // already canonical: sorted, encoded, every name with '='
  std::vector<std::string> headers;
  const std::string* body = nullptr;  // in memory
  const fs::path* file = nullptr;     // or a range of a file
  int64_t offset = 0, length = 0;
  std::string payload_sha256 = kEmptySha256;
  const fs::path* out_file = nullptr;  // GET into a file instead of the reply
};

Request request(std::string method, std::string key, std::string query = "",
                std::vector<std::string> headers = {}) {
  Request r;
  r.method = std::move(method);
  r.key = std::move(key);
  r.query = std::move(query);
  r.headers = std::move(headers);
  return r;
}

struct Reply {
  long code = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lowercased
};

struct BodySource {
  const std::string* text = nullptr;
  std::ifstream* file = nullptr;
  int64_t left = 0;
  size_t text_at = 0;
  std::atomic<int64_t>* sent = nullptr;
  std::unique_lock<std::mutex> wire;  // held from the first byte of the body to the last
};

size_t read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* src = static_cast<BodySource*>(user);
  const auto n = static_cast<size_t>(std::min<int64_t>(src->left, static_cast<int64_t>(size * count)));
  if (n == 0) return 0;
  if (src->text) {
    std::memcpy(buffer, src->text->data() + src->text_at, n);
    src->text_at += n;
  } else if (!src->file->read(buffer, static_cast<std::streamsize>(n))) {
    return CURL_READFUNC_ABORT;
  }
  src->left -= static_cast<int64_t>(n);
  *src->sent += static_cast<int64_t>(n);
  // The whole body is in libcurl's hands: another lane's may go out while
  // this request waits for the store's answer.
  if (src->left == 0 && src->wire.owns_lock()) src->wire.unlock();
  return n;
}

struct Sink {
  std::string* text = nullptr;
  std::ofstream* file = nullptr;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->file) {
    if (!sink->file->write(data, static_cast<std::streamsize>(size * count))) return 0;
  } else {
    sink->text->append(data, size * count);
  }
  return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel && cancel->load() ? 1 : 0;
}

size_t read_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  if (const auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    (*headers)[name] = value;
  }
  return size * count;
}

bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

class S3Store final : public ObjectStore {
 public:
  S3Store(StoreConfig config, std::string bucket, std::string prefix, std::string base_url,
          std::shared_ptr<std::mutex> wire)
      : config_(std::move(config)),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        base_url_(std::move(base_url)),
        wire_(std::move(wire)),
        curl_(curl_easy_init()) {}

  const std::string& prefix() const override { return prefix_; }
  Result<std::unique_ptr<ObjectStore>> open_another() const override {
    return std::unique_ptr<ObjectStore>(std::make_unique<S3Store>(config_, bucket_, prefix_, base_url_, wire_));
  }
  std::string name(const std::string& key) const override { return "s3://" + bucket_ + "/" + prefix_ + key; }

  Status put_file(const std::string& key, const fs::path& file, const std::string& sha256) override {
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(file, ec));
    if (ec) return Status::IOError(file.string() + ": " + ec.message());
    Request r = request("PUT", key, "", {"x-amz-meta-sha256: " + sha256});
    r.file = &file;
    r.length = size;
    r.payload_sha256 = sha256;
    return perform(r).status();
  }

  Status put_bytes(const std::string& key, const std::string& bytes, bool if_absent) override {
    const std::string sum = sha256_hex(bytes);
    Request r = request("PUT", key, "", {"x-amz-meta-sha256: " + sum});
    if (if_absent) r.headers.push_back("If-None-Match: *");
    r.body = &bytes;
    r.length = static_cast<int64_t>(bytes.size());
    r.payload_sha256 = sum;
    return perform(r).status();
  }

  Result<std::optional<std::string>> get_bytes(const std::string& key) override {
    auto reply = perform(request("GET", key));
    if (!reply.ok()) {
      if (reply.status().kind() == Status::Kind::kNotFound) return std::optional<std::string>();
      return reply.status();
    }
    return std::optional<std::string>(std::move(reply->body));
  }

  Status get_file(const std::string& key, const fs::path& file) override {
    Request r = request("GET", key);
    r.out_file = &file;
    return perform(r).status();
  }

  Result<std::optional<ObjectInfo>> head(const std::string& key) override {
    auto reply = perform(request("HEAD", key));
    if (!reply.ok()) {
      if (reply.status().kind() == Status::Kind::kNotFound) return std::optional<ObjectInfo>();
      return reply.status();
    }
    ObjectInfo info{key, 0, reply->headers["x-amz-meta-sha256"]};
    try {
      info.size = std::stoll(reply->headers["content-length"]);
    } catch (const std::exception&) {
      return Status::IOError(name(key) + ": HEAD without a Content-Length");
    }
    return std::optional<ObjectInfo>(info);
  }

  Status remove(const std::string& key) override {
    auto reply = perform(request("DELETE", key));
    if (!reply.ok() && reply.status().kind() != Status::Kind::kNotFound) return reply.status();
    return Status::Ok();
  }

  Result<std::vector<ObjectInfo>> list(const std::string& key_prefix) override {
    std::vector<ObjectInfo> out;
    std::string token;
    for (;;) {
      // Query names in SigV4's canonical (sorted) order.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + uri_encode(token, false) + "&";
      query += "list-type=2&prefix=" + uri_encode(prefix_ + key_prefix, false);
      auto reply = perform(request("GET", "", query));
      if (!reply.ok()) return reply.status();
      for (const std::string& entry : xml_texts(reply->body, "Contents")) {
        std::string key = xml_text(entry, "Key");
        if (!key.starts_with(prefix_)) continue;
        ObjectInfo info{key.substr(prefix_.size()), 0, ""};
        try {
          info.size = std::stoll(xml_text(entry, "Size"));
        } catch (const std::exception&) {
          return Status::IOError(name("") + ": a listing without sizes");
        }
        out.push_back(std::move(info));
      }
      if (xml_text(reply->body, "IsTruncated") != "true") break;
      token = xml_text(reply->body, "NextContinuationToken");
      if (token.empty()) return Status::IOError(name("") + ": a truncated listing without a continuation token");
    }
    return out;
  }

  Result<std::string> start_multipart(const std::string& key, const std::string& sha256) override {
    const std::string empty;
    Request r = request("POST", key, "uploads=", {"x-amz-meta-sha256: " + sha256});
    r.body = &empty;
    auto reply = perform(r);
    if (!reply.ok()) return reply.status();
    std::string id = xml_text(reply->body, "UploadId");
    if (id.empty()) return Status::IOError(name(key) + ": the server gave no UploadId");
    return id;
  }

  Result<std::string> put_part(const std::string& key, const std::string& upload_id, int number, const fs::path& file,
                               int64_t offset, int64_t bytes, const std::string& sha256) override {
    Request r = request("PUT", key, "partNumber=" + std::to_string(number) + "&uploadId=" + uri_encode(upload_id, false));
    r.file = &file;
    r.offset = offset;
    r.length = bytes;
    r.payload_sha256 = sha256;
    auto reply = perform(r);
    if (!reply.ok()) return reply.status();
    std::string etag = reply->headers["etag"];
    if (etag.empty()) return Status::IOError(name(key) + ": part " + std::to_string(number) + " got no ETag");
    return etag;
  }

  Status finish_multipart(const std::string& key, const std::string& upload_id,
                          const std::vector<PartEtag>& parts) override {
    std::string body = "<CompleteMultipartUpload>";
    for (const PartEtag& p : parts)
      body += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + p.etag + "</ETag></Part>";
    body += "</CompleteMultipartUpload>";
    Request r = request("POST", key, "uploadId=" + uri_encode(upload_id, false));
    r.body = &body;
    r.length = static_cast<int64_t>(body.size());
    r.payload_sha256 = sha256_hex(body);
    auto reply = perform(r);
    if (!reply.ok()) return reply.status();
    // S3 may answer 200 and still fail the completion in the body.
    if (reply->body.find("<Error>") != std::string::npos)
      return error_of("POST", key, 500, reply->body);
    return Status::Ok();
  }

  Result<std::vector<StoredPart>> list_parts(const std::string& key, const std::string& upload_id) override {
    std::vector<StoredPart> out;
    std::string marker;
    for (;;) {
      // Query names in SigV4's canonical (sorted) order.
      std::string query = marker.empty() ? "" : "part-number-marker=" + marker + "&";
      query += "uploadId=" + uri_encode(upload_id, false);
      auto reply = perform(request("GET", key, query));
      if (!reply.ok()) return reply.status();
      for (const std::string& entry : xml_texts(reply->body, "Part")) {
        StoredPart part;
        try {
          part.number = std::stoi(xml_text(entry, "PartNumber"));
          part.size = std::stoll(xml_text(entry, "Size"));
        } catch (const std::exception&) {
          return Status::IOError(name(key) + ": a part listing without numbers or sizes");
        }
        part.etag = xml_text(entry, "ETag");
        out.push_back(std::move(part));
      }
      if (xml_text(reply->body, "IsTruncated") != "true") break;
      marker = xml_text(reply->body, "NextPartNumberMarker");
      if (marker.empty()) return Status::IOError(name(key) + ": a truncated part listing without a marker");
    }
    return out;
  }

  Status abort_multipart(const std::string& key, const std::string& upload_id) override {
    auto reply = perform(request("DELETE", key, "uploadId=" + uri_encode(upload_id, false)));
    if (!reply.ok() && reply.status().kind() != Status::Kind::kNotFound) return reply.status();
    return Status::Ok();
  }

 private:
  // A failed reply as a Status: transient (kUnavailable) or not, naming the
  // object and S3's own error code.
  Status error_of(const std::string& method, const std::string& key, long code, const std::string& body) const {
    std::string what = method + " " + name(key) + ": HTTP " + std::to_string(code);
    if (std::string s3_code = xml_text(body, "Code"); !s3_code.empty()) what += " " + s3_code;
    if (std::string message = xml_text(body, "Message"); !message.empty()) what += " (" + message + ")";
    const std::string s3_code = xml_text(body, "Code");
    if (code == 401 || code == 403 || s3_code == "NoSuchBucket")
      return Status::PermissionDenied(what + "; check the credentials, their rights and the bucket");
    if (code == 404) return Status::NotFound(what);
    if (code == 412) return Status::AlreadyExists(what);
    if (code == 408 || code == 429 || code >= 500) return Status::Unavailable(what);
    return Status::IOError(what);
  }

  Result<Reply> perform(const Request& r) {
    CURL* c = curl_.get();
    if (!c) return Status::Internal("libcurl: no handle");
    curl_easy_reset(c);  // keeps the connection cache
    std::string url = base_url_ + (r.key.empty() ? "" : uri_encode(prefix_ + r.key, true));
    if (!r.query.empty()) url += "?" + r.query;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.access_key.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, config_.secret_key.c_str());
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    // A stalled transfer (under 1 byte/s for timeout_s) fails rather than hangs.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max(1.0, config_.timeout_s)));
    if (config_.max_bytes_per_s > 0)
      curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, static_cast<curl_off_t>(config_.max_bytes_per_s));

    curl_slist* raw = nullptr;
    raw = curl_slist_append(raw, ("x-amz-content-sha256: " + r.payload_sha256).c_str());
    // No "Expect:" override: libcurl 7.88 signs it as a header and then drops it (403 SignatureDoesNotMatch).
    for (const std::string& h : r.headers) raw = curl_slist_append(raw, h.c_str());
    SlistPtr headers(raw);

    std::ifstream file_in;
    BodySource source;
    source.text = r.body;
    source.left = r.length;
    source.sent = &bytes_sent_;
    if (r.file) {
      file_in.open(*r.file, std::ios::binary);
      if (!file_in) return Status::IOError(r.file->string() + ": cannot open");
      file_in.seekg(r.offset);
      source.file = &file_in;
      source.text = nullptr;
    }
    if (r.method == "PUT") {
      // One body on the wire at a time across this store and those opened
      // from it: the other lanes overlap only their wait for the store's
      // answer, so a kill or a lost link cuts at most one body short, and
      // the bandwidth cap holds for them all together.
      if (r.length > 0) source.wire = std::unique_lock(*wire_);
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
      curl_easy_setopt(c, CURLOPT_READDATA, &source);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.length));
      curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);  // fewer, larger reads of the file
      curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 1L);
    } else if (r.method == "POST") {
      headers.reset(curl_slist_append(headers.release(), "Content-Type: application/xml"));
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body ? r.body->data() : "");
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body ? r.body->size() : 0));
    } else if (r.method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (r.method == "DELETE") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

    Reply reply;
    std::ofstream file_out;
    Sink sink;
    sink.text = &reply.body;
    fs::path partial;
    if (r.out_file) {
      partial = r.out_file->string() + ".part";
      file_out.open(partial, std::ios::binary | std::ios::trunc);
      if (!file_out) return Status::IOError(partial.string() + ": cannot create");
      sink.file = &file_out;
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, cancel_);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, cancel_ ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply.headers);

    const CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.code);
    if (r.out_file) file_out.close();
    std::error_code ec;
    if (rc != CURLE_OK) {
      if (r.out_file) fs::remove(partial, ec);
      std::string what = r.method + " " + name(r.key) + ": " + curl_easy_strerror(rc);
      if (cancel_ && cancel_->load()) return Status::Unavailable(r.method + " " + name(r.key) + ": stopped");
      if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR)
        return Status::IOError(what + " (reading " + (r.file ? r.file->string() : "the body") + ")");
      return transient(rc) ? Status::Unavailable(what) : Status::IOError(what);
    }
    if (reply.code < 200 || reply.code >= 300) {
      if (r.out_file) {
        // The error document went to the file: read it back for the message.
        std::ifstream in(partial);
        reply.body.assign(std::istreambuf_iterator<char>(in), {});
        fs::remove(partial, ec);
      }
      return error_of(r.method, r.key, reply.code, reply.body);
    }
    if (r.out_file) {
      if (!file_out) return Status::IOError(partial.string() + ": write failed (disk full?)");
      fs::rename(partial, *r.out_file, ec);
      if (ec) return Status::IOError(r.out_file->string() + ": " + ec.message());
    }
    return reply;
  }

  StoreConfig config_;
  std::string bucket_, prefix_, base_url_;
  std::shared_ptr<std::mutex> wire_;  // shared by the lanes' stores
  std::string sigv4_ = "aws:amz:" + config_.region + ":s3";
  CurlPtr curl_;
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> make_s3_store(const StoreConfig& config, const std::string& bucket,
                                                   const std::string& prefix) {
  const std::string endpoint =
      config.endpoint.empty() ? "https://s3." + config.region + ".amazonaws.com" : config.endpoint;
  // libcurl's own URL parser: a malformed endpoint is refused here, by name.
  UrlPtr url(curl_url());
  if (!url || curl_url_set(url.get(), CURLUPART_URL, endpoint.c_str(), 0) != CURLUE_OK)
    return Status::InvalidArgument("sync endpoint '" + endpoint + "' is not a URL (http(s)://host[:port])");
  char* raw = nullptr;
  if (curl_url_get(url.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK)
    return Status::InvalidArgument("sync endpoint '" + endpoint + "' has no scheme");
  const std::string scheme = CurlString(raw).get();
  if (scheme != "http" && scheme != "https")
    return Status::InvalidArgument("sync endpoint '" + endpoint + "': only http:// and https:// are supported");
  if (!config.path_style) {
    if (curl_url_get(url.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK)
      return Status::InvalidArgument("sync endpoint '" + endpoint + "' has no host");
    const std::string host = bucket + "." + CurlString(raw).get();
    curl_url_set(url.get(), CURLUPART_HOST, host.c_str(), 0);
  }
  curl_url_set(url.get(), CURLUPART_PATH, config.path_style ? ("/" + bucket + "/").c_str() : "/", 0);
  if (curl_url_get(url.get(), CURLUPART_URL, &raw, 0) != CURLUE_OK)
    return Status::InvalidArgument("sync endpoint '" + endpoint + "' cannot take bucket '" + bucket + "'");
  std::string base = CurlString(raw).get();
  if (config.access_key.empty() || config.secret_key.empty())
    return Status::InvalidArgument("sync to s3://" + bucket + ": no credentials (credentials_file, or "
                                   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  auto store = std::make_unique<S3Store>(config, bucket, prefix, std::move(base), std::make_shared<std::mutex>());
  return std::unique_ptr<ObjectStore>(std::move(store));
}

}  // namespace dashloop::firmware::sync
