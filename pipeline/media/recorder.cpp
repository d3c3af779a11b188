#include "media/recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>

#include "media/gst.hpp"

namespace dashloop::pipeline::media {
namespace fs = std::filesystem;

std::string utc_now() { return utc_at(std::chrono::system_clock::now()); }

std::chrono::system_clock::time_point WallClock::now() const {
  const auto system = std::chrono::system_clock::now();
  const auto counted = not_before_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                         std::chrono::steady_clock::now() - started_);
  return std::max(system, counted);
}

std::string utc_at(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& utc) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(utc.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
}

Result<std::string> recorder_description(const Source& s) {
  // The parser repeats SPS/PPS before every keyframe (config-interval=-1).
  // splitmuxsink is added by Recorder::start: its muxer must be set before it is linked.
  const std::string tail = " ! h264parse config-interval=-1 name=parse";
  switch (s.kind) {
    case Source::Kind::kTest: {
      // A simulated camera that encodes, as a dashcam does: H.264, 1 s GOP.
      const std::string fps = std::to_string(s.fps);
      return "videotestsrc is-live=true pattern=" + s.pattern + " ! video/x-raw,width=" + std::to_string(s.width) +
             ",height=" + std::to_string(s.height) + ",framerate=" + fps +
             "/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=" + fps + tail;
    }
    case Source::Kind::kRtsp:
      // RTP carries no DTS: with B-frames the muxer would refuse the stream
      // ("Timestamping error on input streams"); the timestamper restores it.
      return "rtspsrc name=src ! rtph264depay ! h264parse ! h264timestamper" + tail;
    case Source::Kind::kV4l2:
      return "v4l2src name=src ! video/x-h264" + tail;
    case Source::Kind::kFile:
    case Source::Kind::kSegments:
      break;
  }
  return Status::InvalidArgument(s.original + ": only a live source is recorded (a file already is a recording)");
}

namespace {

constexpr double kFirstFrameS = 20.0;  // rtspsrc's own TCP timeout is 20 s

// The source element's address, which the description leaves out (quoting).
void point_source(Pipeline& pipeline, const Source& source) {
  if (auto src = pipeline.child("src")) {
    if (source.kind == Source::Kind::kRtsp) g_object_set(src.get(), "location", source.location.c_str(), nullptr);
    if (source.kind == Source::Kind::kV4l2) g_object_set(src.get(), "device", source.location.c_str(), nullptr);
  }
}

}  // namespace

Result<std::string> probe_camera(const Source& source, double timeout_s) {
  ensure_gst_init();
  auto description = recorder_description(source);
  if (!description.ok()) return description.status();
  GError* raw_err = nullptr;
  ElementPtr element(gst_parse_launch((*description + " ! fakesink sync=false").c_str(), &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err) return Status::Unsupported(source.original + ": " + (err ? err->message : "cannot build"));
  gst_object_ref_sink(element.get());
  Pipeline pipeline(std::move(element));
  point_source(pipeline, source);
  BusPtr bus = pipeline.bus();
  PadPtr out(gst_element_get_static_pad(pipeline.child("parse").get(), "src"));
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return bus_error_or(bus.get(), source.original, source.original + ": cannot start");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    MessagePtr msg(gst_bus_timed_pop_filtered(bus.get(), 100 * GST_MSECOND, GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_EOS)));
    if (msg && GST_MESSAGE_TYPE(msg.get()) == GST_MESSAGE_ERROR)
      return Status::IOError(source.original + ": " + message_text(msg.get()));
    if (msg) return Status::IOError(source.original + ": the stream ended before it said what it is");
    CapsPtr caps(gst_pad_get_current_caps(out.get()));
    if (caps && gst_structure_has_field(gst_caps_get_structure(caps.get(), 0), "width")) {
      GCharPtr text(gst_caps_to_string(caps.get()));
      return std::string(text.get());
    }
  }
  return Status::Unavailable(source.original + ": no stream within " + std::to_string(int(timeout_s)) + " s");
}

struct Recorder::Impl {
  Source source;
  RecorderOptions options;
  RecorderCallbacks callbacks;
  // Steady-clock ns of the parser's last buffer, from its streaming thread;
  // declared before the pipeline so that it outlives the probe.
  std::atomic<int64_t> last_buffer_ns{0};  // 0: none yet
  int64_t started_ns = 0;
  Pipeline pipeline;
  BusPtr bus;
  fs::path open_segment;
  std::chrono::steady_clock::time_point last_sync;
  bool stopped = false;
  bool failed = false;  // the pipeline posted an error: no EOS will come

