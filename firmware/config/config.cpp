#include "config/config.hpp"

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
  const std::map<std::string, Fields> sections = {
      {"", {{"data_dir", path(c.data_dir)}, {"vehicle", string_of(c.vehicle)}, {"camera", string_of(c.camera)},
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
                     {"max_transition_s", number(k.max_transition_s, 0.1, 60.0)},
                     {"jpeg_quality", integer(c.keyframes.jpeg_quality, 1, 100)}}},
  };
  toml::table table;
  try {
    table = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(at(file, e.source()) + ": " + std::string(e.description()));
  }
  if (Status st = apply(table, "", sections, file); !st.ok()) return st;
  if (k.min_gap_s > k.max_gap_s)
    return Status::InvalidArgument(file + ": keyframes.min_gap_s (" + std::to_string(k.min_gap_s) +
                                   ") must not exceed keyframes.max_gap_s (" + std::to_string(k.max_gap_s) + ")");
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
