// What a dashloop process starts from and ends with, for the subcommands
// and the services alike: the global options and the exit codes.
#pragma once

#include <string>

namespace dashloop::app {

enum ExitCode : int { kExitOk = 0, kExitUsage = 2, kExitInput = 3, kExitStorage = 4, kExitInterrupted = 130 };

struct GlobalOptions {
  std::string config_file;  // empty: built-in defaults (as in firmware/config/dashloop.toml)
  std::string data_dir;     // empty: from config
  std::string log_level;    // empty: from config
};

}  // namespace dashloop::app
