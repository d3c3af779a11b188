// dashloop run: the station in one process. Each [[camera]] has its own
// thread and catalog connection: a CameraRecorder, rebuilt alone with capped
// exponential backoff when its pipeline fails (a lost camera cannot stall
// the others, nor the control socket). The main thread answers the control
// socket and pings systemd's watchdog. One analysis thread turns a camera's
// closed segments into a drive once they hold [recording] analysis_chunk_s
// of video, or a trigger waits in them (ingest_drive on recording://CAMERA:
// keyframes, detection, tracking, clips), so analysis may fall behind the
// cameras but never slows a recording. Events go out on
// the bus. A stop (SIGINT, SIGTERM, --seconds) closes the open segments and
// abandons an analysis under way: its segments stay unattached and the next
// start analyses them.
#include "station/station.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "station/analysis_queue.hpp"
#include "station/bus.hpp"
#include "station/camera_recorder.hpp"
#include "station/clip_maker.hpp"
#include "station/context.hpp"
#include "station/drive_ingest.hpp"
#include "station/signal_stop.hpp"
#include "station/ui_part.hpp"
#include "media/gst.hpp"
#include "media/recorder.hpp"
#include "retention/retention.hpp"
#include "sync/sync.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace dashloop::app {
namespace {

namespace cat = firmware::catalog;
namespace media = pipeline::media;

// One camera: its thread runs the recording; the rest read its state.
struct Camera {
  firmware::config::CameraConfig config;
  media::Source source;
  std::thread thread;
  std::mutex mutex;  // guards what follows
  std::string state = "starting";  // up | reconnecting
  std::string reason;
  int64_t segments = 0;
  int64_t reconnects = 0;
  double video_s = 0;  // closed and not yet analysed
  std::optional<Clock::time_point> split_at;  // a trigger asked for its segment to close then
  std::string last_end_utc;  // of its last closed segment
  // A hole in the recording since the camera was lost: its start and reason
  // set on the failure, its end by the first segment after (then stored).
  std::optional<cat::GapRecord> gap;
};

constexpr double kMaxBackoffS = 30.0;  // a camera gone for long is retried twice a minute
constexpr auto kResumePlannedEvery = std::chrono::seconds(60);
constexpr double kQuietS = 3.0;  // no frame for this long: the camera is reported stalled (rebuilt at stall_s)

class Station {
 public:
  Station(Context& ctx, const RunOptions& options, const SignalStop& signals)
      : ctx_(ctx), options_(options), signals_(signals), stop_(signals.requested()) {}

