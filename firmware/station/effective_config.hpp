// The config every subcommand runs with: the --config file (or the built-in
// defaults), then the global flags over it; the log level is applied. On a
// bad file the error is logged and the exit code (kExitUsage) returned.
#pragma once

#include <variant>

#include "station/process.hpp"
#include "config/config.hpp"

namespace dashloop::app {

std::variant<firmware::config::Config, int> effective_config(const GlobalOptions& global);

}  // namespace dashloop::app
