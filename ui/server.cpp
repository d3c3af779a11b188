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
namespace {

namespace cat = firmware::catalog;
namespace clips = pipeline::clips;
using Clock = std::chrono::steady_clock;

constexpr const char* kCookie = "dashloop_session";
constexpr size_t kWorkers = 256;
constexpr size_t kMaxEvents = 256;  // kept for pages that reconnect
constexpr size_t kMaxErrors = 20;   // the station screen's recent errors
const std::regex kUid("[A-Za-z0-9-]{1,64}_d[0-9]{1,12}_c[0-9]{1,12}");

// Now (plus some seconds) in the bus's and the catalog's UTC format.
std::string utc_now(double plus_s = 0) {
  return pipeline::media::utc_at(std::chrono::system_clock::now() +
                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                     std::chrono::duration<double>(plus_s)));
}

// A 4xx or 5xx with its reason as JSON: {"error": "..."}.
void fail(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(json{{"error", message}}.dump(), "application/json");
}

void reply(httplib::Response& res, const json& body) { res.set_content(body.dump(), "application/json"); }

// A member of a request's object, or null: a const json's operator[] on a
// missing key is undefined behaviour, and the body is the client's.
const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

// The HTTP answer to a catalog or package error.
int code_of(const Status& st) {
  switch (st.kind()) {
    case Status::Kind::kInvalidArgument: return 400;
    case Status::Kind::kNotFound: return 404;
    case Status::Kind::kUnsupported: return 409;
    default: return 500;
  }
}

// A refused edit or move: the clip's state does not allow it (409).
int conflict_or(const Status& st) { return st.kind() == Status::Kind::kInvalidArgument ? 409 : code_of(st); }

