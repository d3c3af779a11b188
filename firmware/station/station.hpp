// The station (`dashloop run`) in one process: every [[camera]] recorded on
// its own thread, closed segments analysed into drives and clips, the
// pre-label pass and redaction in the background, retention, sync, the UI,
// the ZeroMQ bus. station.cpp says how; docs/STATION.md what it promises.
#pragma once

#include <string>

#include "station/context.hpp"
#include "station/signal_stop.hpp"

namespace dashloop::app {

struct RunOptions {
  double seconds = 0;  // 0: until SIGINT / SIGTERM
  std::string only;    // record | analysis | sync | ui: one part (its own systemd unit); empty: all
};

// Runs until a stop (a signal, the power-fail input, --seconds); the
// process's exit code. `ctx` is the opened config and catalog.
int run_station_loop(Context& ctx, const RunOptions& options, const SignalStop& signals);

}  // namespace dashloop::app