  int run() {
    // GStreamer's plugins are loaded before any thread builds a pipeline.
    media::ensure_gst_init();
    const bool record = options_.only.empty() || options_.only == "record";
    const bool analyse = options_.only.empty() || options_.only == "analysis";
    const bool sync = (options_.only.empty() || options_.only == "sync") && ctx_.config.sync.enabled;
    if (options_.only == "sync" && !sync)
      return fail_usage(Status::InvalidArgument("--only sync, but [sync] enabled = false"));
    rescan_ = !record;
    // The record part (or the whole station) owns the control socket; the
    // analysis part alone publishes on its own endpoint.
    const auto endpoints = bus_endpoints(ctx_.config.data_dir);
    const std::string& events_endpoint = record    ? endpoints.events
                                         : analyse ? endpoints.analysis_events
                                                   : endpoints.sync_events;
    auto events = EventBus::bind(zmq_, events_endpoint);
    if (!events.ok()) return fail_usage(events.status());
    events_ = std::move(events.value());
    if (record) {
      auto control = ControlServer::bind(zmq_, endpoints.control);
      if (!control.ok()) return fail_usage(control.status());
      control_ = std::move(control.value());
    }
    for (const auto& c : ctx_.config.cameras) {
      auto cam = std::make_unique<Camera>();
      cam->config = c;
      auto source = media::parse_source(c.source);
      if (!source.ok()) return fail_usage(Status::InvalidArgument("camera '" + c.name + "': " + source.status().message()));
      // A config no retry can mend is refused; a V4L2 camera that is there
      // but cannot be opened now (kUnavailable: busy, or settling after a
      // replug) is left to its recorder, which retries with backoff.
      if (auto d = media::recorder_description(*source); !d.ok() && d.status().kind() != Status::Kind::kUnavailable)
        return fail_usage(Status::InvalidArgument("camera '" + c.name + "': " + d.status().message()));
      cam->source = *source;
      cameras_.push_back(std::move(cam));
    }
    if (cameras_.empty() && (record || analyse))
      return fail_usage(Status::InvalidArgument("no [[camera]] in the config: the station has nothing to record"));
    // Everything that can refuse the config is checked before the first
    // thread starts: a return after would leave threads running.
    std::shared_ptr<firmware::sync::ObjectStore> store;
    if (sync) {
      auto opened = open_target(ctx_.config);
      if (!opened.ok()) return fail_usage(Status::InvalidArgument("sync: " + opened.status().message()));
      store = std::move(*opened);
    }
    // The UI is not worth a lost recording: one that cannot start (its port
    // taken) is logged and tried again every 30 s while the rest runs.
    const bool want_ui = options_.only.empty() && ctx_.config.ui.enabled;
    if (want_ui) start_ui();
    if (analyse) {
      if (Status st = prepare_ingest(ctx_); !st.ok()) return fail_usage(st);
      for (const auto& c : cameras_) queue_.make_due(c->config.name);  // what a previous run left unanalysed
      analysis_ = std::thread([this] { analysis_loop(); });
      // Also with the pass off: a clip packaged while it was on waits for its
      // redaction, which the loop then does without the pass.
      prelabel_ = std::thread([this] { prelabel_loop(); });
      if (!record) triggers_ = std::thread([this, endpoint = endpoints.events] { hear_triggers(endpoint); });
    }
    // Space first: a disk filled while the box was off is freed by
    // retention's rules before a camera writes.
    if (record) retention_pass();
    if (record)
      for (auto& c : cameras_) c->thread = std::thread([this, cam = c.get()] { camera_loop(*cam); });
    if (sync) sync_ = std::thread([this, store] { sync_loop(*store); });

    sd_notify(0, "READY=1");
    spdlog::info("run: {} cameras{}; events on {}", cameras_.size(), options_.only.empty() ? "" : ", only " + options_.only,
                 record ? endpoints.events + ", control on " + endpoints.control : events_endpoint);
    uint64_t watchdog_us = 0;
    const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;
    const auto started = Clock::now();
    auto last_ping = started - std::chrono::hours(1);
    auto last_retention = started;
    auto last_health = started - std::chrono::seconds(10);  // the first STATUS= at once
    while (!stop_) {
      const auto now = Clock::now();
      if (options_.seconds > 0 && now - started >= std::chrono::duration<double>(options_.seconds)) break;
      if (control_) control_->serve_one(100, [this](const json& r) { return handle(r); });
      else pause(0.1);
      // The ping comes from this loop: a hung loop misses it and systemd restarts us.
      if (watchdog && now - last_ping >= std::chrono::microseconds(watchdog_us / 2)) {
        sd_notify(0, "WATCHDOG=1");
        last_ping = now;
      }
      if (want_ui && !ui_ && now - ui_tried_ >= std::chrono::seconds(30)) start_ui();
      if (now - last_health >= std::chrono::seconds(10)) {
        last_health = now;
        const std::string line = summary();
        sd_notifyf(0, "STATUS=%s", line.c_str());
        events_->publish("health", status_json());
      }
      if (record && now - last_retention >= std::chrono::duration<double>(ctx_.config.retention.interval_s)) {
        last_retention = now;
        retention_pass();
      }
    }
    if (signals_.power_failed())
      spdlog::warn("run: power failing ({} reads '{}'): closing the segments and stopping",
                   ctx_.config.power.fail_file.string(), ctx_.config.power.fail_value);
    sd_notify(0, "STOPPING=1");
    quit_ = true;
    quit_wake_.notify_all();
    for (auto& c : cameras_)
      if (c->thread.joinable()) c->thread.join();
    {
      std::lock_guard lock(queue_.mutex);
      queue_.done = true;
    }
    queue_.wake.notify_all();
    if (analysis_.joinable()) analysis_.join();
    if (prelabel_.joinable()) prelabel_.join();
    if (triggers_.joinable()) triggers_.join();
    if (sync_.joinable()) sync_.join();
    ui_.reset();
    events_->publish("station.stopped", {});
    std::printf("run: stopped after %.1f s; %lld drives analysed\n",
                std::chrono::duration<double>(Clock::now() - started).count(), static_cast<long long>(queue_.drives));
    return kExitOk;
  }

