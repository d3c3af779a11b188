#include "station/drive_ingest.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "station/process.hpp"
#include "station/objects.hpp"
#include "clips/package.hpp"
#include "privacy/redactor.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {
namespace {

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
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

IngestOutcome failed(int code, std::string error) {
  IngestOutcome o;
  o.exit_code = code;
  o.error = std::move(error);
  return o;
}

}  // namespace

Status prepare_ingest(Context& ctx) {
  if (ctx.config.detector.kind != "none") {
    // A bad model or cascade is a config error: say so before any decoding.
    if (auto detector = pipeline::vision::make_detector(ctx.config.detector); !detector.ok())
      return Status::InvalidArgument("detector: " + detector.status().message());
  }
  // And the pre-label pass's own model, which runs after the cut (the
  // [detector] model at another size needs no second load, which costs start-up time).
  if (prelabel_on(ctx.config) && !ctx.config.prelabel.model.empty()) {
    auto setting = ctx.config.detector;
    ctx.config.prelabel.apply_to(setting);
    if (auto detector = pipeline::vision::make_detector(setting); !detector.ok())
      return Status::InvalidArgument("prelabel: " + detector.status().message());
  }
  // A redaction that cannot run stops here: never a clip packaged unredacted
  // under a policy. The cameras share the models; what any one camera's
  // policy needs is loaded once.
  auto needed = firmware::config::privacy_for(ctx.config, ctx.config.camera);
  for (const auto& c : ctx.config.cameras) {
    const auto policy = firmware::config::privacy_for(ctx.config, c.name);
    if (policy.faces != "none") needed.faces = policy.faces;
    if (policy.plates != "none") needed.plates = policy.plates;
  }
  if (needed.on())
    if (auto redactor = pipeline::privacy::Redactor::open(needed); !redactor.ok()) return redactor.status();
  remove_stale_staging(ctx.config.data_dir / "keyframes");
  remove_partial_packages(ctx.config.data_dir);
  return Status::Ok();
}

namespace {

// size:sha256 of the first MiB:sha256 of the last MiB. Reads 2 MiB of any
// file; two different drives of one size and the same first and last MiB
// are not a dashcam's.
Result<std::string> file_fingerprint(const fs::path& file) {
  std::error_code ec;
  const auto size = int64_t(fs::file_size(file, ec));
  if (ec) return Status::IOError(file.string() + ": " + ec.message());
  constexpr int64_t kMiB = 1 << 20;
  auto head = pipeline::clips::sha256_range(file, 0, std::min(size, kMiB));
  if (!head.ok()) return head.status();
  auto tail = pipeline::clips::sha256_range(file, std::max<int64_t>(0, size - kMiB), std::min(size, kMiB));
  if (!tail.ok()) return tail.status();
  return std::to_string(size) + ":" + *head + ":" + *tail;
}

}  // namespace

