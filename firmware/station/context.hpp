// What every subcommand that touches the station's data starts from: the
// effective config (file, then flags), the data directory and the catalog.
#pragma once

#include <memory>
#include <variant>

#include "station/process.hpp"
#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "retention/retention.hpp"
#include "sync/store.hpp"

namespace dashloop::app {

struct Context {
  firmware::config::Config config;
  std::unique_ptr<firmware::catalog::Catalog> catalog;
};

// What a command may do to open its catalog on a full disk.
enum class OnFullDisk {
  kFail,         // say so and exit (a command that only reads or adds)
  kFreeSpace,    // release the reserve to open it: the caller frees space by retention next (run, retention)
};

// Config, flags over it, the data directory and the catalog: or an exit code.
std::variant<Context, int> prepare(const GlobalOptions& global, OnFullDisk full = OnFullDisk::kFail);


// The retention policy a config sets.
firmware::retention::Policy retention_policy(const firmware::config::Config& config);

// The object store [sync] sends packages to (or `target`, when given), with
// credentials from the 0600 file or the environment. Errors name the
// setting; credentials never appear in them.
Result<std::unique_ptr<firmware::sync::ObjectStore>> open_target(const firmware::config::Config& config,
                                                                  const std::string& target = "");

}  // namespace dashloop::app
