// dashloop record: a live source into crash-safe segments, indexed in the
// catalog as they close; the disk quota enforced as it goes.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "app/signal_stop.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"
#include "retention/retention.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {
namespace {

namespace cat = firmware::catalog;
namespace media = pipeline::media;

// Fills in what the file holds: frames, keyframes, size; returns its frame
// count. A segment with no decodable frame (cut off before its first
// keyframe) is deleted and counts none.
Result<int64_t> close_from_file(cat::Catalog& catalog, cat::SegmentRecord s, const std::string& end_utc) {
  auto index = media::index_stream(s.path);
  std::error_code ec;
  if (!index.ok()) {
    spdlog::warn("record: {}: {}; nothing in it to keep", s.path, index.status().message());
    fs::remove(s.path, ec);
    if (Status st = catalog.mark_segment_deleted(s.id); !st.ok()) return st;
    return int64_t{0};
  }
  s.end_utc = end_utc;
  s.frames = index->frames;
  s.first_pts = index->first_pts;
  s.duration_s = double(index->duration_ns) / 1e9;
  s.fps = index->fps;
  s.codec = index->codec;
  s.bytes = int64_t(fs::file_size(s.path, ec));
  std::vector<cat::SegmentKeyframe> keys;
  for (const auto& k : index->keyframes) keys.push_back({k.frame, k.pts});
  if (Status st = catalog.close_segment(s, keys); !st.ok()) return st;
  return s.frames;
}

// Segments left open by a crash or power cut: index what they hold.
Status recover(cat::Catalog& catalog, const std::string& camera) {
  auto segments = catalog.segments(0, camera);
  if (!segments.ok()) return segments.status();
  for (const auto& s : *segments) {
    if (s.state != "open") continue;
    spdlog::warn("record: {} was left open (crash or power cut); indexing what it holds", s.path);
    if (auto closed = close_from_file(catalog, s, media::utc_now()); !closed.ok()) return closed.status();
  }
  return Status::Ok();
}

}  // namespace

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
  const fs::path dir = fs::absolute(ctx.config.data_dir / "recordings" / camera).lexically_normal();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    spdlog::error("record: {}: {}", dir.string(), ec.message());
    return kExitStorage;
  }
  if (Status st = recover(*ctx.catalog, camera); !st.ok()) {
    spdlog::error("record: recovering {}: {}", camera, st.message());
    return kExitStorage;
  }
  const auto policy = retention_policy(ctx.config);
  auto enforce = [&] {
    auto report = firmware::retention::enforce(*ctx.catalog, ctx.config.data_dir, policy);
    if (!report.ok()) spdlog::error("retention: {}", report.status().message());
  };
  enforce();  // before writing

  // Frame numbers continue across a camera's segments, so a span may cross them.
  int64_t next_frame = 0;
  if (auto segs = ctx.catalog->segments(0, camera); segs.ok())
    for (const auto& s : *segs) next_frame = std::max(next_frame, s.first_frame + s.frames);
  std::map<std::string, cat::SegmentRecord> open;
  Status failure;
  media::RecorderCallbacks callbacks;
  callbacks.opened = [&](const media::SegmentEvent& e) {
    cat::SegmentRecord s;
    s.camera = camera;
    s.path = e.path.string();
    s.owned = true;
    s.state = "open";
    s.start_utc = e.utc;
    s.first_frame = next_frame;
    auto id = ctx.catalog->add_segment(s);
    if (!id.ok()) {
      failure = id.status();
      return;
    }
    s.id = *id;
    open[s.path] = s;
    spdlog::info("record: segment {}", s.path);
  };
  callbacks.closed = [&](const media::SegmentEvent& e) {
    auto it = open.find(e.path.string());
    if (it == open.end()) return;
    it->second.first_frame = next_frame;
    auto frames = close_from_file(*ctx.catalog, it->second, e.utc);
    if (frames.ok()) next_frame += *frames;
    else failure = frames.status();
    open.erase(it);
  };
  media::RecorderOptions options;
  options.dir = dir;
  options.prefix = camera;
  options.segment_s = o.segment_s > 0 ? o.segment_s : ctx.config.recording.segment_s;
  auto recorder = media::Recorder::start(*source, options, callbacks);
  if (!recorder.ok()) {
    spdlog::error("record: {}", recorder.status().message());
    return kExitInput;
  }
  SignalStop signals;
  const auto started = std::chrono::steady_clock::now();
  auto last_retention = started;
  int exit_code = kExitOk;
  while (!signals.requested() && failure.ok()) {
    if (Status st = (*recorder)->poll(0.2); !st.ok()) {
      spdlog::error("record: {}", st.message());
      exit_code = kExitInput;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (o.seconds > 0 && now - started >= std::chrono::duration<double>(o.seconds)) break;
    if (now - last_retention >= std::chrono::duration<double>(ctx.config.retention.interval_s)) {
      enforce();
      last_retention = now;
    }
  }
  if (Status st = (*recorder)->stop(); !st.ok()) spdlog::warn("record: stopping: {}", st.message());
  if (!failure.ok()) {
    spdlog::error("record: catalog: {}", failure.message());
    return kExitStorage;
  }
  std::printf("recorded %.1f s from %s into %s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), o.source.c_str(),
              dir.string().c_str());
  return exit_code;
}

}  // namespace dashloop::app
