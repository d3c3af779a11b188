// dashloop ingest / drives / keyframes.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "station/drive_ingest.hpp"
#include "app/commands.hpp"
#include "station/context.hpp"
#include "station/effective_config.hpp"
#include "station/progress.hpp"
#include "station/signal_stop.hpp"
#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "drive.hpp"

using nlohmann::json;

namespace dashloop::app {
namespace {

json keyframe_json(const firmware::catalog::KeyframeRecord& k) {
  return {{"frame", k.frame_index},      {"t_s", k.t_s},
          {"reason", k.reason},          {"trigger_frame", k.trigger_index},
          {"scores", {{"change", k.change}, {"content", k.content}, {"sharpness", k.sharpness},
                      {"brightness", k.brightness}, {"quality", k.quality}, {"dhash", k.dhash}}},
          {"image", k.image_path}};
}

json drive_json(const firmware::catalog::DriveRecord& d) {
  return {{"drive_id", d.id},   {"source", d.source},     {"vehicle", d.vehicle},   {"camera", d.camera},
          {"mode", d.mode},     {"ingested_utc", d.ingested_utc}, {"width", d.width}, {"height", d.height},
          {"fps", d.fps},       {"frames", d.frames},     {"duration_s", d.duration_s},
          {"elapsed_s", d.elapsed_s}, {"keyframe_dir", d.keyframe_dir}, {"detector", d.detector},
          {"detected_frames", d.detected_frames}, {"detection_skipped", d.detection_skipped}};
}

json track_json(const firmware::catalog::TrackRecord& t) {
  return {{"track", t.track_no},         {"label", t.label},         {"first_frame", t.first_frame},
          {"last_frame", t.last_frame},  {"first_s", t.first_s},     {"last_s", t.last_s},
          {"detections", t.detections},  {"mean_score", t.mean_score}, {"class_votes", json::parse(t.class_votes)}};
}

}  // namespace

int run_ingest(const GlobalOptions& global, const IngestOptions& options) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  const std::string mode = options.mode.empty() ? ctx.config.ingest.mode : options.mode;
  // Ctrl-C or SIGTERM: a live source's recording ends there and is stored;
  // a file's ingest is abandoned (nothing stored) and the exit code says so.
  // Taken before any thread starts (OpenCV's DNN pool among them), so every
  // thread inherits the blocked signals and none can swallow one.
  SignalStop signals;

