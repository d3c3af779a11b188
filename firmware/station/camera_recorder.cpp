#include "station/camera_recorder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "media/packets.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {
namespace {

namespace cat = firmware::catalog;
namespace media = pipeline::media;

// Fills in what the file holds: frames, keyframes, size; returns its frame
// count. A file that cannot be indexed now is never deleted for it (a
// passing fault, a plugin not yet loaded, must not cost video): it is kept
// as 'unreadable' with the reason, counts no frames, is tried again at the
// camera's next start and goes by retention's rules like any segment.
Result<int64_t> close_from_file(cat::Catalog& catalog, cat::SegmentRecord& s, const std::string& end_utc,
                                int tries = 3) {
  auto index = media::index_stream(s.path);
  for (int retry = 1; !index.ok() && retry < tries; ++retry) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    index = media::index_stream(s.path);
  }
  std::error_code ec;
  if (!index.ok()) {
    const auto bytes = fs::file_size(s.path, ec);
    spdlog::warn("record: {}: {}; kept as unreadable, to be tried again", s.path, index.status().message());
    if (Status st = catalog.mark_segment_unreadable(s.id, s.end_utc.empty() ? end_utc : s.end_utc,
                                                    ec ? 0 : int64_t(bytes), index.status().message());
        !st.ok())
      return st;
    return int64_t{0};
  }
  if (s.state != "unreadable" || s.end_utc.empty()) s.end_utc = end_utc;  // an earlier try knew its end
  s.state = "closed";
  s.frames = index->frames;
  s.first_pts = index->first_pts;
  s.duration_s = double(index->duration_ns) / 1e9;
  s.fps = index->fps;
  s.codec = index->codec;
  s.bytes = int64_t(fs::file_size(s.path, ec));
  std::vector<cat::SegmentKeyframe> keys;
  for (const auto& k : index->keyframes) keys.push_back({k.frame, k.pts});
  if (Status st = catalog.close_segment(s, keys); !st.ok()) {
    if (st.kind() != Status::Kind::kNotFound) return st;
    spdlog::info("record: {}: {}; left as it is", s.path, st.message());  // retention took it meanwhile
    return int64_t{0};
  }
  return s.frames;
}

// This release's date: no clock that has been set reads earlier.
constexpr char kReleasedUtc[] = "2026-12-01T00:00:00.000Z";

// Unreadable segments tried again at each start, newest first: a camera
// rebuilt every 30 s must not spend its start on a pile of empty files.
constexpr int kUnreadableRetries = 3;

// Segments left open by a crash or power cut, and the newest that could
// not be read before: index what they hold (`segments`, the camera's, are
// updated with it).
Status recover(cat::Catalog& catalog, std::vector<cat::SegmentRecord>& segments, const media::WallClock& clock) {
  int unreadable_left = kUnreadableRetries;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    auto& s = *it;
    if (s.state != "open" && s.state != "unreadable") continue;
    if (s.state == "unreadable" && (s.bytes == 0 || unreadable_left-- <= 0)) continue;
    std::error_code ec;
    if (!fs::exists(s.path, ec)) {  // gone by hand: nothing to index, nothing to delete
      spdlog::warn("record: {} is no longer there; the catalog now says so", s.path);
      if (Status st = catalog.mark_segment_deleted(s.id); !st.ok()) return st;
      s.state = "deleted";
      continue;
    }
    if (s.state == "open") spdlog::warn("record: {} was left open (crash or power cut); indexing what it holds", s.path);
    else spdlog::info("record: {} could not be read before ({}); trying again", s.path, s.reason);
    if (auto closed = close_from_file(catalog, s, media::utc_at(clock.now()), s.state == "open" ? 3 : 1); !closed.ok())
      return closed.status();
  }
  return Status::Ok();
}

// Files in the camera's folder the catalog does not know: a segment opened
// while the catalog could not take it (a full disk), then the recorder
// stopped. An empty one holds nothing and goes; one with bytes is taken in
// as left open (added to `segments`, the camera's), so recover() indexes
// it: never video on disk that no analysis sees and no retention ages out.
Status adopt_orphans(cat::Catalog& catalog, const std::string& camera, const fs::path& dir,
                     const media::WallClock& clock, std::vector<cat::SegmentRecord>& segments) {
  std::set<std::string> known, deleted;
  for (const auto& s : segments) (s.state == "deleted" ? deleted : known).insert(s.path);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec) || e.path().extension() != ".ts" || known.count(e.path().string())) continue;
    if (deleted.count(e.path().string())) {  // retention marked it and was stopped before the unlink
      spdlog::info("record: {}: removed, as retention decided before a stop", e.path().string());
      fs::remove(e.path(), ec);
      continue;
    }
    const auto bytes = e.file_size(ec);
    if (bytes == 0) {
      fs::remove(e.path(), ec);
      continue;
    }
    spdlog::warn("record: {} is not in the catalog (its segment opened while the catalog could not take it); "
                 "taking it in",
                 e.path().string());
    cat::SegmentRecord s;
    s.camera = camera;
    s.path = e.path().string();
    s.owned = true;
    s.state = "open";
    // Its start is not known: its last write is the nearest time that is.
    const auto written = fs::last_write_time(e.path(), ec);
    s.start_utc = media::utc_at(ec ? clock.now()
                                   : std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                                         std::chrono::file_clock::to_sys(written)));
    auto id = catalog.add_segment(s);
    if (!id.ok()) return id.status();
    s.id = *id;
    segments.push_back(s);
  }
  return Status::Ok();
}

}  // namespace