IngestOutcome ingest_drive(Context& ctx, const IngestRequest& request) {
  const std::string& arg = request.source;
  const std::string mode = request.mode.empty() ? ctx.config.ingest.mode : request.mode;
  pipeline::DriveOptions drive_options;
  drive_options.reader.keyframes_only = mode == "triage";
  drive_options.analysis_width = request.analysis_width > 0 ? request.analysis_width : ctx.config.ingest.analysis_width;
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
  drive_options.stop = request.stop;

  auto source = pipeline::media::parse_source(arg);
  if (!source.ok()) return failed(kExitInput, source.status().message());
  std::string camera = request.camera.empty() ? ctx.config.camera : request.camera;
  // recording://CAMERA: the camera's recorded segments not yet part of a drive.
  std::vector<firmware::catalog::SegmentRecord> recorded;
  if (source->kind == pipeline::media::Source::Kind::kSegments) {
    camera = source->location;
    auto segments = ctx.catalog->segments(0, source->location);
    if (!segments.ok()) return failed(kExitStorage, arg + ": catalog: " + segments.status().message());
    for (const auto& s : *segments)
      if (s.owned && s.state == "closed" && s.drive_id == 0) {
        recorded.push_back(s);
        source->parts.push_back(s.path);
        source->part_frames.push_back(s.frames);
      }
    if (recorded.empty())
      return failed(kExitInput, arg + ": no recorded segments of camera '" + source->location + "' waiting to be ingested");
  }
  // The same file twice would make two drives and two sets of the same
  // packages: it is known by its fingerprint and refused, naming the drive.
  std::string fingerprint;
  if (source->kind == pipeline::media::Source::Kind::kFile && !request.again) {
    auto fp = file_fingerprint(source->location);
    if (!fp.ok()) return failed(kExitInput, fp.status().message());
    auto earlier = ctx.catalog->drive_with_fingerprint(*fp);
    if (!earlier.ok()) return failed(kExitStorage, arg + ": catalog: " + earlier.status().message());
    if (*earlier)
      return failed(kExitInput, arg + ": already ingested as drive " + std::to_string((*earlier)->id) + " (from " +
                                    (*earlier)->source + " at " + (*earlier)->ingested_utc +
                                    "); --again ingests it anyway");
    fingerprint = *fp;
  }
  const fs::path staging = ctx.config.data_dir / "keyframes" /
                           (".staging-" + std::to_string(getpid()) + "-" + std::to_string(request.attempt));
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return failed(kExitStorage, staging.string() + ": " + ec.message());
  drive_options.keyframe_dir = staging;

  auto result = pipeline::analyze_drive(*source, drive_options, request.progress);
  if (!result.ok()) {
    fs::remove_all(staging, ec);
    return failed(kExitInput, result.status().message());
  }
  IngestOutcome out;
  out.result = std::move(result.value());
  const auto& r = out.result;
  if (r.stopped && !source->is_live()) {
    fs::remove_all(staging, ec);
    spdlog::warn("ingest: {}: interrupted at {:.1f} s; nothing stored", arg, r.media_s);
    return failed(kExitInterrupted, "interrupted");
  }
  firmware::catalog::DriveRecord drive;
  drive.source = arg;
  drive.vehicle = ctx.config.vehicle;
  drive.camera = camera;
  drive.mode = mode;
  drive.width = r.stream.width;
  drive.height = r.stream.height;
  drive.fps = r.stream.fps;
  drive.frames = r.frames;
  drive.duration_s = r.media_s;
  drive.elapsed_s = r.elapsed_s;
  drive.fingerprint = fingerprint;
  if (r.objects) {
    drive.detector = r.objects->detector;
    drive.detected_frames = r.objects->detected_frames;
    drive.detection_skipped = r.objects->skipped_frames;
    out.objects = drive_objects(*r.objects, r.stream.fps);
  }
  auto id = store(*ctx.catalog, ctx.config.data_dir, staging, drive, r, out.objects);
  if (!id.ok() && id.status().kind() == Status::Kind::kAlreadyExists) {
    fs::remove_all(staging, ec);
    return failed(kExitInput, id.status().message() + "; --again ingests it anyway");
  }
  if (!id.ok()) {
    fs::remove_all(staging, ec);
    return failed(kExitStorage, arg + ": catalog: " + id.status().message());
  }
  out.drive_id = *id;
  // The file is the recording: plan, cut and package its clips.
  if (ctx.config.clips.enabled && (source->kind == pipeline::media::Source::Kind::kFile || !recorded.empty())) {
    Status indexed = recorded.empty() ? index_recording(ctx, *id, source->location)
                                      : attach_recording(ctx, *id, recorded, mode == "full" ? r.frames : -1);
    for (const auto& t : request.triggers) {
      if (t.t_s < 0 || t.t_s > r.media_s) {
        spdlog::warn("ingest: {}: trigger at {:.2f} s lies outside the drive (0 to {:.2f} s); ignored", arg, t.t_s, r.media_s);
        continue;
      }
      if (auto tr = ctx.catalog->add_trigger({0, *id, int64_t(t.t_s * r.stream.fps), t.t_s, t.kind, t.note, ""}); !tr.ok())
        spdlog::error("ingest: {}: catalog: {}", arg, tr.status().message());
    }
    if (!indexed.ok()) {
      out.clips.skipped = indexed.message();
    } else if (auto made = make_clips(ctx, *id, request.actor, nullptr, request.stop); made.ok()) {
      out.clips = std::move(made.value());
      if (request.prelabel_now && !out.clips.packaged.empty()) {
        auto pre = prelabel_packaged(ctx, request.actor, {request.stop, {}, request.actor}, 0, &out.clips.packaged);
        if (!pre.ok()) {
          out.exit_code = kExitStorage;
          out.error = arg + ": pre-labels: " + pre.status().message();
        } else {
          out.clips.ready.insert(out.clips.ready.end(), pre->ready.begin(), pre->ready.end());
          std::erase_if(out.clips.packaged, [&](int64_t c) { return std::ranges::count(pre->ready, c) > 0; });
        }
      }
    } else {
      out.exit_code = kExitStorage;
      out.error = arg + ": clips: " + made.status().message();
    }
    if (!out.clips.skipped.empty()) spdlog::warn("ingest: {}: no clips: {}", arg, out.clips.skipped);
    if (!out.clips.failed.empty())
      spdlog::warn("ingest: {}: {} clips failed (see `dashloop clips list --state failed`)", arg, out.clips.failed.size());
  }
  return out;
}

}  // namespace dashloop::app
