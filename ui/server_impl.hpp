// What the depot UI server's files share: request helpers (errors as JSON,
// fields, files served with ranges), the package readers, and the one
// UiServer::Impl with its state and every route's handler. Not the
// contract (server.hpp is); only ui/*.cpp include it. The routes are
// defined by what they serve: routes_session.cpp, routes_queue.cpp,
// routes_edits.cpp, routes_media.cpp, routes_station.cpp,
// routes_metrics.cpp; server.cpp starts the server and maps the paths.
#pragma once

#include "server.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "auth.hpp"
#include "catalog/catalog.hpp"
#include "clips/package.hpp"
#include "media/frame_reader.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"
#include "metrics.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::ui {

namespace cat = firmware::catalog;
namespace clips = pipeline::clips;

using Clock = std::chrono::steady_clock;

inline constexpr const char* kCookie = "dashloop_session";
inline constexpr size_t kWorkers = 256;
inline constexpr size_t kMaxEvents = 256;  // kept for pages that reconnect
inline constexpr size_t kMaxErrors = 20;   // the station screen's recent errors
inline const std::regex kUid("[A-Za-z0-9-]{1,64}_d[0-9]{1,12}_c[0-9]{1,12}");

// Now (plus some seconds) in the bus's and the catalog's UTC format.
inline std::string utc_now(double plus_s = 0) {
  return pipeline::media::utc_at(std::chrono::system_clock::now() +
                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                     std::chrono::duration<double>(plus_s)));
}

// A 4xx or 5xx with its reason as JSON: {"error": "..."}.
inline void fail(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(json{{"error", message}}.dump(), "application/json");
}

inline void reply(httplib::Response& res, const json& body) { res.set_content(body.dump(), "application/json"); }

// A member of a request's object, or null: a const json's operator[] on a
// missing key is undefined behaviour, and the body is the client's.
inline const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

// The HTTP answer to a catalog or package error.
inline int code_of(const Status& st) {
  switch (st.kind()) {
    case Status::Kind::kInvalidArgument: return 400;
    case Status::Kind::kNotFound: return 404;
    case Status::Kind::kUnsupported: return 409;
    default: return 500;
  }
}

// A refused edit or move: the clip's state does not allow it (409).
inline int conflict_or(const Status& st) { return st.kind() == Status::Kind::kInvalidArgument ? 409 : code_of(st); }

inline std::string content_type_of(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".mp4") return "video/mp4";
  if (ext == ".jpg") return "image/jpeg";
  if (ext == ".json") return "application/json";
  if (ext == ".xml") return "application/xml";
  if (ext == ".txt") return "text/plain";
  return "application/octet-stream";
}

// A file as the response, with HTTP range requests (httplib answers a
// Range header with 206 from a provider of known length; a range past the
// end is ours to refuse: httplib 0.11 would promise a negative length).
// Whether `file`, its links followed, is inside `root`: a link out of a
// package or the web folder is not served.
inline bool inside(const fs::path& root, const fs::path& file) {
  std::error_code ec;
  const fs::path r = fs::weakly_canonical(root, ec);
  if (ec) return false;
  const fs::path f = fs::weakly_canonical(file, ec);
  if (ec) return false;
  return std::mismatch(r.begin(), r.end(), f.begin(), f.end()).first == r.end();
}

inline bool serve_file(const httplib::Request& req, httplib::Response& res, const fs::path& file, const std::string& type) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return false;
  for (const auto& [first, last] : req.ranges) {
    const bool ok = first >= 0 ? uint64_t(first) < size && (last < 0 || last >= first) : last > 0;
    if (!ok) {
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      res.set_content(json{{"error", "Range: outside the file's " + std::to_string(size) + " bytes"}}.dump(),
                      "application/json");
      return true;
    }
  }
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (!*in) return false;
  res.set_header("Cache-Control", "private, max-age=3600");
  res.set_content_provider(size, type, [in](size_t offset, size_t length, httplib::DataSink& sink) {
    char buf[64 * 1024];
    in->clear();
    in->seekg(std::streamoff(offset));
    const auto n = std::min(length, sizeof buf);
    in->read(buf, std::streamsize(n));
    const auto got = size_t(in->gcount());
    return got > 0 && sink.write(buf, got);
  });
  return true;
}

inline std::optional<json> read_json_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The body as a JSON object, or a 400 naming what is wrong.
inline std::optional<json> body_object(const httplib::Request& req, httplib::Response& res) {
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    fail(res, 400, "body: not a JSON object");
    return std::nullopt;
  }
  return j;
}

