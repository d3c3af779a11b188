#include "config/config.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace dashloop::firmware::config {
namespace {

using Setter = std::function<std::string(const toml::node&)>;  // "" when accepted
using Fields = std::map<std::string, Setter>;

Setter number(double& out, double lo, double hi) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    std::optional<double> v = n.value_exact<double>();
    if (!v) {
      if (auto i = n.value_exact<int64_t>()) v = double(*i);
    }
    if (!v) return "must be a number";
    if (*v < lo || *v > hi) {
      std::ostringstream m;
      m << "must be between " << lo << " and " << hi << ", got " << *v;
      return m.str();
    }
    out = *v;
    return "";
  };
}

Setter integer(int& out, int64_t lo, int64_t hi) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    auto v = n.value_exact<int64_t>();
    if (!v) return "must be a whole number";
    if (*v < lo || *v > hi)
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(*v);
    out = int(*v);
    return "";
  };
}

// Any string, the empty one included (it means "the default").
Setter string_any(std::string& out) {
  return [&out](const toml::node& n) -> std::string {
    auto v = n.value_exact<std::string>();
    if (!v) return "must be a string";
    out = *v;
    return "";
  };
}

Setter string_of(std::string& out, std::set<std::string> allowed = {}) {
  return [&out, allowed = std::move(allowed)](const toml::node& n) -> std::string {
    auto v = n.value_exact<std::string>();
    if (!v) return "must be a string";
    if (!allowed.empty() && !allowed.count(*v)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return "must be one of " + list + ", got '" + *v + "'";
    }
    if (allowed.empty() && v->empty()) return "must not be empty";
    out = *v;
    return "";
  };
}

Setter path(std::filesystem::path& out) {
  return [&out](const toml::node& n) -> std::string {
    auto v = n.value_exact<std::string>();
    if (!v || v->empty()) return "must be a non-empty path string";
    out = *v;
    return "";
  };
}

// A path that may be left empty (not used).
Setter path_or_empty(std::filesystem::path& out) {
  return [&out](const toml::node& n) -> std::string {
    auto v = n.value_exact<std::string>();
    if (!v) return "must be a path string (empty: none)";
    out = *v;
    return "";
  };
}

Setter number_f(float& out, double lo, double hi) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    double v = out;
    const std::string why = number(v, lo, hi)(n);
    if (why.empty()) out = static_cast<float>(v);
    return why;
  };
}

Setter boolean(bool& out) {
  return [&out](const toml::node& n) -> std::string {
    auto v = n.value_exact<bool>();
    if (!v) return "must be true or false";
    out = *v;
    return "";
  };
}

// An array of path strings.
Setter paths(std::vector<std::filesystem::path>& out) {
  return [&out](const toml::node& n) -> std::string {
    const auto* array = n.as_array();
    if (!array) return "must be an array of path strings";
    std::vector<std::filesystem::path> v;
    for (const auto& item : *array) {
      auto s = item.value_exact<std::string>();
      if (!s || s->empty()) return "must be an array of non-empty path strings";
      v.emplace_back(*s);
    }
    out = std::move(v);
    return "";
  };
}

Setter integer64(int64_t& out, int64_t lo, int64_t hi) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    auto v = n.value_exact<int64_t>();
    if (!v) return "must be a whole number";
    if (*v < lo || *v > hi)
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(*v);
    out = *v;
    return "";
  };
}

// A table of label = score (0..1).
Setter scores_by_name(std::map<std::string, float>& out) {
  return [&out](const toml::node& n) -> std::string {
    const auto* table = n.as_table();
    if (!table) return "must be a table of label = score, e.g. { person = 0.3 }";
    std::map<std::string, float> v;
    for (const auto& [key, value] : *table) {
      float score = 0;
      if (std::string why = number_f(score, 0.0, 1.0)(value); !why.empty())
        return "'" + std::string(key.str()) + "' " + why;
      v[std::string(key.str())] = score;
    }
    out = std::move(v);
    return "";
  };
}

// An array of strings (may be empty).
Setter strings(std::vector<std::string>& out) {
  return [&out](const toml::node& n) -> std::string {
    const auto* array = n.as_array();
    if (!array) return "must be an array of strings";
    std::vector<std::string> v;
    for (const auto& item : *array) {
      auto s = item.value_exact<std::string>();
      if (!s || s->empty()) return "must be an array of non-empty strings";
      v.push_back(*s);
    }
    out = std::move(v);
    return "";
  };
}

