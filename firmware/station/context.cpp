#include "station/context.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "station/effective_config.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {

std::variant<Context, int> prepare(const GlobalOptions& g, OnFullDisk full) {
  auto config = effective_config(g);
  if (auto* code = std::get_if<int>(&config)) return *code;
  Context ctx;
  ctx.config = std::move(std::get<firmware::config::Config>(config));

  std::error_code ec;
  fs::create_directories(ctx.config.data_dir / "keyframes", ec);
  if (ec) {
    spdlog::error("data dir {}: {}", ctx.config.data_dir.string(), ec.message());
    return kExitStorage;
  }
  auto catalog = firmware::catalog::Catalog::open(ctx.config.data_dir / "catalog.sqlite");
  // kUnavailable: a sound catalog on a full disk.
  if (!catalog.ok() && catalog.status().kind() == Status::Kind::kUnavailable && full == OnFullDisk::kFreeSpace &&
      firmware::retention::release_reserve(ctx.config.data_dir)) {
    spdlog::warn("catalog: {}; released the {} MiB reserve to open it, freeing space by retention's rules next",
                 catalog.status().message(), firmware::retention::kReserveBytes >> 20);
    catalog = firmware::catalog::Catalog::open(ctx.config.data_dir / "catalog.sqlite");
  }
  if (!catalog.ok()) {
    spdlog::error("catalog: {}", catalog.status().message());
    return kExitStorage;
  }
  ctx.catalog = std::move(catalog.value());
  return ctx;
}

firmware::retention::Policy retention_policy(const firmware::config::Config& config) {
  const auto& r = config.retention;
  return {r.max_bytes, r.hard_max_bytes, r.max_percent, r.hard_percent};
}

}  // namespace dashloop::app