 private:
  int fail_usage(const Status& st) {
    spdlog::error("run: {}", st.message());
    return kExitUsage;
  }

  // The quota and the reserve (retention::free_space), what was deleted on the bus.
  void retention_pass() {
    auto r = firmware::retention::free_space(*ctx_.catalog, ctx_.config.data_dir, retention_policy(ctx_.config));
    if (!r.ok())
      spdlog::error("retention: {}", r.status().message());
    else if (r->segments_deleted + r->packages_deleted > 0)
      events_->publish("retention.deleted", {{"freed_bytes", r->freed}, {"actions", r->actions}});
  }

  void start_ui() {
    ui_tried_ = Clock::now();
    auto part = UiPart::start(ctx_.config, [this](const std::string& type, const json& fields) {
      events_->publish(type, fields);
    });
    if (!part.ok()) {
      spdlog::error("run: {}; the station goes on without it, trying again in 30 s", part.status().message());
      events_->publish("ui.state", {{"state", "down"}, {"reason", part.status().message()}});
      return;
    }
    ui_ = std::move(part.value());
    spdlog::info("run: depot UI on {}", ui_->url());
  }

  void set_state(Camera& c, const std::string& state, const std::string& reason) {
    {
      std::lock_guard lock(c.mutex);
      c.state = state;
      c.reason = reason;
      if (state == "reconnecting") ++c.reconnects;
    }
    events_->publish("camera.state", {{"camera", c.config.name}, {"state", state}, {"reason", reason}});
  }

  // Sleeps up to s seconds; false when the station is stopping.
  bool pause(double s) {
    std::unique_lock lock(quit_mutex_);
    return !quit_wake_.wait_for(lock, std::chrono::duration<double>(s), [&] { return quit_.load(); });
  }

  // A camera's thread: record; on a failure rebuild, waiting 1, 2, 4 ... 30 s.
  void camera_loop(Camera& c) {
    auto catalog = cat::Catalog::open(ctx_.config.data_dir / "catalog.sqlite");
    if (!catalog.ok()) {
      set_state(c, "failed", "catalog: " + catalog.status().message());
      return;
    }
    double backoff_s = 1.0;
    while (!quit_) {
      std::unique_lock starting(start_mutex_);  // GStreamer's plugin loading is not safe from two threads at once
      auto recorder = CameraRecorder::start(**catalog, ctx_.config.data_dir, c.config.name, c.source,
                                            ctx_.config.recording.segment_s, ctx_.config.recording.stall_s,
                                            [this, &c](const cat::SegmentRecord& s) { closed(c, s); });
      starting.unlock();
      Status error = recorder.ok() ? Status::Ok() : recorder.status();
      std::string last_frame;  // the recorder's last frame, where a gap starts
      if (recorder.ok()) {
        // Up only while frames flow: a frozen camera's pipeline posts no
        // error, and a camera that refuses at once must not reset the backoff.
        bool up = false;
        while (!quit_ && error.ok()) {
          error = (*recorder)->poll(0.1);
          const double quiet_s = (*recorder)->seconds_since_frame();
          if (!up && error.ok() && quiet_s >= 0 && quiet_s < 1.0) {
            up = true;
            backoff_s = 1.0;
            set_state(c, "up", "");
          } else if (up && error.ok() && quiet_s >= kQuietS) {
            up = false;
            set_state(c, "stalled", "no frame for " + std::to_string(int(quiet_s)) + " s");
          }
          store_gap(c, **catalog);
          std::lock_guard lock(c.mutex);
          if (c.split_at && Clock::now() >= *c.split_at) {
            (*recorder)->split();
            c.split_at.reset();
          }
        }
        last_frame = (*recorder)->last_frame_utc();
        if (Status st = (*recorder)->stop(); !st.ok() && error.ok()) error = st;
      }
      store_gap(c, **catalog);
      if (quit_) break;
      spdlog::error("run: camera '{}': {}; rebuilding in {:.0f} s", c.config.name, error.message(), backoff_s);
      // The gap starts at the camera's last segment or, with none yet, now:
      // never before its newest stamp (a clock not yet set reads 1970). Only
      // this thread writes c.gap and c.last_end_utc, so it reads them unlocked
      // and scans the catalog only for a gap that needs it.
      if (!c.gap) {
        const std::string start = !last_frame.empty()      ? last_frame
                                  : !c.last_end_utc.empty() ? c.last_end_utc
                                                            : media::utc_at(media::WallClock(clock_not_before(&**catalog, c.config.name)).now());
        std::lock_guard lock(c.mutex);
        c.gap = cat::GapRecord{0, c.config.name, start, "", error.message()};
      }
      // A frozen camera says so before it is rebuilt: no error came from it.
      if (error.kind() == Status::Kind::kUnavailable) set_state(c, "stalled", error.message());
      set_state(c, "reconnecting", error.message());
      if (!pause(backoff_s)) break;
      backoff_s = std::min(kMaxBackoffS, backoff_s * 2);
    }
  }

