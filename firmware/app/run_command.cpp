// dashloop run (the station: firmware/station/station.*), and the bus's two
// clients: dashloop events, dashloop trigger / mark / flush / status.
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "station/bus.hpp"
#include "station/context.hpp"
#include "station/effective_config.hpp"
#include "station/signal_stop.hpp"
#include "station/station.hpp"

using nlohmann::json;

namespace dashloop::app {

int run_station(const GlobalOptions& global, const RunOptions& options) {
  if (options.only == "ui") {  // the UI alone, as its own unit: `dashloop ui`
    UiCommandOptions ui;
    ui.seconds = options.seconds;
    return run_ui(global, ui);
  }
  SignalStop signals;  // first: every thread (GStreamer's, OpenCV's, analysis) inherits the blocked signals
  auto prepared = prepare(global, options.only.empty() || options.only == "record" ? OnFullDisk::kFreeSpace
                                                                                    : OnFullDisk::kFail);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  signals.watch_power(ctx.config.power.fail_file, ctx.config.power.fail_value);
  return run_station_loop(ctx, options, signals);
}

int run_events(const GlobalOptions& global, const EventsOptions& options) {
  SignalStop signals;
  auto config = effective_config(global);
  if (auto* code = std::get_if<int>(&config)) return *code;
  const auto endpoints = bus_endpoints(std::get<firmware::config::Config>(config).data_dir);
  int seen = 0;
  Status st = bus_subscribe(
      {endpoints.events, endpoints.analysis_events, endpoints.sync_events},
      [&](const std::string& event) {
        if (!options.type.empty()) {
          const json e = json::parse(event, nullptr, false);
          if (e.is_discarded() || e.value("type", "").rfind(options.type, 0) != 0) return true;
        }
        std::cout << event << std::endl;
        return options.count <= 0 || ++seen < options.count;
      },
      signals.requested(), options.seconds);
  if (!st.ok()) {
    spdlog::error("events: {}", st.message());
    return kExitInput;
  }
  return options.count > 0 && seen < options.count ? kExitInput : kExitOk;
}

int run_control(const GlobalOptions& global, const std::string& cmd, const std::string& camera, const std::string& note,
                const std::string& at) {
  json request = {{"cmd", cmd}};
  if (!camera.empty()) request["camera"] = camera;
  if (!note.empty()) request["note"] = note;
  if (!at.empty()) request["at"] = at;
  auto config = effective_config(global);
  if (auto* code = std::get_if<int>(&config)) return *code;
  const auto endpoint = bus_endpoints(std::get<firmware::config::Config>(config).data_dir).control;
  auto reply = bus_request(endpoint, request, 3000);
  if (!reply.ok()) {
    spdlog::error("{}: {}", request.value("cmd", "?"), reply.status().message());
    return kExitInput;
  }
  std::cout << reply->dump() << std::endl;
  if (!reply->value("ok", false)) {
    spdlog::error("{}: {}", request.value("cmd", "?"), reply->value("error", "refused"));
    return kExitInput;
  }
  return kExitOk;
}

}  // namespace dashloop::app