// `camera = "NAME"` (one camera) or `[[camera]]` tables (the station's).
Setter camera_or_cameras(std::string& name, std::vector<CameraConfig>& cameras) {
  return [&name, &cameras](const toml::node& n) -> std::string {
    if (auto s = n.value_exact<std::string>()) {
      if (s->empty()) return "must not be empty";
      name = *s;
      return "";
    }
    const auto* array = n.as_array();
    if (!array || !array->is_array_of_tables()) return "must be a name or [[camera]] tables";
    std::vector<CameraConfig> v;
    for (size_t i = 0; i < array->size(); ++i) {
      const auto& t = *array->get(i)->as_table();
      const std::string where = "[[camera]] #" + std::to_string(i + 1) + " (line " + std::to_string(t.source().begin.line) + ")";
      CameraConfig c;
      for (const auto& [key, value] : t) {
        const std::string k(key.str());
        auto text = value.value_exact<std::string>();
        if (k != "name" && k != "source" && k != "role" && k != "faces" && k != "plates")
          return where + ": unknown key '" + k + "'";
        if (!text || text->empty()) return where + ": '" + k + "' must be a non-empty string";
        if ((k == "faces" || k == "plates") && !pipeline::privacy::policies().count(*text))
          return where + ": '" + k + "' must be none, blur, pixelate or fill, got '" + *text + "'";
        (k == "name" ? c.name : k == "source" ? c.source : k == "role" ? c.role : k == "faces" ? c.faces : c.plates) = *text;
      }
      if (c.name.empty() || c.source.empty()) return where + ": needs a name and a source";
      for (char ch : c.name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_')
          return where + ": name '" + c.name + "' may hold only letters, digits, - and _";
      for (const auto& other : v)
        if (other.name == c.name) return where + ": two cameras are named '" + c.name + "'";
      v.push_back(std::move(c));
    }
    cameras = std::move(v);
    if (!cameras.empty()) name = cameras.front().name;
    return "";
  };
}

// "#rrggbb"
Setter fill_colour(std::array<int, 3>& out) {
  return [&out](const toml::node& n) -> std::string {
    auto s = n.value_exact<std::string>();
    unsigned r = 0, g = 0, b = 0;
    char tail = 0;
    if (!s || s->size() != 7 || std::sscanf(s->c_str(), "#%2x%2x%2x%c", &r, &g, &b, &tail) != 3)
      return "must be a colour \"#rrggbb\"";
    out = {int(r), int(g), int(b)};
    return "";
  };
}

std::string at(const std::string& file, const toml::source_region& where) {
  return file + ":" + std::to_string(where.begin.line);
}

Status apply(const toml::table& table, const std::string& prefix, const std::map<std::string, Fields>& sections,
             const std::string& file) {
  const auto& fields = sections.at(prefix);
  for (const auto& [key, node] : table) {
    const std::string name = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    const std::string line = at(file, key.source());
    if (auto* sub = node.as_table(); sub && prefix.empty() && sections.count(std::string(key.str()))) {
      if (Status st = apply(*sub, std::string(key.str()), sections, file); !st.ok()) return st;
      continue;
    }
    if (prefix.empty() && sections.count(std::string(key.str())))
      return Status::InvalidArgument(line + ": key '" + name + "' must be a table ([" + name + "])");
    auto it = fields.find(std::string(key.str()));
    if (it == fields.end()) return Status::InvalidArgument(line + ": unknown key '" + name + "'");
    if (std::string why = it->second(node); !why.empty())
      return Status::InvalidArgument(line + ": key '" + name + "' " + why);
  }
  return Status::Ok();
}

}  // namespace

