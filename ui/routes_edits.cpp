// The edit route: relabels, deletions, trims, drawn objects and moved boxes, added redaction boxes;
// one edit of a clip at a time, the package rebuilt by the station's hook.
#include "server_impl.hpp"

namespace dashloop::ui {

// {relabel: {"<track>": label}, delete: [track], restore: [track],
//  trim: {start, end}, add_box, add_redaction, remove_redaction} in clip
//  frames; merged with the clip's edits so far and rebuilt through the
//  package builder.
void UiServer::Impl::edit(const cat::ClipRecord& c, const json& body, const Principal& who, httplib::Response& res) {
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
std::optional<json> UiServer::Impl::drawn_key(const cat::ClipRecord& c, const json& manifest, const json& a, const std::string& field,
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
void UiServer::Impl::put_key(json& keys, const json& key) {
  keys.erase(std::remove_if(keys.begin(), keys.end(), [&](const json& k) { return k[0] == key[0]; }), keys.end());
  keys.push_back(key);
}

// {label, frame, box}: an object the detector missed, a new track (its
// number after every track the clip has or had); {track, frame, box}: a
// key on that track, drawn or detected. Into edits' `added` or `moved`.
bool UiServer::Impl::add_box(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
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
bool UiServer::Impl::add_redaction(const cat::ClipRecord& c, const json& manifest, const json& a, json& edits,
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

}  // namespace dashloop::ui