  // On the camera's thread, outside its recorder's poll: a gap the first
  // segment after it has closed goes to the catalog and the bus.
  void store_gap(Camera& c, cat::Catalog& catalog) {
    cat::GapRecord gap;
    {
      std::lock_guard lock(c.mutex);
      if (!c.gap || c.gap->end_utc.empty()) return;
      gap = std::move(*c.gap);
      c.gap.reset();
    }
    if (auto id = catalog.add_gap(gap); !id.ok())
      spdlog::error("run: camera '{}': the gap from {} to {} not stored: {}", gap.camera, gap.start_utc, gap.end_utc,
                    id.status().message());
    events_->publish("camera.gap", {{"camera", gap.camera}, {"start_utc", gap.start_utc}, {"end_utc", gap.end_utc},
                                    {"reason", gap.reason}});
  }

  // On a camera's thread, from inside its recorder's poll. Its segments go
  // to analysis as one drive once they hold analysis_chunk_s of video, or
  // at once when a trigger waits for them.
  void closed(Camera& c, const cat::SegmentRecord& s) {
    events_->publish("segment.closed", {{"camera", c.config.name}, {"path", s.path}, {"frames", s.frames},
                                        {"duration_s", s.duration_s}, {"start_utc", s.start_utc}, {"end_utc", s.end_utc}});
    std::scoped_lock lock(c.mutex, queue_.mutex);
    if (c.gap && c.gap->end_utc.empty()) c.gap->end_utc = std::max(s.start_utc, c.gap->start_utc);
    c.last_end_utc = s.end_utc;
    ++c.segments;
    c.video_s += s.duration_s;
    if (c.video_s < ctx_.config.recording.analysis_chunk_s && queue_.triggers[c.config.name].empty()) return;
    c.video_s = 0;
    queue_.make_due(c.config.name);
    queue_.wake.notify_all();
  }

  Camera* camera_named(const std::string& name) {
    for (auto& c : cameras_)
      if (c->config.name == name) return c.get();
    return nullptr;
  }