Result<Config> load_string(const std::string& text, const std::string& file) {
  Config c;
  auto& k = c.keyframes.selector;
  auto& d = c.detector;
  auto& t = c.tracking.tracker;
  auto& p = c.clips.planner;
  auto& e = c.clips.effort;
  auto& r = c.retention;
  const std::map<std::string, Fields> sections = {
      {"", {{"data_dir", path(c.data_dir)}, {"vehicle", string_of(c.vehicle)}, {"camera", camera_or_cameras(c.camera, c.cameras)},
            {"log_level", string_of(c.log_level, {"trace", "debug", "info", "warn", "error"})}}},
      {"ingest", {{"mode", string_of(c.ingest.mode, {"full", "triage"})},
                  {"analysis_width", integer(c.ingest.analysis_width, 64, 3840)}}},
      {"keyframes", {{"min_gap_s", number(k.min_gap_s, 0.0, 3600.0)},
                     {"max_gap_s", number(k.max_gap_s, 0.1, 3600.0)},
                     {"window_s", number(k.window_s, 0.0, 60.0)},
                     {"cut_threshold", number(k.cut_threshold, 0.5, 255.0)},
                     {"cut_ratio", number(k.cut_ratio, 1.0, 100.0)},
                     {"flash_max_s", number(k.flash_max_s, 0.0, 5.0)},
                     {"return_ratio", number(k.return_ratio, 0.0, 1.0)},
                     {"duplicate_hamming", integer(k.duplicate_hamming, 0, 64)},
                     {"duplicate_memory", integer(k.duplicate_memory, 1, 1000)},
                     {"baseline_s", number(k.baseline_s, 0.1, 60.0)},
                     {"dissolve_s", number(k.dissolve_s, 0.1, 10.0)},
                     {"dissolve_threshold", number(k.dissolve_threshold, 0.5, 255.0)},
                     {"dissolve_blend_max", number(k.dissolve_blend_max, 0.0, 1.0)},
                     {"structure_threshold", number(k.structure_threshold, 0.0, 255.0)},
                     {"max_transition_s", number(k.max_transition_s, 0.1, 60.0)},
                     {"jpeg_quality", integer(c.keyframes.jpeg_quality, 1, 100)}}},
      {"detector", {{"kind", string_of(d.kind, {"none", "onnx", "blazeface", "hog-people", "cascade", "motion"})},
                    {"rate_hz", number(d.rate_hz, 0.0, 240.0)},
                    {"width", integer(d.width, 64, 3840)},
                    {"min_score", number_f(d.min_score, 0.0, 1.0)},
                    {"tiles", integer(d.tiles, 1, 8)},
                    {"tile_overlap", number_f(d.tile_overlap, 0.0, 0.5)},
                    {"model", path(d.model)},
                    {"labels", path(d.labels)},
                    {"format", string_of(d.format, {"auto", "yolov5", "yolov8", "yolox", "nanodet"})},
                    {"classes", strings(d.classes)},
                    {"class_min_scores", scores_by_name(d.class_min_scores)},
                    {"input_size", integer(d.input_size, 32, 2048)},
                    {"nms_iou", number_f(d.nms_iou, 0.0, 1.0)},
                    {"cross_class_iou", number_f(d.cross_class_iou, 0.0, 1.0)},
                    {"backend", string_of(d.backend, {"opencv", "cuda"})},
                    {"target", string_of(d.target, {"cpu", "cuda", "cuda_fp16"})},
                    {"cascades", paths(d.cascades)},
                    {"cascade_min_size", integer(d.cascade_min_size, 8, 1024)},
                    {"motion_method", string_of(d.motion_method, {"mog2", "knn"})},
                    {"motion_min_area", number(d.motion_min_area, 0.0, 1.0)},
                    {"motion_warmup", integer(d.motion_warmup, 0, 10000)}}},
      // Score thresholds are in the detector's units: above 1 where its scale is (`track --score-map none`).
      {"tracker", {{"high_score", number_f(t.high_score, -1e6, 1e6)},
                   {"low_score", number_f(t.low_score, -1e6, 1e6)},
                   {"new_track_score", number_f(t.new_track_score, -1e6, 1e6)},
                   {"match_iou", number_f(t.match_iou, 0.01, 1.0)},
                   {"low_match_iou", number_f(t.low_match_iou, 0.01, 1.0)},
                   {"tentative_match_iou", number_f(t.tentative_match_iou, 0.01, 1.0)},
                   {"class_penalty", number_f(t.class_penalty, 0.0, 1.0)},
                   {"min_hits", integer(t.min_hits, 1, 100)},
                   {"max_age", integer(t.max_age, 1, 10000)},
                   {"offline_min_shared", integer(c.tracking.offline.min_shared, 1, 1000)},
                   {"offline_fill_gap", integer(c.tracking.offline.fill_gap, 0, 10000)},
                   {"offline_min_detections", integer(c.tracking.offline.min_detections, 1, 10000)},
                   {"offline_min_mean_score", number_f(c.tracking.offline.min_mean_score, -1e6, 1e6)},
                   {"camera_motion", boolean(c.tracking.camera_motion)}}},
      {"clips", {{"enabled", boolean(c.clips.enabled)},
                 {"budget_min_per_hour", number(c.clips.budget_min_per_hour, 0.0, 60.0)},
                 {"pre_roll_s", number(p.pre_roll_s, 0.0, 60.0)},
                 {"post_roll_s", number(p.post_roll_s, 0.0, 60.0)},
                 {"min_s", number(p.min_s, 0.5, 600.0)},
                 {"max_s", number(p.max_s, 1.0, 3600.0)},
                 {"track_min_s", number(p.track_min_s, 0.0, 3600.0)},
                 {"track_classes", strings(p.track_classes)},
                 {"person_min_height", number(p.person_min_height, 0.0, 1.0)},
                 {"person_classes", strings(p.person_classes)},
                 {"scene_cuts", boolean(p.scene_cuts)},
                 {"sample_every_s", number(p.sample_every_s, 0.0, 86400.0)},
                 {"effort_watch_passes", number(e.watch_passes, 0.0, 100.0)},
                 {"effort_per_track_s", number(e.per_track_s, 0.0, 3600.0)},
                 {"effort_per_box_s", number(e.per_box_s, 0.0, 3600.0)},
                 {"effort_per_keyframe_s", number(e.per_keyframe_s, 0.0, 3600.0)},
                 {"effort_per_missed_box_s", number(e.per_missed_box_s, 0.0, 3600.0)},
                 {"effort_recall_live", number(e.recall_live, 0.01, 1.0)},
                 {"effort_recall_redetected", number(e.recall_redetected, 0.01, 1.0)},
                 {"effort_precision", number(e.precision, 0.0, 1.0)}}},
      {"recording", {{"segment_s", number(c.recording.segment_s, 2.0, 3600.0)},
                     {"analysis_chunk_s", number(c.recording.analysis_chunk_s, 1.0, 86400.0)},
                     {"stall_s", number(c.recording.stall_s, 0.0, 3600.0)}}},
      {"prelabel", {{"input_size", integer(c.prelabel.input_size, 32, 4096)},
                    {"width", integer(c.prelabel.width, 64, 7680)},
                    {"tiles", integer(c.prelabel.tiles, 1, 8)},
                    {"tile_overlap", number_f(c.prelabel.tile_overlap, 0.0, 0.5)},
                    {"rate_hz", number(c.prelabel.rate_hz, 0.0, 240.0)},
                    {"redetect", boolean(c.prelabel.redetect)},
                    {"model", path(c.prelabel.model)},
                    {"max_wait_s", number(c.prelabel.max_wait_s, 0.0, 86400.0)},
                    {"format", string_of(c.prelabel.format, {"auto", "yolov5", "yolov8", "yolox", "nanodet"})}}},
      {"retention", {{"max_bytes", integer64(r.max_bytes, 0, int64_t(1) << 60)},
                     {"hard_max_bytes", integer64(r.hard_max_bytes, 0, int64_t(1) << 60)},
                     {"max_percent", number(r.max_percent, 1.0, 100.0)},
                     {"hard_percent", number(r.hard_percent, 1.0, 100.0)},
                     {"interval_s", number(r.interval_s, 1.0, 86400.0)}}},
      {"sync", {{"enabled", boolean(c.sync.enabled)},
                {"target", string_any(c.sync.target)},
                {"endpoint", string_any(c.sync.endpoint)},
                {"region", string_of(c.sync.region)},
                {"path_style", boolean(c.sync.path_style)},
                {"ca_file", string_any(c.sync.ca_file)},
                {"credentials_file", string_any(c.sync.credentials_file)},
                {"multipart_threshold_mib", integer(c.sync.multipart_threshold_mib, 5, 5 * 1024 * 1024)},
                {"part_mib", integer(c.sync.part_mib, 5, 5 * 1024)},
                {"max_bytes_per_s", integer64(c.sync.max_bytes_per_s, 0, int64_t(1) << 40)},
                {"concurrency", integer(c.sync.concurrency, 1, 16)},
                {"network", string_any(c.sync.network)},
                {"hours", string_any(c.sync.hours)},
                {"interval_s", number(c.sync.interval_s, 0.1, 86400.0)},
                {"attempts", integer(c.sync.attempts, 1, 100)},
                {"backoff_s", number(c.sync.backoff_s, 0.0, 3600.0)},
                {"backoff_max_s", number(c.sync.backoff_max_s, 0.0, 86400.0)},
                {"timeout_s", number(c.sync.timeout_s, 1.0, 3600.0)}}},
      {"privacy", {{"faces", string_of(c.privacy.faces, pipeline::privacy::policies())},
                   {"plates", string_of(c.privacy.plates, pipeline::privacy::policies())},
                   {"conservative", boolean(c.privacy.conservative)},
                   {"min_person_px", number(c.privacy.min_person_px, 0.0, 10000.0)},
                   {"min_vehicle_px", number(c.privacy.min_vehicle_px, 0.0, 10000.0)},
                   {"detect_hz", number(c.privacy.detect_hz, 0.1, 120.0)},
                   {"hold_s", number(c.privacy.hold_s, 0.0, 10.0)},
                   {"pad", number(c.privacy.pad, 0.0, 2.0)},
                   {"object_input_size", integer(c.privacy.objects.input_size, 32, 4096)},
                   {"object_min_score", number_f(c.privacy.objects.min_score, 0.0, 1.0)},
                   {"object_nms_iou", number_f(c.privacy.objects.nms_iou, 0.0, 1.0)},
                   {"face_model", path(c.privacy.face_model)},
                   {"face_min_score", number_f(c.privacy.face_min_score, 0.0, 1.0)},
                   {"plate_cascades", paths(c.privacy.plate_cascades)},
                   {"plate_model", path(c.privacy.plate_model)},
                   {"plate_labels", path(c.privacy.plate_labels)},
                   {"plate_format", string_of(c.privacy.plate_format, {"auto", "yolov5", "yolov8", "yolox"})},
                   {"plate_input_size", integer(c.privacy.plate_input_size, 32, 2048)},
                   {"plate_min_score", number_f(c.privacy.plate_min_score, 0.0, 1.0)},
                   {"fill", fill_colour(c.privacy.fill_rgb)},
                   {"quality", integer(c.privacy.quality, 0, 50)}}},
      {"ui", {{"enabled", boolean(c.ui.enabled)},
              {"bind", string_any(c.ui.bind)},
              {"port", integer(c.ui.port, 0, 65535)},
              {"cert", string_any(c.ui.cert)},
              {"key", string_any(c.ui.key)},
              {"session_hours", number(c.ui.session_hours, 0.01, 24.0 * 30)},
              {"max_failures", integer(c.ui.max_failures, 1, 100)},
              {"lockout_s", number(c.ui.lockout_s, 1.0, 86400.0)},
              {"address_wait_s", number(c.ui.address_wait_s, 0.0, 86400.0)},
              {"reject_reasons", strings(c.ui.reject_reasons)}}},
      {"power", {{"fail_file", path_or_empty(c.power.fail_file)},
                 {"fail_value", string_of(c.power.fail_value)}}},
  };
  toml::table table;
  try {
    table = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(at(file, e.source()) + ": " + std::string(e.description()));
  }
  // The defaults' format, input size and class choice belong to the bundled
  // model: a config that names another model starts from a generic choice.
  if (const auto* det = table["detector"].as_table(); det && det->contains("model")) {
    d.format = "auto";
    d.input_size = 640;
    d.classes.clear();
    d.class_min_scores.clear();
  }
  if (Status st = apply(table, "", sections, file); !st.ok()) return st;
  if (k.min_gap_s > k.max_gap_s)
    return Status::InvalidArgument(file + ": keyframes.min_gap_s (" + std::to_string(k.min_gap_s) +
                                   ") must not exceed keyframes.max_gap_s (" + std::to_string(k.max_gap_s) + ")");
  if (t.low_score > t.high_score)
    return Status::InvalidArgument(file + ": tracker.low_score (" + std::to_string(t.low_score) +
                                   ") must not exceed tracker.high_score (" + std::to_string(t.high_score) + ")");
  if (Status st = pipeline::clips::validate(p); !st.ok()) return Status::InvalidArgument(file + ": " + st.message());
  if (r.hard_percent < r.max_percent)
    return Status::InvalidArgument(file + ": retention.hard_percent must not be below retention.max_percent");
  if (r.hard_max_bytes > 0 && r.hard_max_bytes < r.max_bytes)
    return Status::InvalidArgument(file + ": retention.hard_max_bytes must not be below retention.max_bytes");
  if (const std::string& n = c.sync.network;
      n != "always" && n != "probe" && !(n.starts_with("interface:") && n.size() > 10) &&
      !(n.starts_with("command:") && n.size() > 8))
    return Status::InvalidArgument(file + ": sync.network '" + n +
                                   "' must be always, probe, interface:NAME or command:CMD");
  if (!c.sync.hours.empty()) {
    int from = -1, to = -1;
    char tail = 0;
    if (std::sscanf(c.sync.hours.c_str(), "%d-%d%c", &from, &to, &tail) != 2 || from < 0 || from > 23 || to < 0 ||
        to > 24 || from == to)
      return Status::InvalidArgument(file + ": sync.hours '" + c.sync.hours + "' must be FROM-TO in UTC hours, e.g. 22-6");
  }
  // Off loopback a password and a session cookie cross the depot LAN: only over HTTPS.
  if (const std::string& b = c.ui.bind; b != "127.0.0.1" && b != "localhost" && b != "::1" &&
                                        (c.ui.cert.empty() || c.ui.key.empty()))
    return Status::InvalidArgument(file + ": ui.bind '" + b + "' is not loopback: set ui.cert and ui.key (HTTPS)");
  if ((c.ui.cert.empty()) != (c.ui.key.empty()))
    return Status::InvalidArgument(file + ": ui.cert and ui.key go together");
  if (c.ui.reject_reasons.empty()) return Status::InvalidArgument(file + ": ui.reject_reasons must not be empty");
  if (d.kind == "onnx" && (d.model.empty() || d.labels.empty()))
    return Status::InvalidArgument(file + ": detector.kind = \"onnx\" needs detector.model and detector.labels");
  return c;
}