// A string field: present (when `required`), a string, at most max_len.
inline std::optional<std::string> string_field(const json& body, const char* name, httplib::Response& res, bool required,
                                        size_t max_len = 256) {
  auto it = body.find(name);
  if (it == body.end()) {
    if (required) fail(res, 400, std::string(name) + ": required");
    return required ? std::nullopt : std::optional<std::string>("");
  }
  if (!it->is_string()) {
    fail(res, 400, std::string(name) + ": must be a string");
    return std::nullopt;
  }
  auto s = it->get<std::string>();
  if (s.size() > max_len) {
    fail(res, 400, std::string(name) + ": at most " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return s;
}

struct Principal {
  std::string name;
  std::string role;  // operator | reader
  std::string csrf;  // operators: the session's token every change must carry
  std::string scope;  // readers: read | ack
  std::string actor() const { return role + ":" + name; }
};

struct Session {
  std::string name;
  std::string csrf;
  Clock::time_point expires;
};

// One package's boxes on its own frames, read from its MOT file (one line
// per visible box, 1-based frames, class ids into labels.txt), by the
// drive's track number (the manifest's `tracks` maps MOT ids to it).
struct PackageTrack {
  int track = 0;  // the drive's track number
  std::string label;
  std::vector<std::array<double, 6>> boxes;  // frame (0-based), x, y, w, h, occluded
};

inline Result<std::vector<PackageTrack>> read_mot(const fs::path& package) {
  std::map<int, int> track_no;  // MOT id -> the drive's track
  {
    std::ifstream in(package / "manifest.json");
    const json m = json::parse(in, nullptr, false);
    if (m.is_discarded() || !m.contains("tracks"))
      return Status::Unsupported((package / "manifest.json").string() +
                                 ": no track list (a package from before Dashloop's review edits)");
    for (const auto& t : m["tracks"]) track_no[t.value("mot_id", 0)] = t.value("track_no", 0);
  }
  std::vector<std::string> labels;
  {
    std::ifstream in(package / "labels" / "mot" / "gt" / "labels.txt");
    if (!in) return Status::NotFound((package / "labels/mot/gt/labels.txt").string() + ": missing");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) labels.push_back(line);
  }
  std::ifstream in(package / "labels" / "mot" / "gt" / "gt.txt");
  if (!in) return Status::NotFound((package / "labels/mot/gt/gt.txt").string() + ": missing");
  std::map<int, PackageTrack> tracks;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    double f, id, x, y, w, h, ignored, cls, vis;
    char c;
    std::istringstream row(line);
    if (!(row >> f >> c >> id >> c >> x >> c >> y >> c >> w >> c >> h >> c >> ignored >> c >> cls >> c >> vis))
      return Status::Corruption((package / "labels/mot/gt/gt.txt").string() + ": unreadable line '" + line + "'");
    auto no = track_no.find(int(id));
    if (no == track_no.end())
      return Status::Corruption((package / "labels/mot/gt/gt.txt").string() + ": MOT id " + std::to_string(int(id)) +
                                " is not in the manifest's tracks");
    auto& t = tracks[no->second];
    t.track = no->second;
    const size_t k = size_t(cls) - 1;
    t.label = k < labels.size() ? labels[k] : "?";
    t.boxes.push_back({f - 1, x, y, w, h, vis > 0 ? 0.0 : 1.0});
  }
  std::vector<PackageTrack> out;
  for (auto& [id, t] : tracks) out.push_back(std::move(t));
  return out;
}

struct UiServer::Impl {
  UiOptions options;
  UiHooks hooks;
  std::unique_ptr<httplib::Server> server;
  int listening = -1;  // its listening socket (httplib owns it)
  std::thread listener;
  std::string url;
  std::atomic<bool> stopping{false};

  std::mutex db_mutex;  // one connection; queries are short, rebuilds run on their own
  std::unique_ptr<cat::Catalog> catalog;

  std::mutex sessions_mutex;
  std::map<std::string, Session> sessions;  // by cookie token

  std::mutex events_mutex;
  std::condition_variable events_wake;
  std::deque<std::pair<uint64_t, std::string>> events;  // (sequence, JSON)
  uint64_t next_event = 1;
  std::deque<json> errors;

  std::mutex thumbs_mutex;  // one thumbnail made at a time
  std::mutex times_mutex;   // one clip's frame times read at a time

  // Clips whose edit is being built. A decision or a second edit on one is
  // refused (409) until the build ends: an approval made meanwhile was
  // silently undone by the edit's move back to review, and the approved
  // package rewritten. Checked and changed under editing_mutex together
  // with the clip's state, so no decision slips between the two.
  std::mutex editing_mutex;
  std::set<int64_t> editing;
  Status not_editing(const cat::ClipRecord& c) const {
    if (editing.count(c.id))
      return Status::InvalidArgument("clip " + c.uid + ": an edit of it is being built; try again when it is done");
    return Status::Ok();
  }

