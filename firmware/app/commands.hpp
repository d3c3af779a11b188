// The dashloop subcommands, as functions from parsed options to an exit code.
// This is the composition root: the only code that joins config, catalog and
// pipeline. Messages for people go to stderr; results (and --json) to stdout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dashloop::app {

enum ExitCode : int { kExitOk = 0, kExitUsage = 2, kExitInput = 3, kExitStorage = 4, kExitInterrupted = 130 };

struct GlobalOptions {
  std::string config_file;  // empty: built-in defaults (as in firmware/config/dashloop.toml)
  std::string data_dir;     // empty: from config
  std::string log_level;    // empty: from config
};

struct IngestOptions {
  std::vector<std::string> sources;
  std::string mode;          // empty: from config
  int analysis_width = 0;    // 0: from config
  bool json = false;
  bool quiet = false;
};

struct TrackOptions {
  std::string detections;  // MOTChallenge det.txt
  std::string out;         // MOTChallenge results
  int fill_gap = 2;        // predicted boxes fill gaps of at most this many frames
};

struct EvalMotOptions {
  std::string gt, pred;
  float min_iou = 0.5f;
  bool json = false;
};

int run_ingest(const GlobalOptions& global, const IngestOptions& options);
int run_drives(const GlobalOptions& global, bool json);
int run_keyframes(const GlobalOptions& global, int64_t drive_id, bool json);
// A drive's tracks; with --boxes, every box (MOTChallenge-style lines in JSON).
int run_tracks(const GlobalOptions& global, int64_t drive_id, bool json, bool boxes);
// The tracker alone on MOTChallenge detections -> MOTChallenge results.
int run_track(const GlobalOptions& global, const TrackOptions& options);
// CLEAR-MOT and IDF1 of results against ground truth.
int run_eval_mot(const EvalMotOptions& options);
// Checks what this machine needs: GStreamer elements (and the optional
// Jetson ones), the data directory, the catalog. Exit 1 when a required
// check fails.
int run_doctor(const GlobalOptions& global, bool json);

}  // namespace dashloop::app
