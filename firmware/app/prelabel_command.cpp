// `dashloop prelabel PACKAGE...`: the pre-label pass on packages wherever
// they are (a depot PC, the cloud job), with this config's [prelabel] and
// [detector] setting, so a site with a larger model or a GPU labels the same
// packages better. Each package is rewritten in place, whole or not at all.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "station/effective_config.hpp"
#include "station/prelabel.hpp"
#include "station/signal_stop.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {

int run_prelabel(const GlobalOptions& global, const PrelabelOptions& o) {
  SignalStop signals;
  auto loaded = effective_config(global);
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  auto config = std::get<firmware::config::Config>(loaded);
  if (Status st = can_prelabel(config); !st.ok()) {
    spdlog::error("prelabel: {}", st.message());
    return kExitUsage;
  }
  int code = kExitOk;
  json results = json::array();
  for (const auto& package : o.packages) {
    if (signals.requested()) return kExitInterrupted;
    auto report = prelabel_package(config, package, {&signals.requested(), {}, "dashloop prelabel"});
    if (!report.ok()) {
      if (signals.requested()) {
        spdlog::error("prelabel: {}: interrupted; the package is as it was", package);
        return kExitInterrupted;
      }
      const bool input = report.status().kind() != Status::Kind::kIOError;
      spdlog::error("prelabel: {}", report.status().message());
      if (code == kExitOk) code = input ? kExitInput : kExitStorage;
      results.push_back({{"package", package}, {"error", report.status().message()}});
      continue;
    }
    if (!o.json)
      std::printf("%s: %d tracks, about %.1f annotator minutes, %.1f s for %.1f s of clip\n", package.c_str(),
                  report->tracks, report->facts.effort_minutes, report->seconds, report->clip_s);
    results.push_back({{"package", package},
                       {"tracks", report->tracks},
                       {"annotator_minutes", report->facts.effort_minutes},
                       {"seconds", report->seconds},
                       {"clip_s", report->clip_s}});
  }
  if (o.json) std::printf("%s\n", results.dump(2).c_str());
  return code;
}

}  // namespace dashloop::app
