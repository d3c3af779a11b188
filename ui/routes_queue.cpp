// The queue and review routes: the clip list and its filters, a clip's detail, and the decisions
// (approve, reject, reopen, priority), each checked against the clip's version.
#include "server_impl.hpp"

namespace dashloop::ui {

// The clip a path names, or a 404; `uid` is checked before any lookup.
std::optional<cat::ClipRecord> UiServer::Impl::clip_of(const std::string& uid, httplib::Response& res) {
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

json UiServer::Impl::card(const cat::ClipRecord& c) {
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

void UiServer::Impl::list_clips(const httplib::Request& req, httplib::Response& res) {
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
void UiServer::Impl::facets(const httplib::Request& req, httplib::Response& res) {
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
std::vector<int64_t> UiServer::Impl::cut_points(const cat::ClipRecord& c) {
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

std::vector<std::string> UiServer::Impl::allowed_labels(const json& manifest) {
  std::set<std::string> labels(options.labels.begin(), options.labels.end());
  if (manifest.contains("labels"))
    for (const auto& l : manifest["labels"]) labels.insert(l.get<std::string>());
  return {labels.begin(), labels.end()};
}

void UiServer::Impl::clip_detail(const httplib::Request& req, httplib::Response& res) {
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

// One move through the catalog's transition function, then the news.
void UiServer::Impl::move(const cat::ClipRecord& c, const std::string& to, const Principal& who, const std::string& reason,
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

void UiServer::Impl::changed(const std::string& uid, const std::string& state, const Principal& who, const std::string& reason) {
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
bool UiServer::Impl::same_version(const cat::ClipRecord& c, const json& body, httplib::Response& res) {
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

void UiServer::Impl::action(const httplib::Request& req, httplib::Response& res) {
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

}  // namespace dashloop::ui