  void sync_open_segment() {
    if (open_segment.empty()) return;
    // fdatasync through any descriptor of the file flushes its pages.
    const int fd = ::open(open_segment.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fdatasync(fd);
      ::close(fd);
    }
  }

  // Returns true at EOS.
  Result<bool> handle(GstMessage* msg) {
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ERROR:
        failed = true;
        return Status::IOError(source.original + ": " + message_text(msg));
      case GST_MESSAGE_EOS:
        return true;
      case GST_MESSAGE_ELEMENT: {
        const GstStructure* s = gst_message_get_structure(msg);
        if (!s) break;
        const char* location = gst_structure_get_string(s, "location");
        if (!location) break;
        if (gst_structure_has_name(s, "splitmuxsink-fragment-opened")) {
          open_segment = location;
          if (callbacks.opened) callbacks.opened({location, capture_utc(s)});
        } else if (gst_structure_has_name(s, "splitmuxsink-fragment-closed")) {
          sync_open_segment();
          if (open_segment == location) open_segment.clear();
          if (callbacks.closed) callbacks.closed({location, capture_utc(s)});
        }
        break;
      }
      default:
        break;
    }
    return false;
  }

  // When the message's running time was captured: a live source stamps
  // buffers with the running time of capture, and the encoder and muxer
  // deliver them later (x264 alone holds about a second at start).
  std::string capture_utc(const GstStructure* s) {
    GstClockTime running = GST_CLOCK_TIME_NONE;
    ClockPtr clock(gst_element_get_clock(pipeline.get()));
    if (!clock || !gst_structure_get_clock_time(s, "running-time", &running) || !GST_CLOCK_TIME_IS_VALID(running))
      return utc_at(options.clock.now());
    const GstClockTime now = gst_clock_get_time(clock.get()) - gst_element_get_base_time(pipeline.get());
    const auto ago = std::chrono::nanoseconds(now > running ? int64_t(now - running) : 0);
    return utc_at(options.clock.now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(ago));
  }

  static int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static GstPadProbeReturn on_buffer(GstPad* /*pad*/, GstPadProbeInfo* /*info*/, gpointer user_data) {
    static_cast<Impl*>(user_data)->last_buffer_ns.store(steady_ns(), std::memory_order_relaxed);
    return GST_PAD_PROBE_OK;
  }

  static gchar* on_format_location(GstElement* /*mux*/, guint fragment_id, gpointer user_data) {
    auto* self = static_cast<Impl*>(user_data);
    std::string stamp = utc_at(self->options.clock.now());  // 2026-11-22T23:59:59.123Z -> 20261122T235959Z
    std::string compact;
    for (char c : stamp.substr(0, 19))
      if (c != '-' && c != ':') compact += c;
    char name[96];
    std::snprintf(name, sizeof name, "-%sZ-%05u.ts", compact.c_str(), fragment_id);
    const fs::path path = self->options.dir / (self->options.prefix + name);
    return g_strdup(path.c_str());
  }
};

Recorder::Recorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recorder::~Recorder() = default;

