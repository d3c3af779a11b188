// `dashloop redact IN OUT`: the packager's redaction on any video, for an
// operator who must share a file and for the privacy tests and benchmarks.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "station/effective_config.hpp"
#include "privacy/redactor.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {

int run_redact(const GlobalOptions& global, const RedactOptions& o) {
  auto loaded = effective_config(global);
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  const auto& config = std::get<firmware::config::Config>(loaded);
  auto policy = firmware::config::privacy_for(config, o.camera.empty() ? config.camera : o.camera);
  if (!o.faces.empty()) policy.faces = o.faces;
  if (!o.plates.empty()) policy.plates = o.plates;
  if (!policy.on()) {
    spdlog::error("redact: the policy redacts nothing (faces and plates none); give --faces or --plates");
    return kExitUsage;
  }
  std::error_code ec;
  if (!fs::is_regular_file(o.input, ec)) {
    spdlog::error("redact: {}: no such file", o.input);
    return kExitInput;
  }
  auto redactor = pipeline::privacy::Redactor::open(policy);
  if (!redactor.ok()) {
    spdlog::error("redact: {}", redactor.status().message());
    return kExitUsage;
  }
  const fs::path partial = o.output + ".partial";
  auto report = (*redactor)->redact_video(o.input, partial);
  if (!report.ok()) {
    fs::remove(partial, ec);
    spdlog::error("redact: {}", report.status().message());
    return kExitInput;
  }
  fs::rename(partial, o.output, ec);  // never a half-written output under its name
  if (ec) {
    spdlog::error("redact: {}: {}", o.output, ec.message());
    return kExitStorage;
  }
  json out = (*redactor)->manifest(*report);
  out["seconds"] = report->seconds;
  if (o.json) {
    json frames = json::array();
    for (const auto& boxes : report->by_frame) {
      json f = json::array();
      for (const auto& b : boxes) f.push_back({{"kind", b.kind}, {"x", b.box.x}, {"y", b.box.y}, {"w", b.box.width}, {"h", b.box.height}});
      frames.push_back(std::move(f));
    }
    out["by_frame"] = std::move(frames);
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s: %lld of %lld frames redacted, boxes %s, in %.1f s (%s)\n", o.output.c_str(),
                static_cast<long long>(report->frames_redacted), static_cast<long long>(report->frames),
                json(report->boxes).dump().c_str(), report->seconds, report->encoder.c_str());
  }
  return kExitOk;
}

}  // namespace dashloop::app