std::string content_type_of(const fs::path& p) {
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
bool inside(const fs::path& root, const fs::path& file) {
  std::error_code ec;
  const fs::path r = fs::weakly_canonical(root, ec);
  if (ec) return false;
  const fs::path f = fs::weakly_canonical(file, ec);
  if (ec) return false;
  return std::mismatch(r.begin(), r.end(), f.begin(), f.end()).first == r.end();
}

bool serve_file(const httplib::Request& req, httplib::Response& res, const fs::path& file, const std::string& type) {
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

std::optional<json> read_json_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The body as a JSON object, or a 400 naming what is wrong.
std::optional<json> body_object(const httplib::Request& req, httplib::Response& res) {
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    fail(res, 400, "body: not a JSON object");
    return std::nullopt;
  }
  return j;
}

// A string field: present (when `required`), a string, at most max_len.
std::optional<std::string> string_field(const json& body, const char* name, httplib::Response& res, bool required,
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

Result<std::vector<PackageTrack>> read_mot(const fs::path& package) {
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

}  // namespace

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
  HashTurn hash_turn(httplib::Response& res) {
    const bool got = hashing.fetch_add(1) < kMaxHashing;
    if (!got) {
      res.set_header("Retry-After", "1");
      fail(res, 429, "too many logins at once: try again in a second");
    }
    return HashTurn(hashing, got);
  }

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

  // Seconds the address must still wait before its next login try; 0: none.
  int64_t throttled_s(const std::string& address) {
    std::lock_guard lock(throttle_mutex);
    const auto now = Clock::now();
    const auto forget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.config.lockout_s));
    std::erase_if(failures_by_address, [&](const auto& kv) { return now - kv.second.last > forget; });
    auto it = failures_by_address.find(address);
    if (it == failures_by_address.end() || now >= it->second.wait_until) return 0;
    return std::chrono::ceil<std::chrono::seconds>(it->second.wait_until - now).count();
  }

  void login_outcome(const std::string& address, bool ok) {
    std::lock_guard lock(throttle_mutex);
    if (ok) {
      failures_by_address.erase(address);
      return;
    }
    if (!failures_by_address.count(address) && failures_by_address.size() >= kMaxAddresses)
      failures_by_address.erase(std::min_element(failures_by_address.begin(), failures_by_address.end(),
                                                 [](const auto& a, const auto& b) { return a.second.last < b.second.last; }));
    auto& f = failures_by_address[address];
    f.last = Clock::now();
    if (++f.count > kFreeFailures) {
      const double wait_s = std::min(options.config.lockout_s,
                                     options.config.address_wait_s * std::ldexp(1.0, f.count - kFreeFailures - 1));
      f.wait_until = f.last + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
    }
  }

  // --- auth -------------------------------------------------------------

  std::optional<Principal> authenticate(const httplib::Request& req) {
    if (const auto auth = req.get_header_value("Authorization"); auth.rfind("Bearer ", 0) == 0) {
      const std::string hash = sha256_hex(auth.substr(7));
      std::lock_guard lock(db_mutex);
      auto reader = catalog->reader_with_token_hash(hash);
      if (reader.ok() && *reader) return Principal{(*reader)->name, "reader", "", (*reader)->scope};
      return std::nullopt;
    }
    const std::string token = cookie(req);
    if (token.empty()) return std::nullopt;
    std::lock_guard lock(sessions_mutex);
    auto it = sessions.find(token);
    if (it == sessions.end()) return std::nullopt;
    if (Clock::now() >= it->second.expires) {
      sessions.erase(it);
      return std::nullopt;
    }
    return Principal{it->second.name, "operator", it->second.csrf, ""};
  }

  static std::string cookie(const httplib::Request& req) {
    const std::string header = req.get_header_value("Cookie");
    const std::string key = std::string(kCookie) + "=";
    for (size_t pos = 0; pos < header.size();) {
      size_t end = header.find(';', pos);
      if (end == std::string::npos) end = header.size();
      std::string part = header.substr(pos, end - pos);
      part.erase(0, part.find_first_not_of(' '));
      if (part.rfind(key, 0) == 0) return part.substr(key.size());
      pos = end + 1;
    }
    return "";
  }

  // Who asks, or a 401/403. A change by an operator must carry the
  // session's CSRF token in X-CSRF-Token (a cookie alone never suffices).
  std::optional<Principal> require(const httplib::Request& req, httplib::Response& res, bool operator_only,
                                   bool change) {
    auto who = authenticate(req);
    if (!who) {
      fail(res, 401, "not logged in (or the session has expired)");
      return std::nullopt;
    }
    if (operator_only && who->role != "operator") {
      fail(res, 403, "a reader token cannot do this; an operator must");
      return std::nullopt;
    }
    if (change && who->role == "operator" && req.get_header_value("X-CSRF-Token") != who->csrf) {
      fail(res, 403, "X-CSRF-Token: missing or wrong");
      return std::nullopt;
    }
    return who;
  }

  void login(const httplib::Request& req, httplib::Response& res) {
    auto body = body_object(req, res);
    if (!body) return;
    auto name = string_field(*body, "name", res, true, 64);
    if (!name) return;
    auto password = string_field(*body, "password", res, true, 1024);
    if (!password) return;
    auto new_password = string_field(*body, "new_password", res, false, 1024);
    if (!new_password) return;
    if (Status st = check_account_name(*name); !st.ok()) return fail(res, 400, st.message());
    if (const int64_t wait_s = throttled_s(req.remote_addr); wait_s > 0) {
      res.set_header("Retry-After", std::to_string(wait_s));
      return fail(res, 429, "too many wrong passwords from " + req.remote_addr + ": try again in " +
                                std::to_string(wait_s) + " s");
    }
    std::optional<cat::OperatorRecord> op;
    {
      std::lock_guard lock(db_mutex);
      auto found = catalog->operator_named(*name);
      if (!found.ok()) return fail(res, 500, found.status().message());
      if (*found && (*found)->role == "operator") op = **found;
    }
    // A locked account answers as a wrong password does, after the same
    // hash: neither the answer nor its time tells a name that exists.
    const bool locked = op && !op->locked_until_utc.empty() && utc_now() < op->locked_until_utc;
    bool ok = false;
    {
      auto turn = hash_turn(res);
      if (!turn) return;
      // The hash runs for an unknown name too: the answer's time tells nothing.
      ok = verify_password(*password, op ? op->secret_hash : "scrypt$15$8$1$00$00") && !locked;
    }
    if (op && !locked) {
      std::lock_guard lock(db_mutex);
      if (Status st = catalog->record_login(*name, ok, options.config.max_failures, utc_now(options.config.lockout_s));
          !st.ok())
        return fail(res, 500, st.message());
    }
    login_outcome(req.remote_addr, op && ok);
    if (!op || !ok) {
      spdlog::warn("ui: login of '{}' refused from {}{}", *name, req.remote_addr, locked ? " (locked)" : "");
      return fail(res, 401, "wrong name or password (" + std::to_string(options.config.max_failures) +
                                " wrong in a row lock an account; `dashloop user unlock NAME` ends a lock)");
    }
    // A one-time password is spent by the login that replaces it: without a
    // new one there is no session, and once replaced it opens nothing.
    if (op->one_time) {
      if (new_password->empty()) {
        res.status = 403;
        return reply(res, {{"error", "this is a one-time password: choose a new password to log in"},
                           {"new_password_required", true}});
      }
      if (Status st = check_new_password(*new_password); !st.ok()) return fail(res, 400, "new_password: " + st.message());
      if (*new_password == *password) return fail(res, 400, "new_password: must differ from the one-time password");
      Result<std::string> hash = Status::Unavailable("");
      {
        auto turn = hash_turn(res);
        if (!turn) return;
        hash = hash_password(*new_password);
      }
      if (!hash.ok()) return fail(res, 500, hash.status().message());
      std::lock_guard lock(db_mutex);
      if (Status st = catalog->set_operator_secret(*name, *hash); !st.ok()) return fail(res, 500, st.message());
      spdlog::info("ui: '{}' replaced a one-time password", *name);
    }
    Session s{*name, random_hex(16),
              Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.config.session_hours * 3600))};
    const std::string token = random_hex(32);
    {
      std::lock_guard lock(sessions_mutex);
      std::erase_if(sessions, [](const auto& kv) { return Clock::now() >= kv.second.expires; });
      sessions[token] = s;
    }
    spdlog::info("ui: '{}' logged in from {}", *name, req.remote_addr);
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(int64_t(options.config.session_hours * 3600)) +
                                     (options.config.cert.empty() ? "" : "; Secure"));
    reply(res, {{"name", s.name}, {"csrf", s.csrf}});
  }

  void logout(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, true, true)) return;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(cookie(req));
    }
    res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    reply(res, {{"ok", true}});
  }

  // --- clips ------------------------------------------------------------

  // The clip a path names, or a 404; `uid` is checked before any lookup.
  std::optional<cat::ClipRecord> clip_of(const std::string& uid, httplib::Response& res) {
    if (!std::regex_match(uid, kUid)) {
      fail(res, 404, "clip '" + uid.substr(0, 80) + "': not a clip id");
      return std::nullopt;
    }
    std::lock_guard lock(db_mutex);
    auto clip = catalog->clip_by_uid(uid);
    if (!clip.ok()) {
      fail(res, 500, clip.status().message());
      return std::nullopt;
    }
    if (!*clip) {
      fail(res, 404, "clip '" + uid + "' is not in the catalog");
      return std::nullopt;
    }
    return **clip;
  }

  static json card(const cat::ClipRecord& c) {
    std::set<std::string> rules;
    const json reasons = json::parse(c.reasons, nullptr, false);
    if (reasons.is_array())
      for (const auto& r : reasons) rules.insert(r.value("rule", ""));
    const json classes = json::parse(c.classes, nullptr, false);
    const std::string base = "/api/v1/clips/" + c.uid;
    return {{"uid", c.uid},
            {"state", c.state},
            {"reason", c.state_reason},
            {"priority", c.priority},
            {"duration_s", c.end_s - c.start_s},
            {"frames", c.frames},
            {"bytes", c.bytes},
            {"effort_minutes", c.effort_minutes},
            {"classes", classes.is_array() ? classes : json::array()},
            {"camera", c.camera},
            {"rules", rules},
            {"purged", c.purged},
            {"created_utc", c.created_utc},
            {"updated_utc", c.updated_utc},
            {"thumbnail", base + "/thumbnail.jpg"},
            {"video", base + "/files/clip.mp4"}};
  }

  void list_clips(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    cat::ClipQuery q;
    q.state = req.get_param_value("state");
    if (!q.state.empty() && std::find(std::begin(cat::kClipStates), std::end(cat::kClipStates), q.state) ==
                                std::end(cat::kClipStates))
      return fail(res, 400, "state: '" + q.state.substr(0, 40) + "' is not a queue state");
    q.camera = req.get_param_value("camera");
    q.label = req.get_param_value("class");
    if (q.camera.size() > 64 || q.label.size() > 64) return fail(res, 400, "camera, class: at most 64 characters");
    // Days, as the page's date inputs send them; `to` takes its whole day
    // ("T24" sorts after every time of that day in the catalog's UTC text).
    static const std::regex kDay("[0-9]{4}-[0-9]{2}-[0-9]{2}");
    for (const char* name : {"from", "to"}) {
      const std::string day = req.get_param_value(name);
      if (day.empty()) continue;
      if (!std::regex_match(day, kDay)) return fail(res, 400, std::string(name) + ": a day, YYYY-MM-DD");
      (std::string(name) == "from" ? q.from_utc : q.to_utc) = std::string(name) == "from" ? day : day + "T24";
    }
    const std::string order = req.has_param("order") ? req.get_param_value("order") : "priority";
    if (order != "priority" && order != "newest") return fail(res, 400, "order: priority or newest");
    q.newest_first = order == "newest";
    auto int_param = [&](const char* name, int64_t dflt, int64_t lo, int64_t hi) -> std::optional<int64_t> {
      if (!req.has_param(name)) return dflt;
      const std::string v = req.get_param_value(name);
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < lo || n > hi) {
        fail(res, 400, std::string(name) + ": a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        return std::nullopt;
      }
      return n;
    };
    auto page = int_param("page", 1, 1, 1000000);
    if (!page) return;
    auto per_page = int_param("per_page", 24, 1, 200);
    if (!per_page) return;
    q.limit = *per_page;
    q.offset = (*page - 1) * *per_page;
    std::lock_guard lock(db_mutex);
    auto rows = catalog->clip_page(q);
    if (!rows.ok()) return fail(res, 500, rows.status().message());
    json clips = json::array();
    for (const auto& c : rows->clips) clips.push_back(card(c));
    reply(res, {{"total", rows->total}, {"page", *page}, {"per_page", *per_page}, {"clips", clips}});
  }

  // What the queue's filters offer: the cameras (configured or with clips)
  // and classes the clips have, and the clips in each state.
  void facets(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    Result<cat::ClipFacets> f = Status::Unavailable("");
    {
      std::lock_guard lock(db_mutex);
      f = catalog->clip_facets();
    }
    if (!f.ok()) return fail(res, 500, f.status().message());
    std::set<std::string> cameras(f->cameras.begin(), f->cameras.end());
    cameras.insert(options.cameras.begin(), options.cameras.end());
    json counts = json::object();
    for (const auto& state : cat::kClipStates) counts[state] = 0;
    for (const auto& [state, n] : f->counts) counts[state] = n;
    reply(res, {{"cameras", cameras}, {"classes", f->classes}, {"counts", counts}});
  }

  // Where a trim may cut, in frames from the clip's start: the recording's
  // keyframes across the span the planner gave the clip (its planned frames
  // widened to keyframes), not only the span now, so a trim can be widened
  // again; before the start they are negative. The last is an end only.
  std::vector<int64_t> cut_points(const cat::ClipRecord& c) {
    std::vector<int64_t> keys;
    int64_t recorded = c.end_frame;
    auto segments = catalog->segments(c.drive_id);
    if (!segments.ok()) return {c.end_frame - c.start_frame};
    for (const auto& s : *segments) {
      if (s.state == "deleted") continue;
      recorded = std::max(recorded, s.first_frame + s.frames);
      auto found = catalog->segment_keyframes(s.id);
      if (!found.ok()) continue;
      for (const auto& k : *found) keys.push_back(s.first_frame + k.frame);
    }
    std::sort(keys.begin(), keys.end());
    auto at_or_before = std::upper_bound(keys.begin(), keys.end(), c.planned_start);
    auto at_or_after = std::lower_bound(keys.begin(), keys.end(), c.planned_end);
    const int64_t lo = std::min(c.start_frame, at_or_before == keys.begin() ? c.start_frame : *std::prev(at_or_before));
    const int64_t hi = std::max(c.end_frame, at_or_after == keys.end() ? recorded : *at_or_after);
    std::vector<int64_t> out;
    for (int64_t f : keys)
      if (f >= lo && f < hi) out.push_back(f - c.start_frame);
    for (int64_t end : {c.end_frame, hi})
      if (std::find(out.begin(), out.end(), end - c.start_frame) == out.end()) out.push_back(end - c.start_frame);
    std::sort(out.begin(), out.end());
    return out;
  }

  // Each frame's presentation time in the clip (s, from its first frame):
  // what the page maps the video's time to a frame by. A live camera's frames
  // do not come every 1/fps (frame 21 at 30 fps shown at 0.699 s), and
  // rounding time to a frame drew its boxes one frame late. Null where the
  // container gives no timestamps: the page then goes by fps.
  static json frame_times(const fs::path& clip) {
    auto reader = pipeline::media::PacketReader::open(clip);
    if (!reader.ok()) return nullptr;
    std::vector<int64_t> pts;
    for (;;) {
      auto packet = (*reader)->next();
      if (!packet.ok() || (packet->has_value() && (*packet)->pts < 0)) return nullptr;
      if (!packet->has_value()) break;
      pts.push_back((*packet)->pts);
    }
    std::sort(pts.begin(), pts.end());  // decode order to presentation order
    json out = json::array();
    for (int64_t p : pts) out.push_back(double(p - pts.front()) / 1e9);
    return out;
  }

  // Kept in ui-cache/, named by the clip file's size and time: its frames'
  // times change only when the file does (a trim, a redaction), and the
  // clip screen asks for them on every look at a clip.
  json cached_frame_times(const cat::ClipRecord& c) {
    const fs::path clip = fs::path(c.package_dir) / "clip.mp4";
    std::error_code ec;
    const auto size = fs::file_size(clip, ec);
    const auto written = fs::last_write_time(clip, ec);
    if (ec) return nullptr;
    const fs::path cached = options.data_dir / "ui-cache" / "frame_times" /
                            (c.uid + "-" + std::to_string(size) + "-" +
                             std::to_string(written.time_since_epoch().count()) + ".json");
    if (auto kept = read_json_file(cached); kept && kept->is_array()) return *kept;
    // One demux at a time: the clip screens that open together wait for it, not each make it.
    std::lock_guard lock(times_mutex);
    if (auto kept = read_json_file(cached); kept && kept->is_array()) return *kept;
    json times = frame_times(clip);
    if (!times.is_array()) return times;
    fs::create_directories(cached.parent_path(), ec);
    const fs::path tmp = cached.string() + ".tmp";
    std::ofstream out(tmp);
    out << times.dump();
    out.close();
    if (out) fs::rename(tmp, cached, ec);  // a reader sees all of it or none
    return times;
  }

  std::vector<std::string> allowed_labels(const json& manifest) {
    std::set<std::string> labels(options.labels.begin(), options.labels.end());
    if (manifest.contains("labels"))
      for (const auto& l : manifest["labels"]) labels.insert(l.get<std::string>());
    return {labels.begin(), labels.end()};
  }

  void clip_detail(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    json out = card(*c);
    const auto manifest = read_json_file(fs::path(c->package_dir) / "manifest.json");
    json audit = json::array();
    {
      std::lock_guard lock(db_mutex);
      if (auto rows = catalog->clip_audit(c->id); rows.ok())
        for (const auto& a : *rows)
          audit.push_back({{"at_utc", a.at_utc}, {"from", a.from_state}, {"to", a.to_state}, {"actor", a.actor},
                           {"reason", a.reason}});
      out["cut_points"] = cut_points(*c);
    }
    out["audit"] = audit;
    out["version"] = audit.size();  // what a decision or an edit made on this view names (same_version)
    out["edits"] = json::parse(c->edits, nullptr, false);
    out["editable"] = c->state == "review" && manifest.has_value();
    out["reject_reasons"] = options.config.reject_reasons;
    out["start_frame"] = c->start_frame;
    json events = json::array();
    const json reasons = json::parse(c->reasons, nullptr, false);
    if (reasons.is_array())
      for (const auto& r : reasons)
        events.push_back({{"rule", r.value("rule", "")}, {"frame", r.value("frame", int64_t(0)) - c->start_frame},
                          {"detail", r.value("detail", "")}});
    out["events"] = events;
    if (!manifest) {
      out["package"] = nullptr;
      return reply(res, out);
    }
    out["allowed_labels"] = allowed_labels(*manifest);
    json keyframes = json::array();
    for (const auto& f : (*manifest)["files"]) {
      const std::string path = f.value("path", "");
      int64_t frame = -1;
      if (std::sscanf(path.c_str(), "keyframes/frame_%6ld.jpg", &frame) == 1)
        keyframes.push_back({{"frame", frame}, {"image", "/api/v1/clips/" + c->uid + "/files/" + path}});
    }
    out["keyframes"] = keyframes;
    out["package"] = {{"fps", manifest->value("fps", 0.0)},
                      {"frame_count", manifest->value("frame_count", int64_t(0))},
                      {"width", manifest->value("width", 0)},
                      {"height", manifest->value("height", 0)},
                      {"labels", manifest->value("labels", json::array())},
                      {"model", manifest->value("model", "")},
                      {"effort", manifest->value("effort", json::object())},
                      {"review", manifest->value("review", json(nullptr))},
                      {"privacy", manifest->value("privacy", json(nullptr))},
                      {"files", (*manifest)["files"]}};
    out["package"]["frame_times"] = cached_frame_times(*c);
    // The operator's added boxes, keys on clip frames; the original (unredacted) for the toggle.
    json redactions = json::array();
    if (out["edits"].is_object() && out["edits"].contains("redact"))
      for (auto m : out["edits"]["redact"]) {
        for (auto& k : m["keys"]) k[0] = k[0].get<int64_t>() - c->start_frame;
        redactions.push_back(m);
      }
    out["redactions"] = redactions;
    std::error_code ec;
    out["original"] = fs::exists(clips::original_clip_of(c->package_dir), ec)
                          ? json("/api/v1/clips/" + c->uid + "/original.mp4")
                          : json(nullptr);
    reply(res, out);
  }

  // The unredacted clip a redacted package keeps beside it on the box: an
  // operator's only (a reader token is how packages leave), never uploaded.
  void original(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, true, false)) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    const fs::path file = clips::original_clip_of(c->package_dir);
    std::error_code ec;
    if (c->package_dir.empty() || !fs::exists(file, ec))
      return fail(res, 404, "clip " + c->uid + ": no original kept (the package is not redacted, or it was purged)");
    if (!inside(fs::path(c->package_dir).parent_path(), file))
      return fail(res, 404, "clip " + c->uid + ": its original leads out of the packages folder");
    if (!serve_file(req, res, file, "video/mp4")) return fail(res, 404, file.string() + ": unreadable");
  }

  void clip_boxes(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    auto tracks = read_mot(c->package_dir);
    if (!tracks.ok()) return fail(res, code_of(tracks.status()), tracks.status().message());
    json out = json::array();
    for (const auto& t : *tracks) out.push_back({{"track", t.track}, {"label", t.label}, {"boxes", t.boxes}});
    reply(res, {{"uid", c->uid}, {"tracks", out}});
  }

  static std::string not_redacted(const cat::ClipRecord& c) {
    return "clip " + c.uid + " is not redacted yet: its pre-label pass redacts it before review";
  }

  // A file of the package: only a path its manifest lists (or the manifest);
  // none of one not redacted yet.
  void clip_file(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    const std::string path = req.matches[2];
    const auto manifest = read_json_file(fs::path(c->package_dir) / "manifest.json");
    if (!manifest) return fail(res, 404, "clip " + c->uid + ": no package (purged or not yet written)");
    if (path != "manifest.json" && clips::privacy_pending(manifest->value("privacy", json())))
      return fail(res, 409, not_redacted(*c));
    bool listed = path == "manifest.json";
    for (const auto& f : (*manifest)["files"]) listed = listed || f.value("path", "") == path;
    if (!listed) return fail(res, 404, "clip " + c->uid + ": '" + path.substr(0, 120) + "' is not a file of the package");
    const fs::path file = fs::path(c->package_dir) / path;
    if (!inside(c->package_dir, file)) return fail(res, 404, "clip " + c->uid + ": '" + path.substr(0, 120) + "' leads out of the package");
    if (!serve_file(req, res, file, content_type_of(file))) return fail(res, 404, file.string() + ": unreadable");
  }

  // Made once per package version and kept in ui-cache/: the first
  // keyframe image, else the clip's first frame, 320 px wide.
  void thumbnail(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    const fs::path package = c->package_dir;
    const fs::path cached = options.data_dir / "ui-cache" / "thumbs" /
                            (c->uid + "-" + std::to_string(c->start_frame) + "-" + std::to_string(c->frames) + ".jpg");
    std::lock_guard lock(thumbs_mutex);
    if (!fs::exists(cached)) {
      const auto manifest = read_json_file(package / "manifest.json");
      if (!manifest) return fail(res, 404, "clip " + c->uid + ": no package");
      // Cached by span: one made before the redaction would outlive it.
      if (clips::privacy_pending(manifest->value("privacy", json()))) return fail(res, 409, not_redacted(*c));
      cv::Mat bgr;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(package / "keyframes", ec)) {
        bgr = cv::imread(e.path().string());
        if (!bgr.empty()) break;
      }
      if (bgr.empty()) {
        pipeline::media::Source source;
        source.original = source.location = (package / "clip.mp4").string();
        auto reader = pipeline::media::FrameReader::open(source, {});
        if (reader.ok())
          if (auto frame = (*reader)->next(); frame.ok() && frame->has_value())
            cv::cvtColor(pipeline::media::copy_i420(**frame), bgr, cv::COLOR_YUV2BGR_I420);
      }
      if (bgr.empty()) return fail(res, 500, (package / "clip.mp4").string() + ": no frame to make a thumbnail from");
      cv::Mat small;
      cv::resize(bgr, small, cv::Size(320, std::max(1, bgr.rows * 320 / std::max(1, bgr.cols))), 0, 0, cv::INTER_AREA);
      fs::create_directories(cached.parent_path(), ec);
      const fs::path tmp = cached.string() + ".tmp.jpg";
      if (!cv::imwrite(tmp.string(), small, {cv::IMWRITE_JPEG_QUALITY, 80})) return fail(res, 500, tmp.string() + ": cannot write");
      fs::rename(tmp, cached, ec);
    }
    if (!serve_file(req, res, cached, "image/jpeg")) fail(res, 500, cached.string() + ": unreadable");
  }

  // One move through the catalog's transition function, then the news.
  void move(const cat::ClipRecord& c, const std::string& to, const Principal& who, const std::string& reason,
            httplib::Response& res) {
    Status st;
    {
      std::lock_guard edits(editing_mutex);
      st = not_editing(c);
      std::lock_guard lock(db_mutex);
      if (st.ok()) st = catalog->move_clip(c.id, to, who.actor(), reason);
    }
    if (!st.ok()) return fail(res, conflict_or(st), st.message());
    changed(c.uid, to, who, reason);
    reply(res, {{"ok", true}, {"uid", c.uid}, {"state", to}});
  }

  void changed(const std::string& uid, const std::string& state, const Principal& who, const std::string& reason) {
    json fields = {{"clip", uid}, {"state", state}, {"by", who.actor()}, {"reason", reason}};
    if (hooks.changed) hooks.changed("clip.state", fields);
    fields["v"] = 1;
    fields["type"] = "clip.state";
    fields["utc"] = utc_now();
    publish(fields.dump());
  }

  // A clip's version is how many audited changes it has had (every move,
  // edit and priority is one). A decision or an edit made on a page names the
  // version that page showed; one made meanwhile (another operator, another
  // tab, the CLI) makes it a 409 saying what changed, not a silent overwrite.
  // A request that names none (a script, the queue's batch) is not checked.
  bool same_version(const cat::ClipRecord& c, const json& body, httplib::Response& res) {
    auto v = body.find("version");
    if (v == body.end()) return true;
    if (!v->is_number_integer()) {
      fail(res, 400, "version: the clip's version as its detail gave it");
      return false;
    }
    std::lock_guard lock(db_mutex);
    auto rows = catalog->clip_audit(c.id);
    if (!rows.ok()) {
      fail(res, 500, rows.status().message());
      return false;
    }
    if (int64_t(rows->size()) == v->get<int64_t>()) return true;
    std::string what = "clip " + c.uid + " changed since this page showed it";
    if (!rows->empty()) {
      const auto& last = rows->back();
      what += ": " + (last.from_state.empty() ? "new" : last.from_state) + " -> " + last.to_state + " by " + last.actor +
              (last.reason.empty() ? "" : " (" + last.reason + ")");
    }
    fail(res, 409, what + "; look at it again before deciding");
    return false;
  }

  void action(const httplib::Request& req, httplib::Response& res) {
    auto who = require(req, res, true, true);
    if (!who) return;
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    auto body = body_object(req, res);
    if (!body) return;
    if (!same_version(*c, *body, res)) return;
    const std::string verb = req.matches[2];
    auto note = string_field(*body, "note", res, false, 500);
    if (!note) return;
    if (verb == "approve") {
      if (c->state != "review") return fail(res, 409, "clip " + c->uid + " is " + c->state + ": only a clip in review can be approved");
      return move(*c, "approved", *who, note->empty() ? "approved" : "approved: " + *note, res);
    }
    if (verb == "reject") {
      auto reason = string_field(*body, "reason", res, true);
      if (!reason) return;
      const auto& reasons = options.config.reject_reasons;
      if (std::find(reasons.begin(), reasons.end(), *reason) == reasons.end())
        return fail(res, 400, "reason: '" + reason->substr(0, 80) + "' is not one of the configured reject reasons");
      return move(*c, "rejected", *who, *reason + (note->empty() ? "" : ": " + *note), res);
    }
    if (verb == "reopen") return move(*c, "review", *who, note->empty() ? "back to review" : *note, res);
    if (verb == "priority") {
      auto it = body->find("priority");
      if (it == body->end() || !it->is_number() || *it < 0.0 || *it > 10.0)
        return fail(res, 400, "priority: a number from 0 to 10");
      Status st;
      {
        std::lock_guard lock(db_mutex);
        st = catalog->set_clip_priority(c->id, it->get<double>(), who->actor());
      }
      if (!st.ok()) return fail(res, code_of(st), st.message());
      changed(c->uid, c->state, *who, "priority");
      return reply(res, {{"ok", true}, {"uid", c->uid}, {"priority", it->get<double>()}});
    }
    if (verb == "edit") return edit(*c, *body, *who, res);
    fail(res, 404, "no action '" + verb + "'");
  }

  // {relabel: {"<track>": label}, delete: [track], restore: [track],
  //  trim: {start, end}, add_box, add_redaction, remove_redaction} in clip
  //  frames; merged with the clip's edits so far and rebuilt through the
  //  package builder.
  void edit(const cat::ClipRecord& c, const json& body, const Principal& who, httplib::Response& res) {
    if (c.state != "review") return fail(res, 409, "clip " + c.uid + " is " + c.state + ": only a clip in review can be edited");
    if (!hooks.edit) return fail(res, 503, "edits need the station's package builder, not present in this process");
    const auto manifest = read_json_file(fs::path(c.package_dir) / "manifest.json");
    if (!manifest) return fail(res, 404, "clip " + c.uid + ": no package");
    auto tracks = read_mot(c.package_dir);
    if (!tracks.ok()) return fail(res, code_of(tracks.status()), tracks.status().message());
    json edits = json::parse(c.edits, nullptr, false);
    if (!edits.is_object()) edits = json::object();
    if (!edits.contains("relabel")) edits["relabel"] = json::object();
    if (!edits.contains("deleted")) edits["deleted"] = json::array();
    std::set<int> present, deleted(edits["deleted"].begin(), edits["deleted"].end());
    for (const auto& t : *tracks) present.insert(t.track);
    auto track_no = [&](const json& v, const std::string& field) -> std::optional<int> {
      int no = 0;
      if (v.is_number_integer()) no = v.get<int>();
      else if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().size() < 10 &&
               v.get<std::string>().find_first_not_of("0123456789") == std::string::npos)
        no = std::stoi(v.get<std::string>());
      else {
        fail(res, 400, field + ": a track number");
        return std::nullopt;
      }
      if (!present.count(no) && !deleted.count(no)) {
        fail(res, 400, field + ": clip " + c.uid + " has no track " + std::to_string(no));
        return std::nullopt;
      }
      return no;
    };
    bool any = false;
    if (auto it = body.find("relabel"); it != body.end()) {
      if (!it->is_object()) return fail(res, 400, "relabel: an object {\"<track>\": \"<class>\"}");
      const auto labels = allowed_labels(*manifest);
      for (const auto& [key, label] : it->items()) {
        auto no = track_no(json(key), "relabel");
        if (!no) return;
        if (!label.is_string() || std::find(labels.begin(), labels.end(), label.get<std::string>()) == labels.end())
          return fail(res, 400, "relabel." + key + ": not a class of this station");
        edits["relabel"][std::to_string(*no)] = label;
        any = true;
      }
    }
    for (const char* field : {"delete", "restore"}) {
      auto it = body.find(field);
      if (it == body.end()) continue;
      if (!it->is_array()) return fail(res, 400, std::string(field) + ": an array of track numbers");
      for (const auto& v : *it) {
        auto no = track_no(v, field);
        if (!no) return;
        if (std::string(field) == "delete") deleted.insert(*no);
        else deleted.erase(*no);
        any = true;
      }
    }
    edits["deleted"] = deleted;
    if (auto it = body.find("trim"); it != body.end()) {
      if (!member(*it, "start").is_number_integer() || !member(*it, "end").is_number_integer())
        return fail(res, 400, "trim: {\"start\": frame, \"end\": frame} in clip frames");
      const int64_t start = member(*it, "start"), end = member(*it, "end");
      std::vector<int64_t> cuts;
      {
        std::lock_guard lock(db_mutex);
        cuts = cut_points(c);
      }
      auto is_cut = [&](int64_t f) { return std::find(cuts.begin(), cuts.end(), f) != cuts.end(); };
      if (!is_cut(start) || !is_cut(end) || start >= end)
        return fail(res, 400, "trim: start and end must be keyframes of the recording inside the clip's planned span (cut_points), start before end");
      if (start != 0 || end != c.end_frame - c.start_frame) {
        edits["trim"] = {c.start_frame + start, c.start_frame + end};
        any = true;
      }
    }
    if (auto it = body.find("add_redaction"); it != body.end()) {
      if (!add_redaction(c, *manifest, *it, edits, res)) return;
      any = true;
    }
    if (auto it = body.find("add_box"); it != body.end()) {
      std::set<int> numbers = present;
      numbers.insert(deleted.begin(), deleted.end());
      if (!add_box(c, *manifest, *it, edits, numbers, res)) return;
      any = true;
    }
    if (auto it = body.find("remove_redaction"); it != body.end()) {
      if (!it->is_array()) return fail(res, 400, "remove_redaction: an array of added box ids");
      json& marks = edits["redact"];
      for (const auto& v : *it) {
        const auto was = marks.is_array() ? marks.size() : 0;
        if (marks.is_array())
          marks.erase(std::remove_if(marks.begin(), marks.end(), [&](const json& m) { return member(m, "id") == v; }), marks.end());
        if (!marks.is_array() || marks.size() == was)
          return fail(res, 400, "remove_redaction: clip " + c.uid + " has no added box " + v.dump());
      }
      if (marks.empty()) edits.erase("redact");
      any = true;
    }
    for (const char* list : {"added", "moved"})
      if (edits.contains(list) && edits[list].empty()) edits.erase(list);
    if (!any)
      return fail(res, 400, "body: nothing to change (relabel, delete, restore, trim, add_box, add_redaction or remove_redaction)");
    {
      // The clip as it is now, not as the request began: still in review, no other edit.
      std::lock_guard edits_lock(editing_mutex);
      if (Status st = not_editing(c); !st.ok()) return fail(res, 409, st.message());
      std::optional<cat::ClipRecord> now;
      {
        std::lock_guard lock(db_mutex);
        auto found = catalog->clip(c.id);
        if (!found.ok()) return fail(res, 500, found.status().message());
        now = *found;
      }
      if (!now || now->state != "review")
        return fail(res, 409, "clip " + c.uid + " is " + (now ? now->state : "gone") + ": only a clip in review can be edited");
      editing.insert(c.id);
    }
    struct Done {
      Impl& impl;
      int64_t id;
      ~Done() {
        std::lock_guard lock(impl.editing_mutex);
        impl.editing.erase(id);
      }
    } done{*this, c.id};
    if (Status st = hooks.edit(c.id, edits, who.actor()); !st.ok())
      return fail(res, conflict_or(st), st.message());
    changed(c.uid, "review", who, "edited");
    reply(res, {{"ok", true}, {"uid", c.uid}, {"edits", edits}});
  }

  // A box an operator drew: {frame: clip frame, box: [x, y, w, h] in video
  // pixels} as a key [drive frame, x, y, w, h]; else a 400 naming `field`.
  std::optional<json> drawn_key(const cat::ClipRecord& c, const json& manifest, const json& a, const std::string& field,
                                const std::string& shape, httplib::Response& res) {
    const int width = manifest.value("width", 0), height = manifest.value("height", 0);
    const int64_t frames = c.end_frame - c.start_frame;
    const json &at = member(a, "frame"), &box = member(a, "box");
    if (!at.is_number_integer() || !box.is_array() || box.size() != 4 ||
        !std::all_of(box.begin(), box.end(), [](const json& v) { return v.is_number(); })) {
      fail(res, 400, field + ": " + shape);
      return std::nullopt;
    }
    const int64_t frame = at;
    const double x = box[0], y = box[1], w = box[2], h = box[3];
    if (frame < 0 || frame >= frames) {
      fail(res, 400, field + ".frame: " + std::to_string(frame) + " is not a frame of the clip (0-" +
                         std::to_string(frames - 1) + ")");
      return std::nullopt;
    }
    if (w < 4 || h < 4 || x < 0 || y < 0 || x + w > width + 0.5 || y + h > height + 0.5) {
      fail(res, 400, field + ".box: at least 4x4 px inside the " + std::to_string(width) + "x" +
                         std::to_string(height) + " frame");
      return std::nullopt;
    }
    return json{c.start_frame + frame, x, y, w, h};
  }

  // A key replaces the one on its frame, if any.
  static void put_key(json& keys, const json& key) {
    keys.erase(std::remove_if(keys.begin(), keys.end(), [&](const json& k) { return k[0] == key[0]; }), keys.end());
    keys.push_back(key);
  }

  // {label, frame, box}: an object the detector missed, a new track (its
  // number after every track the clip has or had); {track, frame, box}: a
  // key on that track, drawn or detected. Into edits' `added` or `moved`.
  bool add_box(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
               const std::set<int>& tracks, httplib::Response& res) {
    auto key = drawn_key(c, manifest, a, "add_box",
                         "{\"label\": class or \"track\": number, \"frame\": clip frame, \"box\": [x, y, w, h]}", res);
    if (!key) return false;
    for (const char* list : {"added", "moved"})
      if (!edits[list].is_array()) edits[list] = json::array();
    if (a.contains("track")) {
      const json& no = member(a, "track");
      for (auto& t : edits["added"])
        if (t["track"] == no) {
          put_key(t["keys"], *key);
          return true;
        }
      if (!no.is_number_integer() || !tracks.count(no.get<int>())) {
        fail(res, 400, "add_box.track: clip " + c.uid + " has no track " + no.dump());
        return false;
      }
      for (auto& t : edits["moved"])
        if (t["track"] == no) {
          put_key(t["keys"], *key);
          return true;
        }
      edits["moved"].push_back({{"track", no}, {"keys", json::array({*key})}});
      return true;
    }
    const auto labels = allowed_labels(manifest);
    const json& label = member(a, "label");
    if (!label.is_string() || std::find(labels.begin(), labels.end(), label.get<std::string>()) == labels.end()) {
      fail(res, 400, "add_box.label: not a class of this station");
      return false;
    }
    int next = tracks.empty() ? 1 : *tracks.rbegin() + 1;
    for (const auto& t : edits["added"]) next = std::max(next, t.value("track", 0) + 1);
    edits["added"].push_back({{"track", next}, {"label", label}, {"keys", json::array({*key})}});
    return true;
  }

  // {what: face|plate, frame: clip frame, box: [x, y, w, h] in video pixels,
  //  mark: id to add a key to (else a new box)} into edits' `redact` (drive frames).
  bool add_redaction(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
                     httplib::Response& res) {
    auto key = drawn_key(c, manifest, a, "add_redaction",
                         "{\"what\": \"face\"|\"plate\", \"frame\": clip frame, \"box\": [x, y, w, h]}", res);
    if (!key) return false;
    if (!edits["redact"].is_array()) edits["redact"] = json::array();
    json& marks = edits["redact"];
    if (a.contains("mark")) {
      for (auto& m : marks)
        if (m["id"] == member(a, "mark")) {
          put_key(m["keys"], *key);
          return true;
        }
      fail(res, 400, "add_redaction.mark: clip " + c.uid + " has no added box " + member(a, "mark").dump());
      return false;
    }
    const std::string what = a.value("what", "face");
    if (what != "face" && what != "plate") {
      fail(res, 400, "add_redaction.what: face or plate");
      return false;
    }
    int id = 0;
    for (const auto& m : marks) id = std::max(id, m.value("id", 0));
    marks.push_back({{"id", id + 1}, {"what", what}, {"keys", json::array({*key})}});
    return true;
  }

  // The cloud job pulled a package: {ok, manifest_sha256, failed_file}.
  // ok: approved (or uploaded) -> acked, each step through the one
  // transition function. An ack lets retention delete the package first,
  // so it takes a token of scope ack and the sha256 of the manifest the job
  // verified against, which must be the package's own.
  void ack(const httplib::Request& req, httplib::Response& res) {
    auto who = require(req, res, false, true);
    if (!who) return;
    if (who->role == "reader" && who->scope != "ack")
      return fail(res, 403, "a read token cannot ack; the cloud job's token is made with `dashloop token add NAME "
                            "--scope ack`");
    auto c = clip_of(req.matches[1], res);
    if (!c) return;
    auto body = body_object(req, res);
    if (!body) return;
    auto ok = body->find("ok");
    if (ok == body->end() || !ok->is_boolean()) return fail(res, 400, "ok: true or false");
    auto failed = string_field(*body, "failed_file", res, false, 300);
    if (!failed) return;
    auto verified = string_field(*body, "manifest_sha256", res, ok->get<bool>(), 64);
    if (!verified) return;
    if (c->state == "uploading") return fail(res, 409, "clip " + c->uid + " is being uploaded by sync: its ack comes through the bucket");
    if (!ok->get<bool>()) {
      spdlog::warn("ui: {} could not verify clip {} ({}); it stays {}", who->actor(), c->uid, *failed, c->state);
      return reply(res, {{"ok", true}, {"uid", c->uid}, {"state", c->state}});
    }
    std::vector<std::string> path;
    if (c->state == "approved") path = {"uploading", "uploaded", "acked"};
    else if (c->state == "uploaded") path = {"acked"};
    else return fail(res, 409, "clip " + c->uid + " is " + c->state + ": only an approved or uploaded clip can be acked");
    std::ifstream in(fs::path(c->package_dir) / "manifest.json", std::ios::binary);
    const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) return fail(res, 500, c->package_dir + "/manifest.json: unreadable");
    if (const std::string own = sha256_hex(manifest); *verified != own)
      return fail(res, 409, "manifest_sha256: " + verified->substr(0, 64) + " is not the sha256 of clip " + c->uid +
                                "'s manifest (" + own + "): download and verify it again");
    {
      std::lock_guard lock(db_mutex);
      for (const auto& to : path)
        if (Status st = catalog->move_clip(c->id, to, who->actor(),
                                           "pulled over the UI's API and verified against manifest sha256 " +
                                               verified->substr(0, 12));
            !st.ok())
          return fail(res, 409, st.message());
    }
    changed(c->uid, "acked", *who, "pulled and verified");
    reply(res, {{"ok", true}, {"uid", c->uid}, {"state", "acked"}});
  }

  // --- station ----------------------------------------------------------

  void station(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, true, false)) return;
    json status = hooks.station_status ? hooks.station_status() : json(nullptr);
    json queue = json::object();
    json cameras = json::array();
    {
      std::lock_guard lock(db_mutex);
      if (auto counts = catalog->clip_counts(); counts.ok())
        for (const auto& [state, n] : *counts) queue[state] = n;
      auto drives = catalog->drives();
      for (const auto& name : options.cameras) {
        json cam = {{"name", name}};
        if (drives.ok())
          for (auto it = drives->rbegin(); it != drives->rend(); ++it) {
            if (it->camera != name) continue;
            cam["last_drive"] = {{"id", it->id},          {"ingested_utc", it->ingested_utc},
                                 {"frames", it->frames},  {"detected_frames", it->detected_frames},
                                 {"detection_skipped", it->detection_skipped}, {"duration_s", it->duration_s}};
            cam["keyframe"] = "/api/v1/cameras/" + name + "/keyframe.jpg";
            break;
          }
        cameras.push_back(cam);
      }
    }
    if (status.is_object() && status.contains("cameras"))
      for (auto& cam : cameras)
        for (const auto& live : status["cameras"])
          if (live.value("name", "") == cam["name"]) cam["live"] = live;
    std::error_code ec;
    const auto space = fs::space(options.data_dir, ec);
    json errors;
    {
      std::lock_guard lock(events_mutex);
      errors = json(std::vector<json>(this->errors.begin(), this->errors.end()));
    }
    reply(res, {{"running", !status.is_null()},
                {"status", status},
                {"cameras", cameras},
                {"queue", queue},
                {"sync", status.is_object() ? status.value("sync", json::object()) : json::object()},
                {"disk", {{"path", options.data_dir.string()},
                          {"total_bytes", ec ? 0 : int64_t(space.capacity)},
                          {"free_bytes", ec ? 0 : int64_t(space.available)}}},
                {"errors", errors}});
  }

  // Prometheus scrapes with a reader token (`authorization: {credentials: TOKEN}`).
  void metrics(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    MetricsInput in;
    in.station = hooks.station_status ? hooks.station_status() : json(nullptr);
    {
      std::lock_guard lock(db_mutex);
      auto counts = catalog->clip_counts();
      if (!counts.ok()) return fail(res, 500, counts.status().message());
      in.clips_by_state = std::move(*counts);
    }
    std::error_code ec;
    const auto space = fs::space(options.data_dir, ec);
    in.disk_total_bytes = ec ? 0 : int64_t(space.capacity);
    in.disk_free_bytes = ec ? 0 : int64_t(space.available);
    res.set_content(prometheus_metrics(in), "text/plain; version=0.0.4; charset=utf-8");
  }

  void camera_keyframe(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, true, false)) return;
    const std::string name = req.matches[1];
    if (std::find(options.cameras.begin(), options.cameras.end(), name) == options.cameras.end())
      return fail(res, 404, "no camera named '" + name.substr(0, 64) + "'");
    fs::path image;
    {
      std::lock_guard lock(db_mutex);
      auto drives = catalog->drives();
      if (!drives.ok()) return fail(res, 500, drives.status().message());
      for (auto it = drives->rbegin(); it != drives->rend() && image.empty(); ++it) {
        if (it->camera != name) continue;
        if (auto keys = catalog->keyframes(it->id); keys.ok() && !keys->empty()) image = keys->back().image_path;
      }
    }
    if (image.empty() || !serve_file(req, res, image, "image/jpeg"))
      fail(res, 404, "camera '" + name + "': no keyframe yet");
  }

  // --- live events ------------------------------------------------------

  void publish(const std::string& event_json) {
    const json e = json::parse(event_json, nullptr, false);
    std::lock_guard lock(events_mutex);
    events.emplace_back(next_event++, event_json);
    while (events.size() > kMaxEvents) events.pop_front();
    if (e.is_object()) {
      const std::string type = e.value("type", "");
      const bool error = (type == "camera.state" && e.value("state", "") != "up") || type == "analysis.failed" ||
                         (type == "clip.state" && e.value("state", "") == "failed") ||
                         (type == "sync.pass" && !e.value("last_pass", json::object()).value("errors", json::array()).empty());
      if (error) {
        errors.push_front(e);
        while (errors.size() > kMaxErrors) errors.pop_back();
      }
    }
    events_wake.notify_all();
  }

  // text/event-stream: each event as one `data:` line, a comment every
  // 15 s so a dead connection is found and its thread freed.
  void event_stream(const httplib::Request& req, httplib::Response& res) {
    if (!require(req, res, false, false)) return;
    uint64_t cursor;
    {
      std::lock_guard lock(events_mutex);
      cursor = next_event - 1;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    auto position = std::make_shared<uint64_t>(cursor);
    res.set_chunked_content_provider("text/event-stream", [this, position](size_t, httplib::DataSink& sink) {
      std::string out;
      {
        std::unique_lock lock(events_mutex);
        events_wake.wait_for(lock, std::chrono::seconds(15),
                             [&] { return stopping.load() || (!events.empty() && events.back().first > *position); });
        if (stopping) return false;
        for (const auto& [seq, text] : events)
          if (seq > *position) {
            out += "data: " + text + "\n\n";
            *position = seq;
          }
      }
      if (out.empty()) out = ": keep-alive\n\n";
      return sink.write(out.data(), out.size());
    });
  }

  // Who is logged in; {"name": null} when nobody (the page then shows its login).
  void meta(const httplib::Request& req, httplib::Response& res) {
    auto who = authenticate(req);
    if (!who) return reply(res, {{"name", nullptr}});
    reply(res, {{"name", who->name}, {"role", who->role}, {"csrf", who->csrf}, {"version", DASHLOOP_VERSION},
                {"cameras", options.cameras}, {"states", cat::kClipStates},
                {"reject_reasons", options.config.reject_reasons}});
  }

  void routes() {
    auto& s = *server;
    s.set_payload_max_length(1 << 20);
    s.set_keep_alive_timeout(5);
    s.set_read_timeout(2);  // a part of a request waits at most this long for the next bytes
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("ui: {}", what);
      fail(res, 500, what);
    });
    // Before a body is read or a file served: a control byte in the path (a
    // decoded %00 made "/style.css%00.html" text/html), a chunked body (the
    // 1 MiB limit counts a Content-Length only; 2-4 MiB chunked bodies reached
    // the login handler), and a static file whose links lead out of the web
    // folder are refused.
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      using Handled = httplib::Server::HandlerResponse;
      if (std::any_of(req.path.begin(), req.path.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; })) {
        fail(res, 400, "a control byte in the request path");
        return Handled::Handled;
      }
      std::string coding = req.get_header_value("Transfer-Encoding");
      std::transform(coding.begin(), coding.end(), coding.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (coding.find("chunked") != std::string::npos) {
        res.set_header("Connection", "close");  // its body is left unread
        fail(res, 411, "a chunked body: send it with a Content-Length (at most 1 MiB)");
        return Handled::Handled;
      }
      if (req.path.rfind("/api/", 0) != 0 && req.path != "/metrics") {
        const fs::path file = options.web_dir / fs::path(req.path).relative_path();
        std::error_code ec;
        if (fs::exists(file, ec) && !inside(options.web_dir, file)) {
          fail(res, 404, "not found");
          return Handled::Handled;
        }
      }
      return Handled::Unhandled;
    });
    s.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("X-Frame-Options", "DENY");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'");
      if (req.path.rfind("/api/", 0) == 0 && !res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
    });
    s.Post("/api/v1/login", [this](const auto& q, auto& r) { login(q, r); });
    s.Post("/api/v1/logout", [this](const auto& q, auto& r) { logout(q, r); });
    s.Get("/api/v1/session", [this](const auto& q, auto& r) { meta(q, r); });
    s.Get("/api/v1/clips", [this](const auto& q, auto& r) { list_clips(q, r); });
    s.Get("/api/v1/facets", [this](const auto& q, auto& r) { facets(q, r); });
    s.Get(R"(/api/v1/clips/([^/]+))", [this](const auto& q, auto& r) { clip_detail(q, r); });
    s.Get(R"(/api/v1/clips/([^/]+)/boxes)", [this](const auto& q, auto& r) { clip_boxes(q, r); });
    s.Get(R"(/api/v1/clips/([^/]+)/thumbnail\.jpg)", [this](const auto& q, auto& r) { thumbnail(q, r); });
    s.Get(R"(/api/v1/clips/([^/]+)/files/(.+))", [this](const auto& q, auto& r) { clip_file(q, r); });
    s.Get(R"(/api/v1/clips/([^/]+)/original\.mp4)", [this](const auto& q, auto& r) { original(q, r); });
    s.Post(R"(/api/v1/clips/([^/]+)/ack)", [this](const auto& q, auto& r) { ack(q, r); });
    s.Post(R"(/api/v1/clips/([^/]+)/([a-z]+))", [this](const auto& q, auto& r) { action(q, r); });
    s.Get("/api/v1/station", [this](const auto& q, auto& r) { station(q, r); });
    s.Get("/metrics", [this](const auto& q, auto& r) { metrics(q, r); });
    s.Get(R"(/api/v1/cameras/([^/]+)/keyframe\.jpg)", [this](const auto& q, auto& r) { camera_keyframe(q, r); });
    s.Get("/api/v1/events", [this](const auto& q, auto& r) { event_stream(q, r); });
    s.Get(R"(/api/.*)", [](const auto&, auto& r) { fail(r, 404, "no such API endpoint"); });
    s.set_mount_point("/", options.web_dir.string());
  }
};