  if (Status st = prepare_ingest(ctx); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  int exit_code = kExitOk;
  json out = {{"drives", json::array()}, {"errors", json::array()}};
  int attempt = 0;
  for (const auto& arg : options.sources) {
    // A stop while the models load, or between two files, is an interrupt too:
    // the exit code must not say the remaining files were ingested.
    if (signals.requested()) {
      spdlog::warn("ingest: interrupted before {}; it was not ingested", arg);
      return kExitInterrupted;
    }
    ++attempt;
    IngestRequest request;
    request.source = arg;
    request.mode = mode;
    request.analysis_width = options.analysis_width;
    request.again = options.again;
    for (double t : options.triggers) request.triggers.push_back({t, "trigger", "--trigger"});
    request.attempt = attempt;
    request.stop = &signals.requested();
    ProgressBar bar(arg, !options.quiet && !options.json);
    request.progress = [&](const auto& p) { bar.update(p); };
    IngestOutcome ingested = ingest_drive(ctx, request);
    bar.clear();
    if (ingested.exit_code == kExitInterrupted) return kExitInterrupted;
    if (ingested.drive_id == 0) {
      spdlog::error("ingest: {}", ingested.error);
      out["errors"].push_back({{"source", arg}, {"error", ingested.error}});
      if (ingested.exit_code == kExitStorage) return kExitStorage;
      exit_code = kExitInput;
      continue;
    }
    if (ingested.exit_code != kExitOk) {
      spdlog::error("ingest: {}", ingested.error);
      exit_code = ingested.exit_code;
    }
    const auto& r = ingested.result;
    const auto& clips = ingested.clips;
    const auto& objects = ingested.objects;
    const int64_t drive_id = ingested.drive_id;
    std::map<std::string, int> by_reason;
    for (const auto& k : r.keyframes) ++by_reason[pipeline::vision::to_string(k.keyframe.reason)];
    std::string reasons;
    for (const auto& [reason, n] : by_reason) reasons += (reasons.empty() ? "" : ", ") + std::to_string(n) + " " + reason;
    const double rtf = r.elapsed_s > 0 ? r.media_s / r.elapsed_s : 0.0;
    const auto& tracks = objects.tracks;
    std::string tracked;
    if (r.objects) {
      std::map<std::string, int> by_label;
      for (const auto& t : tracks) ++by_label[t.label];
      for (const auto& [label, n] : by_label) tracked += (tracked.empty() ? "" : ", ") + std::to_string(n) + " " + label;
      tracked = "; " + std::to_string(tracks.size()) + " tracks" + (tracked.empty() ? "" : " (" + tracked + ")") +
                " from " + std::to_string(r.objects->detected_frames) + " frames through " + r.objects->detector;
      if (r.objects->skipped_frames)
        tracked += ", " + std::to_string(r.objects->skipped_frames) + " frames not detected while the detector was busy";
    }
    if (!options.json) {
      std::printf("drive %lld: %s: %lld frames (%.1f s of %dx%d video, %s) in %.1f s, %.1fx real time, "
                  "%zu keyframes (%s)%s%s\n",
                  static_cast<long long>(drive_id), arg.c_str(), static_cast<long long>(r.frames), r.media_s,
                  r.stream.width, r.stream.height, r.stream.decoder.c_str(), r.elapsed_s, rtf, r.keyframes.size(),
                  reasons.c_str(),
                  r.dropped ? (", " + std::to_string(r.dropped) + " frames dropped while behind").c_str() : "",
                  tracked.c_str());
      if (!clips.ready.empty()) std::printf("  %zu clips ready for review (dashloop clips list --drive %lld)\n",
                                            clips.ready.size(), static_cast<long long>(drive_id));
      if (!clips.dropped.empty())
        std::printf("  %zu spans not kept by the clip budget (each logged with why; [clips] budget_min_per_hour)\n",
                    clips.dropped.size());
      if (clips.waiting > 0)
        std::printf("  %d clips wait, planned, for room on the disk (`dashloop run` builds them when there is room)\n",
                    clips.waiting);
      if (!clips.packaged.empty())
        std::printf("  %zu clips wait, packaged, for their pre-label pass (`dashloop run` does it in the background)\n",
                    clips.packaged.size());
    } else {
      auto rows = ctx.catalog->keyframes(drive_id);
      json d = {{"drive_id", drive_id}, {"source", arg},          {"mode", mode},
                {"width", r.stream.width}, {"height", r.stream.height}, {"fps", r.stream.fps},
                {"frames", r.frames},      {"dropped", r.dropped},      {"duration_s", r.media_s},
                {"elapsed_s", r.elapsed_s}, {"realtime_factor", rtf},   {"decoder", r.stream.decoder},
                {"keyframes", json::array()}};
      if (rows.ok())
        for (const auto& k : *rows) d["keyframes"].push_back(keyframe_json(k));
      if (r.objects) {
        d["detector"] = r.objects->detector;
        d["detected_frames"] = r.objects->detected_frames;
        d["detection_skipped"] = r.objects->skipped_frames;
        d["detect_s"] = r.objects->detect_s;
        d["events"] = r.objects->events.size();
        d["tracks"] = json::array();
        for (const auto& t : tracks) d["tracks"].push_back(track_json(t));
      }
      d["clips"] = {{"ready", clips.ready},     {"failed", clips.failed},   {"waiting", clips.waiting},
                    {"packaged", clips.packaged},
                    {"skipped", clips.skipped}, {"dropped", clips.dropped}};
      out["drives"].push_back(std::move(d));
    }
  }
  if (options.json) std::cout << out.dump(2) << std::endl;
  // A stop in the last file's clips (one left planned or packaged) is an interrupt too.
  if (signals.requested()) return kExitInterrupted;
  return exit_code;
}

int run_tracks(const GlobalOptions& global, int64_t drive_id, bool as_json, bool boxes) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto& catalog = *std::get<Context>(prepared).catalog;
  auto drive = catalog.drive(drive_id);
  if (!drive.ok()) {
    spdlog::error("catalog: {}", drive.status().message());
    return kExitStorage;
  }
  if (!*drive) {
    spdlog::error("tracks: no drive {} in the catalog", drive_id);
    return kExitInput;
  }
  auto tracks = catalog.tracks(drive_id);
  if (!tracks.ok()) {
    spdlog::error("catalog: {}", tracks.status().message());
    return kExitStorage;
  }
  if (as_json || boxes) {
    json out = json::array();
    for (const auto& t : *tracks) {
      json j = track_json(t);
      if (boxes) {
        auto rows = catalog.track_boxes(t.id);
        if (!rows.ok()) {
          spdlog::error("catalog: {}", rows.status().message());
          return kExitStorage;
        }
        j["boxes"] = json::array();
        for (const auto& b : *rows)
          j["boxes"].push_back({{"frame", b.frame}, {"x", b.x}, {"y", b.y}, {"w", b.w}, {"h", b.h},
                                {"score", b.score}, {"predicted", b.predicted}});
      }
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  std::printf("%6s  %-16s %10s %10s %6s %6s\n", "track", "label", "from_s", "to_s", "boxes", "score");
  for (const auto& t : *tracks)
    std::printf("%6d  %-16s %10.2f %10.2f %6lld %6.2f\n", t.track_no, t.label.c_str(), t.first_s, t.last_s,
                static_cast<long long>(t.detections), t.mean_score);
  return kExitOk;
}

int run_drives(const GlobalOptions& global, bool as_json) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto drives = std::get<Context>(prepared).catalog->drives();
  if (!drives.ok()) {
    spdlog::error("catalog: {}", drives.status().message());
    return kExitStorage;
  }
  if (as_json) {
    json arr = json::array();
    for (const auto& d : *drives) arr.push_back(drive_json(d));
    std::cout << arr.dump(2) << std::endl;
    return kExitOk;
  }
  for (const auto& d : *drives)
    std::printf("%4lld  %s  %-6s %5.1f s  %dx%d  %s\n", static_cast<long long>(d.id), d.ingested_utc.c_str(),
                d.mode.c_str(), d.duration_s, d.width, d.height, d.source.c_str());
  return kExitOk;
}

int run_keyframes(const GlobalOptions& global, int64_t drive_id, bool as_json) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto rows = std::get<Context>(prepared).catalog->keyframes(drive_id);
  if (!rows.ok()) {
    spdlog::error("catalog: {}", rows.status().message());
    return kExitStorage;
  }
  if (rows->empty()) {
    spdlog::error("keyframes: no drive {} with keyframes in the catalog", drive_id);
    return kExitInput;
  }
  if (as_json) {
    json arr = json::array();
    for (const auto& k : *rows) arr.push_back(keyframe_json(k));
    std::cout << arr.dump(2) << std::endl;
    return kExitOk;
  }
  for (const auto& k : *rows)
    std::printf("%7lld  %8.2f s  %-8s  change %6.1f  sharp %8.1f  %s\n", static_cast<long long>(k.frame_index),
                k.t_s, k.reason.c_str(), k.change, k.sharpness, k.image_path.c_str());
  return kExitOk;
}

}  // namespace dashloop::app