  json handle(const json& r) {
    const std::string cmd = r["cmd"];
    if (cmd == "status") return status_json();
    if (cmd == "trigger" || cmd == "mark") {
      const std::string camera = r.value("camera", cameras_.front()->config.name);
      Camera* cam = camera_named(camera);
      if (!cam) return {{"ok", false}, {"error", "no camera named '" + camera + "'"}};
      if (r.contains("note") && !r["note"].is_string()) return {{"ok", false}, {"error", "\"note\" must be a string"}};
      // "at": when it happened (a bridge that heard it a moment ago), as UTC
      // ISO 8601, in the last hour; refused otherwise, never ignored.
      auto at = std::chrono::system_clock::now();
      if (r.contains("at")) {
        const auto when = r["at"].is_string() ? media::parse_utc(r["at"].get<std::string>()) : std::nullopt;
        if (!when) return {{"ok", false}, {"error", "\"at\" must be a UTC time such as 2026-12-06T21:00:00.000Z"}};
        if (*when > at + std::chrono::seconds(2) || *when < at - std::chrono::hours(1))
          return {{"ok", false}, {"error", "\"at\" " + r["at"].get<std::string>() + " is not within the last hour"}};
        at = *when;
      }
      {
        std::lock_guard lock(queue_.mutex);
        queue_.triggers[camera].push_back({at, cmd, r.value("note", std::string())});
      }
      // Its clip needs the post-roll recorded: the segment closes just after it.
      const double post = ctx_.config.clips.planner.post_roll_s + 0.5;
      {
        std::lock_guard lock(cam->mutex);
        cam->split_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(post));
      }
      events_->publish("trigger", {{"camera", camera}, {"kind", cmd}, {"note", r.value("note", "")},
                                   {"at_utc", media::utc_at(at)}});
      return {{"ok", true}, {"camera", camera}, {"at_utc", media::utc_at(at)}};
    }
    if (cmd == "flush") {  // every open segment closes at its next keyframe and goes to analysis
      for (auto& c : cameras_) {
        std::lock_guard lock(c->mutex);
        c->split_at = Clock::now();
        c->video_s = ctx_.config.recording.analysis_chunk_s;  // the next close makes it due
      }
      return {{"ok", true}};
    }
    return {{"ok", false}, {"error", "unknown cmd '" + cmd + "' (status, trigger, mark, flush)"}};
  }

  json status_json() {
    json cams = json::array();
    for (const auto& c : cameras_) {
      json budget;
      if (auto b = clip_budget(ctx_, c->config.name, 0, 0, false); b.ok())
        budget = {{"used_s", b->used_s}, {"allowed_s", b->allowed_s}, {"driving_s", b->driving_s}};
      std::lock_guard lock(c->mutex);
      cams.push_back({{"name", c->config.name}, {"role", c->config.role}, {"source", c->config.source},
                      {"state", c->state}, {"reason", c->reason}, {"segments", c->segments},
                      {"reconnects", c->reconnects}, {"unanalysed_s", c->video_s}, {"clip_budget", budget}});
    }
    json clips = json::object();
    for (const char* state : {"review", "approved", "failed"})
      if (auto rows = ctx_.catalog->clips(state); rows.ok()) clips[state] = rows->size();
    json sync;
    {
      std::lock_guard lock(sync_mutex_);
      sync = sync_state_;
    }
    std::lock_guard lock(queue_.mutex);
    return {{"ok", true}, {"cameras", cams}, {"drives_analysed", queue_.drives}, {"analysing", queue_.analysing},
            {"analysis_due", queue_.due.size()}, {"clips", clips}, {"sync", sync}};
  }

  std::string summary() {
    int up = 0;
    for (const auto& c : cameras_) {
      std::lock_guard lock(c->mutex);
      up += c->state == "up";
    }
    std::lock_guard lock(queue_.mutex);
    return std::to_string(up) + "/" + std::to_string(cameras_.size()) + " cameras up, " + std::to_string(queue_.drives) +
           " drives analysed" + (queue_.analysing.empty() ? "" : ", analysing " + queue_.analysing);
  }

