// dashloop ingest / drives / keyframes.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/clip_maker.hpp"
#include "app/commands.hpp"
#include "app/context.hpp"
#include "app/objects.hpp"
#include "app/effective_config.hpp"
#include "app/progress.hpp"
#include "app/signal_stop.hpp"
#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "drive.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

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

// Keyframes are written to a staging directory and moved under the drive's
// id inside the catalog transaction: a failed ingest leaves neither rows
// nor files behind.
Result<int64_t> store(firmware::catalog::Catalog& catalog, const fs::path& data_dir, const fs::path& staging,
                      firmware::catalog::DriveRecord drive, const pipeline::DriveResult& result,
                      const firmware::catalog::DriveObjects& objects) {
  std::vector<firmware::catalog::KeyframeRecord> rows;
  for (const auto& s : result.keyframes) {
    const auto& k = s.keyframe;
    firmware::catalog::KeyframeRecord r;
    r.frame_index = k.index;
    r.t_s = k.t_s;
    r.reason = pipeline::vision::to_string(k.reason);
    r.trigger_index = k.trigger_index;
    r.change = k.change;
    r.content = k.content;
    r.sharpness = k.sharpness;
    r.brightness = k.brightness;
    r.quality = k.quality;
    r.dhash = hex64(k.dhash);
    r.image_path = s.image.filename().string();
    rows.push_back(std::move(r));
  }
  return catalog.add_drive(std::move(drive), std::move(rows), objects,
                           [&](int64_t id, firmware::catalog::DriveRecord& d,
                               std::vector<firmware::catalog::KeyframeRecord>& ks) -> Status {
                             const fs::path final_dir = fs::absolute(data_dir / "keyframes" / std::to_string(id)).lexically_normal();
                             std::error_code ec;
                             fs::remove_all(final_dir, ec);  // left by a crash before a commit
                             fs::rename(staging, final_dir, ec);
                             if (ec) return Status::IOError(final_dir.string() + ": " + ec.message());
                             d.keyframe_dir = final_dir.string();
                             for (auto& k : ks) k.image_path = (final_dir / k.image_path).string();
                             return Status::Ok();
                           });
}