  // Password hashes running now. Each scrypt takes 32 MiB and a core for
  // 0.1 s: 16 wrong logins at once doubled the UI's memory and made the 17th
  // wait 8 s, so beyond two at a time a login is told to come back (429).
  static constexpr int kMaxHashing = 2;
  std::atomic<int> hashing{0};
  // A turn to hash, held until it goes out of scope; false: none free, and
  // the answer is already a 429.
  struct HashTurn {
    HashTurn(std::atomic<int>& n, bool got) : n(n), got(got) {}
    HashTurn(const HashTurn&) = delete;  // one decrement per turn taken
    ~HashTurn() { --n; }
    explicit operator bool() const { return got; }
    std::atomic<int>& n;
    bool got;
  };
  HashTurn hash_turn(httplib::Response& res);

  // Wrong logins by client address. Past kFreeFailures, an address waits
  // address_wait_s, then twice that, ... up to lockout_s between tries
  // (429): with an account locking after 5, one address locks at most one
  // account in a minute and a half and needs hours for ten, while other
  // addresses log in as before. Forgotten after lockout_s without a failure;
  // at most kMaxAddresses kept (the stalest goes first), so addresses cannot
  // grow the server's memory.
  struct AddressFailures {
    int count = 0;
    Clock::time_point last, wait_until;
  };
  static constexpr int kFreeFailures = 3;
  static constexpr size_t kMaxAddresses = 4096;
  std::mutex throttle_mutex;
  std::unordered_map<std::string, AddressFailures> failures_by_address;

  int64_t throttled_s(const std::string& address);

  void login_outcome(const std::string& address, bool ok);

  // --- auth -------------------------------------------------------------

  std::optional<Principal> authenticate(const httplib::Request& req);

  static std::string cookie(const httplib::Request& req);

  std::optional<Principal> require(const httplib::Request& req, httplib::Response& res, bool operator_only,
                                   bool change);

  void login(const httplib::Request& req, httplib::Response& res);

  void logout(const httplib::Request& req, httplib::Response& res);

  // --- clips ------------------------------------------------------------

  std::optional<cat::ClipRecord> clip_of(const std::string& uid, httplib::Response& res);

  static json card(const cat::ClipRecord& c);

  void list_clips(const httplib::Request& req, httplib::Response& res);

  void facets(const httplib::Request& req, httplib::Response& res);

  std::vector<int64_t> cut_points(const cat::ClipRecord& c);

  static json frame_times(const fs::path& clip);

  json cached_frame_times(const cat::ClipRecord& c);

  std::vector<std::string> allowed_labels(const json& manifest);

  void clip_detail(const httplib::Request& req, httplib::Response& res);

  void original(const httplib::Request& req, httplib::Response& res);

  void clip_boxes(const httplib::Request& req, httplib::Response& res);

  static std::string not_redacted(const cat::ClipRecord& c);

  void clip_file(const httplib::Request& req, httplib::Response& res);

  void thumbnail(const httplib::Request& req, httplib::Response& res);

  void move(const cat::ClipRecord& c, const std::string& to, const Principal& who, const std::string& reason,
            httplib::Response& res);

  void changed(const std::string& uid, const std::string& state, const Principal& who, const std::string& reason);

  bool same_version(const cat::ClipRecord& c, const json& body, httplib::Response& res);

  void action(const httplib::Request& req, httplib::Response& res);

  void edit(const cat::ClipRecord& c, const json& body, const Principal& who, httplib::Response& res);

  std::optional<json> drawn_key(const cat::ClipRecord& c, const json& manifest, const json& a, const std::string& field,
                                const std::string& shape, httplib::Response& res);

  static void put_key(json& keys, const json& key);

  bool add_box(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
               const std::set<int>& tracks, httplib::Response& res);

  bool add_redaction(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
                     httplib::Response& res);

  void ack(const httplib::Request& req, httplib::Response& res);

  // --- station ----------------------------------------------------------

  void station(const httplib::Request& req, httplib::Response& res);

  void metrics(const httplib::Request& req, httplib::Response& res);

  void camera_keyframe(const httplib::Request& req, httplib::Response& res);

  // --- live events ------------------------------------------------------

  void publish(const std::string& event_json);

  void event_stream(const httplib::Request& req, httplib::Response& res);

  void meta(const httplib::Request& req, httplib::Response& res);

  void routes();
};

}  // namespace dashloop::ui