  // The sync thread: a pass every [sync] interval_s on its own catalog
  // connection; progress on the bus as sync.progress, the last pass in the
  // status. A pass that fails is logged and the next one tries again.
  void sync_loop(firmware::sync::ObjectStore& store) {
    auto catalog = cat::Catalog::open(ctx_.config.data_dir / "catalog.sqlite");
    if (!catalog.ok()) {
      spdlog::error("run: sync: catalog: {}", catalog.status().message());
      return;
    }
    firmware::sync::Syncer syncer(
        **catalog, store, ctx_.config.sync, ctx_.config.vehicle,
        [this](const json& progress) { events_->publish("sync.progress", progress); }, &quit_);
    syncer.admit_only([this](const json& manifest) { return firmware::sync::privacy_admits(ctx_.config, manifest); });
    firmware::sync::SyncReport totals;
    std::unique_ptr<firmware::sync::SyncLock> lock;
    do {
      if (!lock) {  // a `dashloop sync` by hand may hold it: this pass waits for the next
        auto got = firmware::sync::SyncLock::acquire(ctx_.config.data_dir);
        if (!got.ok()) {
          spdlog::warn("run: sync: {}; trying again in {:.0f} s", got.status().message(), ctx_.config.sync.interval_s);
          continue;
        }
        lock = std::move(*got);
      }
      const auto report = syncer.pass();
      totals += report;
      totals.errors.clear();  // the last pass holds its own; months of them are not kept
      if (!report.stopped.ok()) spdlog::warn("run: sync: {} (next pass in {:.0f} s)", report.stopped.message(),
                                             ctx_.config.sync.interval_s);
      json state = {{"target", store.name("")}, {"last_pass", report.to_json()}, {"totals", totals.to_json()},
                    {"network", report.blocked.empty() ? (report.stopped.ok() ? "ok" : "unreachable") : "not allowed"}};
      events_->publish("sync.pass", state);
      std::lock_guard lock(sync_mutex_);
      sync_state_ = std::move(state);
    } while (pause(ctx_.config.sync.interval_s));
  }

  // The analysis part alone (--only analysis): the record part takes the
  // triggers and closes their segments; they reach this part as events.
  void hear_triggers(const std::string& endpoint) {
    Status st = bus_subscribe(
        {endpoint},
        [this](const std::string& text) {
          const json e = json::parse(text, nullptr, false);
          if (!e.is_object() || e.value("type", json()) != "trigger") return true;
          const json camera = e.value("camera", json()), at_utc = e.value("at_utc", json());
          const auto at = at_utc.is_string() ? media::parse_utc(at_utc.get<std::string>()) : std::nullopt;
          if (!at || !camera.is_string() || !camera_named(camera.get<std::string>())) {
            spdlog::warn("run: a trigger event for no camera of ours, or without its time, ignored: {}", text);
            return true;
          }
          const json kind = e.value("kind", json("trigger")), note = e.value("note", json(""));
          std::lock_guard lock(queue_.mutex);
          queue_.triggers[camera.get<std::string>()].push_back(
              {*at, kind.is_string() ? kind.get<std::string>() : "trigger", note.is_string() ? note.get<std::string>() : ""});
          return true;
        },
        quit_, 0);
    if (!st.ok()) spdlog::error("run: triggers from {} not heard: {}", endpoint, st.message());
  }

  // A thread's own context: the config and its own catalog connection (SQLite, WAL).
  std::optional<Context> thread_context(const std::string& part) {
    Context c;
    c.config = ctx_.config;
    auto catalog = cat::Catalog::open(ctx_.config.data_dir / "catalog.sqlite");
    if (!catalog.ok()) {
      spdlog::error("run: {}: catalog: {}", part, catalog.status().message());
      return std::nullopt;
    }
    c.catalog = std::move(catalog.value());
    return c;
  }