UiServer::UiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UiServer::~UiServer() { stop(); }

Result<std::unique_ptr<UiServer>> UiServer::start(UiOptions options, UiHooks hooks) {
  auto impl = std::make_unique<Impl>();
  if (!fs::exists(options.web_dir / "index.html"))
    return Status::NotFound((options.web_dir / "index.html").string() + ": the web app is missing");
  auto catalog = cat::Catalog::open(options.data_dir / "catalog.sqlite");
  if (!catalog.ok()) return catalog.status();
  impl->catalog = std::move(catalog.value());
  // An operator may also give a track any class the fleet's tracks have.
  if (auto counts = impl->catalog->class_counts(); counts.ok()) {
    std::set<std::string> labels(options.labels.begin(), options.labels.end());
    for (const auto& [label, n] : *counts) labels.insert(label);
    options.labels.assign(labels.begin(), labels.end());
  }
  const auto& config = options.config;
  if (!config.cert.empty()) {
    for (const auto& f : {config.cert, config.key})
      if (!fs::exists(f)) return Status::NotFound("ui: " + f + ": no such certificate or key file");
    auto tls = std::make_unique<httplib::SSLServer>(config.cert.c_str(), config.key.c_str());
    if (!tls->is_valid()) return Status::InvalidArgument("ui: " + config.cert + " / " + config.key + ": not a usable certificate and key");
    impl->server = std::move(tls);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  // Each live page holds a thread for its event stream, and a connection
  // that sent a part of its headers holds one until the read times out:
  // more than httplib's default 8. httplib owns (and deletes) the queue.
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second UI would share the port silently instead of being refused.
  // TCP_DEFER_ACCEPT: a connection that sends nothing is not accepted (and
  // takes no worker thread) until its first byte: 200 idle connections held
  // every page back by 14.5 s without it.
  Impl* raw = impl.get();
  impl->server->set_socket_options([raw](socket_t sock) {
    int yes = 1, defer_s = 30;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    raw->listening = sock;
  });
  // Without it a kept-alive connection waits out delayed ACKs: 40 ms a request.
  impl->server->set_tcp_nodelay(true);
  impl->server->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  impl->options = std::move(options);
  impl->hooks = std::move(hooks);
  impl->routes();
  const auto& ui = impl->options.config;
  int port = ui.port;
  if (port == 0) port = impl->server->bind_to_any_port(ui.bind);
  else if (!impl->server->bind_to_port(ui.bind, port)) port = -1;
  if (port <= 0)
    return Status::IOError("ui: cannot listen on " + ui.bind + ":" + std::to_string(ui.port) +
                           " (in use, or not an address of this machine)");
  // Debian's libcpp-httplib listens with a backlog of 5: with more
  // connections at once (deferred idle ones among them) the kernel dropped
  // an operator's SYN and the browser retried it seconds later.
  if (raw->listening >= 0) ::listen(raw->listening, 1024);
  const std::string host = ui.bind.find(':') != std::string::npos ? "[" + ui.bind + "]" : ui.bind;
  impl->url = (ui.cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port) + "/";
  impl->listener = std::thread([raw] { raw->server->listen_after_bind(); });
  // httplib's stop() does nothing before its loop runs: a stop right after
  // the start would then wait on the listener forever.
  for (int i = 0; i < 5000 && !impl->server->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<UiServer>(new UiServer(std::move(impl)));
}

std::string UiServer::url() const { return impl_->url; }

void UiServer::publish(const std::string& event_json) { impl_->publish(event_json); }

void UiServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->events_wake.notify_all();
  impl_->server->stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace dashloop::ui
