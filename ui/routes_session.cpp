// The session and accounts routes: login (a password, throttled by client address, one-time passwords
// replaced), logout, and what every route asks first: who is this (a session cookie or a reader token).
#include "server_impl.hpp"

namespace dashloop::ui {

UiServer::Impl::HashTurn UiServer::Impl::hash_turn(httplib::Response& res) {
  const bool got = hashing.fetch_add(1) < kMaxHashing;
  if (!got) {
    res.set_header("Retry-After", "1");
    fail(res, 429, "too many logins at once: try again in a second");
  }
  return HashTurn(hashing, got);
}

// Seconds the address must still wait before its next login try; 0: none.
int64_t UiServer::Impl::throttled_s(const std::string& address) {
  std::lock_guard lock(throttle_mutex);
  const auto now = Clock::now();
  const auto forget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.config.lockout_s));
  std::erase_if(failures_by_address, [&](const auto& kv) { return now - kv.second.last > forget; });
  auto it = failures_by_address.find(address);
  if (it == failures_by_address.end() || now >= it->second.wait_until) return 0;
  return std::chrono::ceil<std::chrono::seconds>(it->second.wait_until - now).count();
}

void UiServer::Impl::login_outcome(const std::string& address, bool ok) {
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

std::optional<Principal> UiServer::Impl::authenticate(const httplib::Request& req) {
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

std::string UiServer::Impl::cookie(const httplib::Request& req) {
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
std::optional<Principal> UiServer::Impl::require(const httplib::Request& req, httplib::Response& res, bool operator_only,
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

void UiServer::Impl::login(const httplib::Request& req, httplib::Response& res) {
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

void UiServer::Impl::logout(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, true, true)) return;
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(cookie(req));
  }
  res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  reply(res, {{"ok", true}});
}

}  // namespace dashloop::ui