  // The analysis thread.
  void analysis_loop() {
    auto opened = thread_context("analysis");
    if (!opened) return;
    Context& actx = *opened;
    // What a stop, a crash or a power cut left half made comes first.
    if (auto resumed = resume_planned(actx, "run", &stop_); !resumed.ok()) {
      spdlog::error("run: analysis: clips left planned: {}", resumed.status().message());
    } else {
      for (int64_t id : resumed->ready) clip_event(actx, id, "review");
      for (int64_t id : resumed->failed) clip_event(actx, id, "failed");
    }
    int attempt = 0;
    auto last_resume = Clock::now();
    for (;;) {
      std::string camera;
      std::vector<PendingTrigger> triggers;
      bool resume = false;
      {
        std::unique_lock lock(queue_.mutex);
        queue_.wake.wait_for(lock, std::chrono::seconds(1), [&] { return queue_.done || !queue_.due.empty(); });
        if (queue_.done) return;
        queue_.make_retries_due(Clock::now());
        // Clips left planned for want of space are tried again once a
        // minute, busy or not (a station with cameras always due was never
        // idle, and they waited for good), but never before a trigger's clip.
        resume = Clock::now() - last_resume >= kResumePlannedEvery && !queue_.trigger_waiting();
        if (queue_.due.empty() && !resume) {
          if (!rescan_) continue;
          for (const auto& c : cameras_) queue_.make_due(c->config.name);  // another process records them
        }
      }
      if (resume) {
        last_resume = Clock::now();
        if (auto resumed = resume_planned(actx, "run", &stop_); !resumed.ok()) {
          spdlog::error("run: analysis: clips left planned: {}", resumed.status().message());
        } else {
          for (int64_t id : resumed->ready) clip_event(actx, id, "review");
          for (int64_t id : resumed->failed) clip_event(actx, id, "failed");
        }
        continue;
      }
      {
        std::unique_lock lock(queue_.mutex);
        camera = queue_.take_next();
        triggers = std::move(queue_.triggers[camera]);
        queue_.triggers[camera].clear();
        queue_.analysing = camera;
      }
      // Found by a rescan (not told by a recorder here): only a whole chunk.
      const double min_s = rescan_ && triggers.empty() ? ctx_.config.recording.analysis_chunk_s : 0.0;
      auto kept = analyse(actx, camera, triggers, ++attempt, min_s);
      std::lock_guard lock(queue_.mutex);
      queue_.analysing.clear();
      auto& pending = queue_.triggers[camera];  // those after the analysed segments wait for the next
      pending.insert(pending.begin(), kept.begin(), kept.end());
    }
  }

  // The camera's closed, unanalysed segments as one drive; returns the
  // triggers that fall after them.
  std::vector<PendingTrigger> analyse(Context& actx, const std::string& camera, std::vector<PendingTrigger> triggers,
                                      int attempt, double min_s) {
    auto segments = actx.catalog->segments(0, camera);
    if (!segments.ok()) {
      spdlog::error("run: analysis: catalog: {}", segments.status().message());
      return triggers;
    }
    std::optional<std::chrono::system_clock::time_point> start;
    double duration = 0;
    for (const auto& s : *segments)
      if (s.owned && s.state == "closed" && s.drive_id == 0) {
        if (!start) start = media::parse_utc(s.start_utc);
        duration += s.duration_s;
      }
    if (duration <= 0 || duration < min_s) return triggers;
    IngestRequest request;
    request.source = "recording://" + camera;
    request.camera = camera;
    request.actor = "run";
    request.attempt = attempt;
    request.stop = &stop_;
    std::vector<PendingTrigger> later;
    for (const auto& t : triggers) {
      const double at = start ? std::chrono::duration<double>(t.at - *start).count() : -1;
      if (at >= 0 && at <= duration) request.triggers.push_back({at, t.kind, t.note});
      else if (at > duration) later.push_back(t);
    }
    request.prelabel_now = false;  // prelabel_loop's, in the background
    IngestOutcome out = ingest_drive(actx, request);
    if (out.exit_code == kExitInterrupted) return triggers;  // stopping: the segments wait for the next start
    if (out.drive_id == 0) {
      // The segments stay unattached and the triggers wait: both are tried again.
      double retry_s = 0;
      {
        std::lock_guard lock(queue_.mutex);
        queue_.failed(camera, Clock::now());
        retry_s = queue_.retries[camera].backoff_s;
      }
      spdlog::error("run: analysis of camera '{}': {}; trying again in {:.0f} s", camera, out.error, retry_s);
      events_->publish("analysis.failed", {{"camera", camera}, {"error", out.error}, {"retry_s", retry_s}});
      return triggers;
    }
    {
      std::lock_guard lock(queue_.mutex);
      ++queue_.drives;
      queue_.succeeded(camera);
    }
    for (const auto& k : out.result.keyframes)
      events_->publish("keyframe", {{"camera", camera}, {"drive_id", out.drive_id}, {"frame", k.keyframe.index},
                                    {"reason", pipeline::vision::to_string(k.keyframe.reason)}});
    for (const auto& t : out.objects.tracks)
      events_->publish("track.ended", {{"camera", camera}, {"drive_id", out.drive_id}, {"track", t.track_no},
                                       {"label", t.label}, {"first_s", t.first_s}, {"last_s", t.last_s}});
    for (int64_t id : out.clips.ready) clip_event(actx, id, "review");
    for (int64_t id : out.clips.packaged) clip_event(actx, id, "packaged");
    for (int64_t id : out.clips.failed) clip_event(actx, id, "failed");
    spdlog::info("run: camera '{}': drive {} ({:.1f} s): {} keyframes, {} tracks, {} clips in review", camera,
                 out.drive_id, out.result.media_s, out.result.keyframes.size(), out.objects.tracks.size(),
                 out.clips.ready.size());
    return later;
  }