std::filesystem::path model_dir() {
  if (const char* env = std::getenv("DASHLOOP_MODEL_DIR"); env && *env) return env;
  return DASHLOOP_MODEL_DIR;
}

pipeline::privacy::PrivacyConfig privacy_for(const Config& c, const std::string& camera) {
  pipeline::privacy::PrivacyConfig p = c.privacy;
  for (const auto& cam : c.cameras)
    if (cam.name == camera) {
      if (!cam.faces.empty()) p.faces = cam.faces;
      if (!cam.plates.empty()) p.plates = cam.plates;
    }
  resolve_model_paths(p.objects);
  for (auto* f : {&p.face_model, &p.plate_model, &p.plate_labels})
    if (!f->empty() && f->is_relative()) *f = model_dir() / *f;
  return p;
}

void resolve_model_paths(pipeline::vision::DetectorConfig& d) {
  for (auto* p : {&d.model, &d.labels})
    if (!p->empty() && p->is_relative()) *p = model_dir() / *p;
}

Result<Credentials> load_credentials(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return Status::InvalidArgument(file.string() + ": cannot read credentials file (" + std::strerror(errno) + ")");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument(file.string() + ": credentials file has mode " + mode +
                                   ", others may read it; chmod 600 " + file.string());
  }
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(at(file.string(), e.source()) + ": " + std::string(e.description()));
  }
  Credentials c;
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    auto text = node.value_exact<std::string>();
    if ((k != "access_key" && k != "secret_key") || !text || text->empty())
      return Status::InvalidArgument(at(file.string(), key.source()) + ": key '" + k +
                                     "': a credentials file holds only access_key and secret_key (strings)");
    (k == "access_key" ? c.access_key : c.secret_key) = *text;
  }
  if (c.access_key.empty() || c.secret_key.empty())
    return Status::InvalidArgument(file.string() + ": needs both access_key and secret_key");
  return c;
}

Result<Config> load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::InvalidArgument(file.string() + ": cannot read config file");
  std::stringstream buf;
  buf << in.rdbuf();
  return load_string(buf.str(), file.string());
}

}  // namespace dashloop::firmware::config
