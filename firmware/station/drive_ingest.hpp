// One drive from a source to the catalog and the review queue: analyse it
// (decode, keyframes, detection, tracking), store it in one transaction, and
// when it is a recording (a file, or a camera's recorded segments) plan, cut
// and package its clips. `dashloop ingest` calls it per source; the station
// (`dashloop run`) calls it per camera as segments close.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "station/clip_maker.hpp"
#include "station/context.hpp"
#include "catalog/catalog.hpp"
#include "drive.hpp"

namespace dashloop::app {

// A moment someone asked a clip for: a driver's button, a CAN or IMU bridge.
struct TriggerAt {
  double t_s = 0;                // seconds into the drive
  std::string kind = "trigger";  // trigger | mark (an operator's)
  std::string note;
};

struct IngestRequest {
  std::string source;            // as `ingest` takes it: PATH, rtsp://, recording://CAMERA, ...
  std::string camera;            // empty: the config's
  std::string mode;              // full | triage; empty: the config's
  int analysis_width = 0;        // 0: the config's
  std::vector<TriggerAt> triggers;
  std::string actor = "ingest";  // in the clips' audit rows
  int attempt = 0;               // makes the staging directory unique within the process
  bool again = false;            // a file already ingested (same fingerprint) is ingested again
  const std::atomic<bool>* stop = nullptr;
  pipeline::ProgressFn progress;
  // The pre-label pass on the new packages before returning; the station
  // leaves them packaged for its background pass instead.
  bool prelabel_now = true;
};

struct IngestOutcome {
  int exit_code = 0;  // ExitCode: kExitOk, or why nothing (or not all) was stored
  std::string error;  // for kExitInput / kExitStorage
  int64_t drive_id = 0;
  pipeline::DriveResult result;
  firmware::catalog::DriveObjects objects;
  ClipRun clips;
};

// Before a process's first ingest: removes what a crashed one left (staging
// keyframes, half-written packages). Config errors (a bad model) are returned.
Status prepare_ingest(Context& ctx);

IngestOutcome ingest_drive(Context& ctx, const IngestRequest& request);

}  // namespace dashloop::app