// Keyframes of an ingest that crashed (killed, power cut) stay in its staging
// directory; whoever ingests next removes those whose process is gone.
void remove_stale_staging(const fs::path& keyframes_dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(keyframes_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".staging-", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + std::string(".staging-").size()));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
      spdlog::warn("ingest: removing {} left by an ingest that did not finish", entry.path().string());
      fs::remove_all(entry.path(), ec);
    }
  }
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

  if (ctx.config.detector.kind != "none") {
    // A bad model or cascade is a config error: say so before any decoding.
    if (auto detector = pipeline::vision::make_detector(ctx.config.detector); !detector.ok()) {
      spdlog::error("detector: {}", detector.status().message());
      return kExitUsage;
    }
  }
  pipeline::DriveOptions drive_options;
  drive_options.reader.keyframes_only = mode == "triage";
  drive_options.analysis_width = options.analysis_width > 0 ? options.analysis_width : ctx.config.ingest.analysis_width;
  drive_options.selector = ctx.config.keyframes.selector;
  drive_options.jpeg_quality = ctx.config.keyframes.jpeg_quality;
  drive_options.tracking.detector = ctx.config.detector;
  drive_options.tracking.tracker = ctx.config.tracking.tracker;
  drive_options.tracking.camera_motion = ctx.config.tracking.camera_motion;
  drive_options.tracking.on_event = [](const pipeline::vision::TrackEvent& e) {
    spdlog::debug("{} frame {} track {} class {}", pipeline::vision::to_string(e.kind), e.frame, e.track_id, e.class_id);
  };
  if (spdlog::should_log(spdlog::level::trace)) {
    drive_options.on_scores = [](const pipeline::vision::FrameScores& s) {
      spdlog::trace("frame {} t={:.3f} content={:.2f} sharpness={:.1f} brightness={:.1f} dark={:.2f} blown={:.2f}",
                    s.index, s.t_s, s.content, s.sharpness, s.brightness, s.dark_fraction, s.bright_fraction);
    };
  }

  drive_options.stop = &signals.requested();

  remove_stale_staging(ctx.config.data_dir / "keyframes");
  remove_partial_packages(ctx.config.data_dir);
  int exit_code = kExitOk;
  json out = {{"drives", json::array()}, {"errors", json::array()}};
  int attempt = 0;
  for (const auto& arg : options.sources) {
    if (signals.requested()) break;
    ++attempt;
    auto source = pipeline::media::parse_source(arg);
    if (!source.ok()) {
      spdlog::error("ingest: {}", source.status().message());
      out["errors"].push_back({{"source", arg}, {"error", source.status().message()}});
      exit_code = kExitInput;
      continue;
    }
    // recording://CAMERA: the camera's recorded segments not yet part of a drive.
    std::vector<firmware::catalog::SegmentRecord> recorded;
    if (source->kind == pipeline::media::Source::Kind::kSegments) {
      auto segments = ctx.catalog->segments(0, source->location);
      if (!segments.ok()) {
        spdlog::error("ingest: {}: catalog: {}", arg, segments.status().message());
        return kExitStorage;
      }
      for (const auto& s : *segments)
        if (s.owned && s.state == "closed" && s.drive_id == 0) {
          recorded.push_back(s);
          source->parts.push_back(s.path);
        }
      if (recorded.empty()) {
        spdlog::error("ingest: {}: no recorded segments of camera '{}' waiting to be ingested", arg, source->location);
        out["errors"].push_back({{"source", arg}, {"error", "no recorded segments"}});
        exit_code = kExitInput;
        continue;
      }
    }
    const fs::path staging = ctx.config.data_dir / "keyframes" /
                             (".staging-" + std::to_string(getpid()) + "-" + std::to_string(attempt));
    std::error_code ec;
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    if (ec) {
      spdlog::error("ingest: {}: {}", staging.string(), ec.message());
      return kExitStorage;
    }
    drive_options.keyframe_dir = staging;

    ProgressBar bar(arg, !options.quiet && !options.json);
    auto result = pipeline::analyze_drive(*source, drive_options, [&](const auto& p) { bar.update(p); });
    bar.clear();
    if (!result.ok()) {
      fs::remove_all(staging, ec);
      spdlog::error("ingest: {}", result.status().message());
      out["errors"].push_back({{"source", arg}, {"error", result.status().message()}});
      exit_code = kExitInput;
      continue;
    }
    const auto& r = result.value();
    if (r.stopped && !source->is_live()) {
      fs::remove_all(staging, ec);
      spdlog::warn("ingest: {}: interrupted at {:.1f} s; nothing stored", arg, r.media_s);
      return kExitInterrupted;
    }
    firmware::catalog::DriveRecord drive;
    drive.source = arg;
    drive.vehicle = ctx.config.vehicle;
    drive.camera = ctx.config.camera;
    drive.mode = mode;
    drive.width = r.stream.width;
    drive.height = r.stream.height;
    drive.fps = r.stream.fps;
    drive.frames = r.frames;
    drive.duration_s = r.media_s;
    drive.elapsed_s = r.elapsed_s;
    if (r.objects) {
      drive.detector = r.objects->detector;
      drive.detected_frames = r.objects->detected_frames;
      drive.detection_skipped = r.objects->skipped_frames;
    }
    firmware::catalog::DriveObjects objects;
    if (r.objects) objects = drive_objects(*r.objects, r.stream.fps);
    auto id = store(*ctx.catalog, ctx.config.data_dir, staging, drive, r, objects);
    if (!id.ok()) {
      fs::remove_all(staging, ec);
      spdlog::error("ingest: {}: catalog: {}", arg, id.status().message());
      return kExitStorage;
    }
    // The file is the recording: plan, cut and package its clips.
    ClipRun clips;
    if (ctx.config.clips.enabled && (source->kind == pipeline::media::Source::Kind::kFile || !recorded.empty())) {
      Status indexed = recorded.empty() ? index_recording(ctx, *id, source->location)
                                        : attach_recording(ctx, *id, recorded, r.frames);
      for (double t : options.triggers) {
        if (t < 0 || t > r.media_s) {
          spdlog::warn("ingest: {}: trigger at {:.2f} s lies outside the drive (0 to {:.2f} s); ignored", arg, t, r.media_s);
          continue;
        }
        if (auto tr = ctx.catalog->add_trigger({0, *id, int64_t(t * r.stream.fps), t, "trigger", "--trigger", ""}); !tr.ok())
          spdlog::error("ingest: {}: catalog: {}", arg, tr.status().message());
      }
      if (!indexed.ok()) {
        clips.skipped = indexed.message();
      } else if (auto made = make_clips(ctx, *id, "ingest"); made.ok()) {
        clips = std::move(made.value());
      } else {
        spdlog::error("ingest: {}: clips: {}", arg, made.status().message());
        exit_code = kExitStorage;
      }
      if (!clips.skipped.empty()) spdlog::warn("ingest: {}: no clips: {}", arg, clips.skipped);
      if (!clips.failed.empty())
        spdlog::warn("ingest: {}: {} clips failed (see `dashloop clips list --state failed`)", arg, clips.failed.size());
    }
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
                  static_cast<long long>(*id), arg.c_str(), static_cast<long long>(r.frames), r.media_s,
                  r.stream.width, r.stream.height, r.stream.decoder.c_str(), r.elapsed_s, rtf, r.keyframes.size(),
                  reasons.c_str(),
                  r.dropped ? (", " + std::to_string(r.dropped) + " frames dropped while behind").c_str() : "",
                  tracked.c_str());
      if (!clips.ready.empty()) std::printf("  %zu clips ready for review (dashloop clips list --drive %lld)\n",
                                            clips.ready.size(), static_cast<long long>(*id));
    } else {
      auto rows = ctx.catalog->keyframes(*id);
      json d = {{"drive_id", *id}, {"source", arg},          {"mode", mode},
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
      d["clips"] = {{"ready", clips.ready}, {"failed", clips.failed}, {"skipped", clips.skipped}};
      out["drives"].push_back(std::move(d));
    }
  }
  if (options.json) std::cout << out.dump(2) << std::endl;
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