Result<std::unique_ptr<Recorder>> Recorder::start(const Source& source, const RecorderOptions& options,
                                                  RecorderCallbacks callbacks) {
  ensure_gst_init();
  auto description = recorder_description(source);
  if (!description.ok()) return description.status();
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->options = options;
  impl->callbacks = std::move(callbacks);
  GError* raw_err = nullptr;
  ElementPtr element(gst_parse_launch(description->c_str(), &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err)
    return Status::Unsupported(source.original + ": cannot build recorder '" + *description +
                               "': " + (err ? err->message : "unknown error"));
  gst_object_ref_sink(element.get());
  impl->pipeline = Pipeline(std::move(element));
  point_source(impl->pipeline, source);
  // Elements handed to a bin or to splitmuxsink are floating: they take them.
  GstElement* mux = gst_element_factory_make("splitmuxsink", "mux");
  GstElement* ts = gst_element_factory_make("mpegtsmux", nullptr);
  GstElement* sink = gst_element_factory_make("filesink", nullptr);
  if (!mux || !ts || !sink)
    return Status::Unsupported("splitmuxsink, mpegtsmux or filesink is missing (gst-plugins-good, -bad, -base)");
  g_object_set(sink, "buffer-mode", 2 /* unbuffered: what was muxed is in the kernel */, nullptr);
  g_object_set(mux, "muxer", ts, "sink", sink, "max-size-time", guint64(std::llround(options.segment_s * 1e9)),
               "send-keyframe-requests", TRUE, nullptr);
  g_signal_connect(mux, "format-location", G_CALLBACK(Impl::on_format_location), impl.get());
  gst_bin_add(GST_BIN(impl->pipeline.get()), mux);
  auto parse = impl->pipeline.child("parse");
  if (!gst_element_link(parse.get(), mux))
    return Status::Internal(source.original + ": cannot link the parser to splitmuxsink");
  {
    PadPtr out(gst_element_get_static_pad(parse.get(), "src"));
    gst_pad_add_probe(out.get(), GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                      Impl::on_buffer, impl.get(), nullptr);
  }
  impl->started_ns = Impl::steady_ns();
  impl->bus = impl->pipeline.bus();
  impl->last_sync = std::chrono::steady_clock::now();
  if (gst_element_set_state(impl->pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    MessagePtr msg(gst_bus_pop_filtered(impl->bus.get(), GST_MESSAGE_ERROR));
    return Status::IOError(source.original + ": cannot start recording" + (msg ? ": " + message_text(msg.get()) : ""));
  }
  return std::unique_ptr<Recorder>(new Recorder(std::move(impl)));
}

Status Recorder::poll(double wait_s) {
  Impl& d = *impl_;
  if (d.stopped) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
    MessagePtr msg(gst_bus_timed_pop(d.bus.get(), GstClockTime(std::max<int64_t>(0, left.count()))));
    if (msg) {
      auto eos = d.handle(msg.get());
      if (!eos.ok()) return eos.status();
      if (*eos) return Status::IOError(d.source.original + ": the stream ended");
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - d.last_sync >= std::chrono::duration<double>(d.options.sync_s)) {
      d.sync_open_segment();
      d.last_sync = now;
    }
    // A camera gets longer for its first frame: one still booting, or
    // slow to answer RTSP, must not be rebuilt over and over.
    const int64_t last = d.last_buffer_ns.load(std::memory_order_relaxed);
    const double quiet_s = double(Impl::steady_ns() - (last ? last : d.started_ns)) / 1e9;
    const double limit_s = last ? d.options.stall_s : std::max(d.options.stall_s, kFirstFrameS);
    if (d.options.stall_s > 0 && quiet_s >= limit_s) {
      d.failed = true;  // a stalled stream carries no EOS either: stop() must not wait for one
      return Status::Unavailable(d.source.original + ": stalled: no frame for " + std::to_string(int(quiet_s)) + " s");
    }
    if (!msg || now >= deadline) return Status::Ok();
  }
}

void Recorder::split() {
  if (auto mux = impl_->pipeline.child("mux")) g_signal_emit_by_name(mux.get(), "split-after");
}

Status Recorder::stop() {
  Impl& d = *impl_;
  if (d.stopped) return Status::Ok();
  d.stopped = true;
  // After an error the EOS never reaches the bus, and before the first frame
  // there is nothing for it to close: send none and go straight to NULL (a
  // camera still connecting must not hold up the station's 3-s stop). An EOS
  // sent and a stop at once race inside a source: GStreamer 1.22's basesrc
  // aborts on `has_pending_eos` (seen once in e2e.run).
  const bool nothing_to_close = d.failed || d.last_buffer_ns.load(std::memory_order_relaxed) == 0;
  if (!nothing_to_close) gst_element_send_event(d.pipeline.get(), gst_event_new_eos());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(nothing_to_close ? 0 : 10);
  Status result;
  while (std::chrono::steady_clock::now() < deadline) {
    MessagePtr msg(gst_bus_timed_pop(d.bus.get(), 200 * GST_MSECOND));
    if (!msg) continue;
    auto eos = d.handle(msg.get());
    if (!eos.ok()) {
      result = eos.status();
      break;
    }
    if (*eos) break;
  }
  d.pipeline.stop();
  // splitmuxsink does not report closing the last fragment at EOS.
  if (!d.open_segment.empty()) {
    d.sync_open_segment();
    const fs::path last = d.open_segment;
    d.open_segment.clear();
    if (d.callbacks.closed) d.callbacks.closed({last, utc_at(d.options.clock.now())});
  }
  return result;
}

}  // namespace dashloop::pipeline::media
