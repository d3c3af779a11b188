// dashloop record: a live source into crash-safe segments, indexed in the
// catalog as they close; the disk quota enforced as it goes.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "app/commands.hpp"
#include "station/camera_recorder.hpp"
#include "station/context.hpp"
#include "station/signal_stop.hpp"
#include "retention/retention.hpp"

namespace dashloop::app {

namespace media = pipeline::media;

int run_record(const GlobalOptions& global, const RecordOptions& o) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  const std::string camera = o.camera.empty() ? ctx.config.camera : o.camera;
  auto source = media::parse_source(o.source);
  if (!source.ok()) {
    spdlog::error("record: {}", source.status().message());
    return kExitInput;
  }
  if (auto d = media::recorder_description(*source); !d.ok()) {
    spdlog::error("record: {}", d.status().message());
    return kExitInput;
  }
  const auto policy = retention_policy(ctx.config);
  auto enforce = [&] {
    auto report = firmware::retention::enforce(*ctx.catalog, ctx.config.data_dir, policy);
    if (!report.ok()) spdlog::error("retention: {}", report.status().message());
  };
  enforce();  // before writing
  auto recorder = CameraRecorder::start(*ctx.catalog, ctx.config.data_dir, camera, *source,
                                        o.segment_s > 0 ? o.segment_s : ctx.config.recording.segment_s,
                                        ctx.config.recording.stall_s);
  if (!recorder.ok()) {
    spdlog::error("record: {}", recorder.status().message());
    return recorder.status().kind() == Status::Kind::kInternal ? kExitStorage : kExitInput;
  }
  SignalStop signals;
  signals.watch_power(ctx.config.power.fail_file, ctx.config.power.fail_value);
  const auto started = std::chrono::steady_clock::now();
  auto last_retention = started;
  int exit_code = kExitOk;
  while (!signals.requested()) {
    if (Status st = (*recorder)->poll(0.2); !st.ok()) {
      spdlog::error("record: {}", st.message());
      exit_code = (*recorder)->catalog_failed() ? kExitStorage : kExitInput;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (o.seconds > 0 && now - started >= std::chrono::duration<double>(o.seconds)) break;
    if (now - last_retention >= std::chrono::duration<double>(ctx.config.retention.interval_s)) {
      enforce();
      last_retention = now;
    }
  }
  if (signals.power_failed())
    spdlog::warn("record: power failing ({} reads '{}'): closing the segment", ctx.config.power.fail_file.string(),
                 ctx.config.power.fail_value);
  if (Status st = (*recorder)->stop(); !st.ok()) spdlog::warn("record: stopping: {}", st.message());
  std::printf("recorded %.1f s from %s into %s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), o.source.c_str(),
              (*recorder)->dir().string().c_str());
  return exit_code;
}

}  // namespace dashloop::app
