// What every subcommand that touches the station's data starts from: the
// effective config (file, then flags), the data directory and the catalog.
#pragma once

#include <memory>
#include <variant>

#include "app/commands.hpp"
#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "retention/retention.hpp"

namespace dashloop::app {

struct Context {
  firmware::config::Config config;
  std::unique_ptr<firmware::catalog::Catalog> catalog;
};

// Config, flags over it, the data directory and the catalog: or an exit code.
std::variant<Context, int> prepare(const GlobalOptions& global);

// The retention policy a config sets.
firmware::retention::Policy retention_policy(const firmware::config::Config& config);

}  // namespace dashloop::app
