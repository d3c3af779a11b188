#include "station/ui_part.hpp"

#include <spdlog/spdlog.h>

#include "station/bus.hpp"
#include "station/clip_maker.hpp"
#include "station/context.hpp"
#include "catalog/catalog.hpp"

using nlohmann::json;

namespace dashloop::app {

Result<std::unique_ptr<UiPart>> UiPart::start(const firmware::config::Config& config, Publish publish) {
  ui::UiOptions options;
  options.config = config.ui;
  options.data_dir = config.data_dir;
  options.web_dir = DASHLOOP_WEB_DIR;
  if (const char* env = std::getenv("DASHLOOP_WEB_DIR"); env && *env) options.web_dir = env;
  for (const auto& c : config.cameras) options.cameras.push_back(c.name);
  if (options.cameras.empty()) options.cameras.push_back(config.camera);
  options.labels = config.detector.classes;  // the server adds every class the catalog's tracks have

  ui::UiHooks hooks;
  // An edit rebuilds the package on the request's thread, with its own catalog connection.
  hooks.edit = [config](int64_t clip_id, const json& edits, const std::string& actor) -> Status {
    auto parsed = ClipEdits::from_json(edits);
    if (!parsed.ok()) return parsed.status();
    Context ctx;
    ctx.config = config;
    auto catalog = firmware::catalog::Catalog::open(config.data_dir / "catalog.sqlite");
    if (!catalog.ok()) return catalog.status();
    ctx.catalog = std::move(catalog.value());
    return edit_clip(ctx, clip_id, *parsed, actor);
  };
  const auto endpoints = bus_endpoints(config.data_dir);
  hooks.station_status = [control = endpoints.control]() -> json {
    auto reply = bus_request(control, {{"cmd", "status"}}, 1000);
    return reply.ok() && reply->value("ok", false) ? *reply : json(nullptr);
  };
  hooks.changed = std::move(publish);

  std::unique_ptr<UiPart> part(new UiPart());
  auto server = ui::UiServer::start(std::move(options), std::move(hooks));
  if (!server.ok()) return server.status();
  part->server_ = std::move(server.value());
  ui::UiServer* raw = part->server_.get();
  part->feeder_ = std::thread([raw, stop = &part->stop_, endpoints] {
    // The bus is the live view's only source: a lost subscription is made again.
    while (!*stop) {
      Status st = bus_subscribe(
          {endpoints.events, endpoints.analysis_events, endpoints.sync_events},
          [raw](const std::string& event) {
            raw->publish(event);
            return true;
          },
          *stop, 0);
      if (st.ok() || *stop) continue;
      spdlog::warn("ui: bus: {}; subscribing again in 5 s", st.message());
      for (int i = 0; i < 25 && !*stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  return part;
}

UiPart::~UiPart() {
  stop_ = true;
  if (feeder_.joinable()) feeder_.join();
  if (server_) server_->stop();
}

}  // namespace dashloop::app