std::chrono::system_clock::time_point clock_not_before(cat::Catalog* catalog, const std::string& camera) {
  auto newest = *media::parse_utc(kReleasedUtc);
  if (!catalog) return newest;
  if (auto segments = catalog->segments(0, camera); segments.ok())
    for (const auto& s : *segments)
      for (const auto* utc : {&s.start_utc, &s.end_utc})
        if (auto t = media::parse_utc(*utc)) newest = std::max(newest, *t);
  return newest;
}

CameraRecorder::CameraRecorder(cat::Catalog& catalog, std::string camera, ClosedFn on_closed)
    : catalog_(catalog), camera_(std::move(camera)), on_closed_(std::move(on_closed)) {}

CameraRecorder::~CameraRecorder() {
  if (recorder_) (void)stop();
}

Result<std::unique_ptr<CameraRecorder>> CameraRecorder::start(cat::Catalog& catalog, const fs::path& data_dir,
                                                              const std::string& camera, const media::Source& source,
                                                              double segment_s, double stall_s, ClosedFn on_closed) {
  if (auto d = media::recorder_description(source); !d.ok()) return d.status();
  std::unique_ptr<CameraRecorder> self(new CameraRecorder(catalog, camera, std::move(on_closed)));
  self->dir_ = fs::absolute(data_dir / "recordings" / camera).lexically_normal();
  std::error_code ec;
  fs::create_directories(self->dir_, ec);
  if (ec) return Status::Internal(self->dir_.string() + ": " + ec.message());
  const media::WallClock clock(clock_not_before(&catalog, camera));
  if (clock.behind())
    spdlog::warn("record: camera '{}': the system clock reads {}, before {} (its newest stamp or this release): it has "
                 "not been set, so segments are stamped counting on from {} until it is",
                 camera, media::utc_now(), media::utc_at(clock.not_before()), media::utc_at(clock.not_before()));
  // One read of the camera's segments serves the orphans, the recovery and
  // where frame numbers go on.
  auto segments = catalog.segments(0, camera);
  Status recovered = segments.ok() ? adopt_orphans(catalog, camera, self->dir_, clock, *segments) : segments.status();
  if (recovered.ok()) recovered = recover(catalog, *segments, clock);
  if (!recovered.ok()) return Status::Internal("recovering " + camera + ": " + recovered.message());
  for (const auto& s : *segments) self->next_frame_ = std::max(self->next_frame_, s.first_frame + s.frames);

  CameraRecorder* me = self.get();
  media::RecorderCallbacks callbacks;
  callbacks.opened = [me](const media::SegmentEvent& e) {
    cat::SegmentRecord s;
    s.camera = me->camera_;
    s.path = e.path.string();
    s.owned = true;
    s.state = "open";
    s.start_utc = e.utc;
    s.first_frame = me->next_frame_;
    auto id = me->catalog_.add_segment(s);
    if (!id.ok()) {
      me->failure_ = id.status();
      return;
    }
    s.id = *id;
    me->open_[s.path] = s;
    spdlog::debug("record: segment {}", s.path);  // the bus and the catalog say it too
  };
  callbacks.closed = [me](const media::SegmentEvent& e) {
    auto it = me->open_.find(e.path.string());
    if (it == me->open_.end()) return;
    cat::SegmentRecord s = it->second;
    me->open_.erase(it);
    s.first_frame = me->next_frame_;
    auto frames = close_from_file(me->catalog_, s, e.utc);
    if (!frames.ok()) {
      me->failure_ = frames.status();
      return;
    }
    me->next_frame_ += *frames;
    if (*frames > 0 && me->on_closed_) me->on_closed_(s);
  };
  media::RecorderOptions options;
  options.dir = self->dir_;
  options.prefix = camera;
  options.segment_s = segment_s;
  options.stall_s = stall_s;
  options.clock = clock;
  auto recorder = media::Recorder::start(source, options, std::move(callbacks));
  if (!recorder.ok()) return recorder.status();
  self->recorder_ = std::move(recorder.value());
  return self;
}

Status CameraRecorder::poll(double wait_s) {
  if (!failure_.ok()) return Status::IOError("catalog: " + failure_.message());
  if (Status st = recorder_->poll(wait_s); !st.ok()) return st;
  return failure_.ok() ? Status::Ok() : Status::IOError("catalog: " + failure_.message());
}

Status CameraRecorder::stop() {
  if (!recorder_) return Status::Ok();
  Status st = recorder_->stop();
  recorder_.reset();
  return st;
}

}  // namespace dashloop::app
