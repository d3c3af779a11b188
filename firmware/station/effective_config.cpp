#include "station/effective_config.hpp"

#include <spdlog/spdlog.h>

namespace dashloop::app {

std::variant<firmware::config::Config, int> effective_config(const GlobalOptions& global) {
  firmware::config::Config config;
  if (!global.config_file.empty()) {
    auto loaded = firmware::config::load_file(global.config_file);
    if (!loaded.ok()) {
      spdlog::error("config: {}", loaded.status().message());
      return kExitUsage;
    }
    config = std::move(loaded.value());
  }
  if (!global.data_dir.empty()) config.data_dir = global.data_dir;
  firmware::config::resolve_model_paths(config.detector);
  if (auto& m = config.prelabel.model; !m.empty() && m.is_relative()) m = firmware::config::model_dir() / m;
  spdlog::set_level(spdlog::level::from_str(global.log_level.empty() ? config.log_level : global.log_level));
  return config;
}

}  // namespace dashloop::app