  bool analysis_running() {
    std::lock_guard lock(queue_.mutex);
    return !queue_.analysing.empty();
  }

  // The pre-label pass on packaged clips, one at a time, on a thread of low
  // priority that waits between frames while analysis runs, so that recording
  // and live analysis go first. On a box whose analysis never rests, a clip
  // that has waited [prelabel] max_wait_s goes on alongside it, niced: clips
  // reach review however busy the cameras are. What a stop interrupts stays
  // packaged and is done at the next start.
  void prelabel_loop() {
    // This thread's nice value (Linux schedules threads alone): after recording and analysis.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10) != 0)
      spdlog::warn("run: pre-label pass: could not lower its priority");
    auto opened = thread_context("pre-label pass");
    if (!opened) return;
    Context& pctx = *opened;
    const auto max_wait = std::chrono::duration<double>(ctx_.config.prelabel.max_wait_s);
    auto waiting_since = Clock::now();  // of the clip the pass is on (or the next)
    PrelabelControl control{&quit_, [&] {
                              while (analysis_running() && Clock::now() - waiting_since < max_wait && pause(0.2)) {
                              }
                            },
                            "station"};
    while (!quit_) {
      auto run = prelabel_packaged(pctx, "run", control, 1);
      if (!run.ok()) spdlog::error("run: pre-label pass: {}", run.status().message());
      else for (int64_t id : run->ready) clip_event(pctx, id, "review");
      if (!run.ok() || run->ready.empty()) pause(2.0);  // none waiting (or a catalog error): look again soon
      waiting_since = Clock::now();  // a clip done, or none was waiting: the next one's wait starts
    }
  }

  void clip_event(Context& actx, int64_t id, const std::string& state) {
    auto clip = actx.catalog->clip(id);
    if (!clip.ok() || !*clip) return;
    events_->publish("clip.state", {{"clip", (*clip)->uid}, {"state", state}, {"priority", (*clip)->priority},
                                    {"reason", (*clip)->state_reason}, {"package", (*clip)->package_dir}});
  }

  Context& ctx_;
  const RunOptions& options_;
  const SignalStop& signals_;
  const std::atomic<bool>& stop_;
  zmq::context_t zmq_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<ControlServer> control_;
  std::vector<std::unique_ptr<Camera>> cameras_;
  AnalysisQueue queue_;
  bool rescan_ = false;            // --only analysis: another process records; look in the catalog
  std::atomic<bool> quit_{false};  // the camera threads' stop
  std::mutex quit_mutex_;
  std::mutex start_mutex_;  // one camera pipeline built at a time
  std::condition_variable quit_wake_;
  std::mutex sync_mutex_;
  json sync_state_ = json::object();  // the last sync pass, for status
  std::thread sync_;
  std::unique_ptr<UiPart> ui_;
  Clock::time_point ui_tried_;
  std::thread triggers_;  // --only analysis: the record part's triggers
  std::thread prelabel_;  // the pre-label pass on packaged clips
  std::thread analysis_;  // last: joined before the rest goes
};

}  // namespace

int run_station_loop(Context& ctx, const RunOptions& options, const SignalStop& signals) {
  Station station(ctx, options, signals);
  return station.run();
}

}  // namespace dashloop::app
