// The pre-label pass (docs/TRACKING.md): a written package's clip decoded,
// detected with the accurate [prelabel] setting and tracked by the offline
// tracker; its tracks replace the package's labels in place. The station runs
// it in the background on clips in `packaged` (clip_maker's
// prelabel_packaged); `dashloop prelabel` runs it on packages anywhere.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "clips/package.hpp"
#include "config/config.hpp"
#include "status.hpp"

namespace dashloop::app {

// Whether this config pre-labels packages with the pass.
bool prelabel_on(const firmware::config::Config& config);

// Why the pass cannot run on packages asked for by name (`dashloop
// prelabel`, `collect --prelabel`) with this config, or ok.
Status can_prelabel(const firmware::config::Config& config);

struct PrelabelControl {
  const std::atomic<bool>* stop = nullptr;  // set: ends the pass between frames (Unavailable), the package unchanged
  std::function<void()> pause;              // called between frames; may wait (the station: while analysis works)
  std::string by = "station";               // what ran it, for the manifest
};

struct PrelabelReport {
  firmware::catalog::PackageFacts facts;  // the rewritten package's
  int tracks = 0;
  double seconds = 0;  // the pass's wall time
  double clip_s = 0;
};

// The tracks a pass made, on drive frames, as the box keeps them beside the
// package (clips::prelabel_cache_of) for an operator's edits.
struct PassLabels {
  std::string detector;
  nlohmann::json setting;  // the manifest's `prelabel`
  int64_t first_frame = 0, last_frame = 0;  // the drive frames the pass saw
  std::vector<pipeline::clips::LabelTrack> tracks;
};
// The kept tracks of the package in `dir`; nullopt when there are none (or
// they cannot be read: the pass is run again).
std::optional<PassLabels> kept_pass(const std::filesystem::path& dir);

struct ClipEdits;
// An operator's label edits (relabels, deletions) on the pass's kept tracks
// written into the package in `dir` with `review`: labels and manifest only,
// the clip kept as it is (no cut, no redaction, no pass). Refused where the
// package's labels are not that pass's over the same frames.
Result<firmware::catalog::PackageFacts> relabel_package(const std::filesystem::path& dir, const PassLabels& pass,
                                                        const ClipEdits& edits, const nlohmann::json& review);

// A package whose redaction waited for the pass (clips::privacy_pending)
// where no pass will run (it failed, or is turned off since): redacted with
// the redactor's own detector, its labels those `live_labels` gives (the
// ones it was cut with: a package read back carries none), asked for only
// there. Nothing where the package waits for no redaction (or cannot be
// read: its review says so).
using LiveLabels = std::function<Result<std::vector<pipeline::clips::LabelTrack>>()>;
Result<std::optional<firmware::catalog::PackageFacts>> redact_pending(const firmware::config::Config& config,
                                                                      const std::filesystem::path& dir,
                                                                      const LiveLabels& live_labels,
                                                                      const std::atomic<bool>* stop);

// Runs the pass on the package in `dir` (on its original clip where the box
// keeps one beside it: redaction blurs what the detector should see) and
// rewrites its labels and manifest (and redacts it with the pass's people and
// vehicles where its redaction waited for the pass); the package is swapped in whole (rename
// exchange), so a crash leaves the old one or the new one. An operator's
// relabels and deletions in the manifest's review are applied again by track
// number: the pass is deterministic, so they name the same tracks, unless the
// setting differs from the one that made the labels, which is refused.
Result<PrelabelReport> prelabel_package(const firmware::config::Config& config, const std::filesystem::path& dir,
                                        const PrelabelControl& control);

}  // namespace dashloop::app
