#include "media/recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>

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

namespace {

// The parser repeats SPS/PPS before every keyframe (config-interval=-1).
// splitmuxsink is added by Recorder::start: its muxer must be set before it is linked.
constexpr const char* kTail = " ! h264parse config-interval=-1 name=parse";

// The formats a V4L2 device offers (its source pad's caps, opened at READY).
Result<std::string> v4l2_offers(const std::string& device) {
  std::error_code ec;
  if (!std::filesystem::exists(device, ec)) return Status::Unavailable(device + ": no such device (unplugged?)");
  ElementPtr src(gst_element_factory_make("v4l2src", nullptr));
  if (!src) return Status::Unsupported("v4l2src is missing (gstreamer1.0-plugins-good)");
  gst_object_ref_sink(src.get());
  g_object_set(src.get(), "device", device.c_str(), nullptr);
  if (gst_element_set_state(src.get(), GST_STATE_READY) == GST_STATE_CHANGE_FAILURE)
    return Status::Unavailable(device + ": cannot open the camera");
  PadPtr pad(gst_element_get_static_pad(src.get(), "src"));
  CapsPtr caps(gst_pad_query_caps(pad.get(), nullptr));
  gst_element_set_state(src.get(), GST_STATE_NULL);
  GCharPtr text(caps ? gst_caps_to_string(caps.get()) : nullptr);
  return std::string(text ? text.get() : "");
}

// test://PATTERN names one of videotestsrc's patterns (smpte, ball, ...).
Status check_test_pattern(const Source& s) {
  ensure_gst_init();
  ElementPtr src(gst_element_factory_make("videotestsrc", nullptr));
  if (!src) return Status::Unsupported(s.original + ": videotestsrc is missing (gstreamer1.0-plugins-base)");
  gst_object_ref_sink(src.get());
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(src.get()), "pattern");
  if (!spec || !G_IS_PARAM_SPEC_ENUM(spec)) return Status::Ok();
  GEnumClass* patterns = G_PARAM_SPEC_ENUM(spec)->enum_class;
  if (g_enum_get_value_by_nick(patterns, s.pattern.c_str())) return Status::Ok();
  if (!s.pattern.empty() && s.pattern.find_first_not_of("0123456789") == std::string::npos &&
      s.pattern.size() < 4 && g_enum_get_value(patterns, std::stoi(s.pattern)))
    return Status::Ok();
  std::string known;
  for (guint i = 0; i < patterns->n_values; ++i) known += (i ? ", " : "") + std::string(patterns->values[i].value_nick);
  return Status::InvalidArgument(s.original + ": no test pattern '" + s.pattern + "' (" + known + ")");
}

}  // namespace

Result<std::string> v4l2_description(const std::string& offered, const ElementSet& has) {
  ensure_gst_init();
  CapsPtr caps(gst_caps_from_string(offered.c_str()));
  auto offers = [&](const char* format) {
    CapsPtr wanted(gst_caps_from_string(format));
    return caps && wanted && gst_caps_can_intersect(caps.get(), wanted.get());
  };
  // A camera that encodes is recorded as it sends; one that does not is
  // encoded once, with a keyframe a second (30 fps assumed: the device
  // negotiates its rate only once it streams).
  if (offers("video/x-h264")) return "v4l2src name=src ! video/x-h264" + std::string(kTail);
  auto encode = raw_to_h264(has, 30);
  if (!encode.ok()) return encode.status();
  if (offers("image/jpeg")) {
    // On a Jetson the decoded frames stay in NVMM: the encoder's nvvidconv takes them as they are.
    const bool nvmm = has("nvv4l2decoder") && encode->find("nvv4l2h264enc") != std::string::npos;
    const std::string decode = nvmm ? "nvv4l2decoder mjpeg=true" : "jpegdec";
    return "v4l2src name=src ! image/jpeg ! " + decode + " ! " + *encode + kTail;
  }
  if (offers("video/x-raw")) return "v4l2src name=src ! video/x-raw ! " + *encode + kTail;
  return Status::Unsupported("the camera offers neither H.264, MJPEG nor raw frames (" + offered + ")");
}

Result<std::string> recorder_description(const Source& s, const ElementSet& has) {
  switch (s.kind) {
    case Source::Kind::kTest: {
      if (Status st = check_test_pattern(s); !st.ok()) return st;
      // A simulated camera that encodes, as a dashcam does: H.264, 1 s GOP.
      auto encode = raw_to_h264(has, s.fps);
      if (!encode.ok()) return Status::Unsupported(s.original + ": " + encode.status().message());
      return "videotestsrc is-live=true pattern=" + s.pattern + " ! video/x-raw,width=" + std::to_string(s.width) +
             ",height=" + std::to_string(s.height) + ",framerate=" + std::to_string(s.fps) + "/1 ! " + *encode + kTail;
    }
    case Source::Kind::kCsi: {
      // The sensor's frames stay in NVMM from capture to the encoder.
      auto capture = csi_capture(s, has);
      if (!capture.ok()) return capture.status();
      const std::string g = std::to_string(s.fps);
      if (has("nvv4l2h264enc"))
        return *capture + " ! nvv4l2h264enc iframeinterval=" + g + " idrinterval=" + g + " insert-sps-pps=true" + kTail;
      auto encode = raw_to_h264(has, s.fps);
      if (!encode.ok()) return Status::Unsupported(s.original + ": " + encode.status().message());
      return *capture + " ! nvvidconv ! video/x-raw ! " + *encode + kTail;
    }
    case Source::Kind::kRtsp:
      // The rest (rtsp_depayloader) follows the camera's codec, which only
      // its SDP names: it is linked when rtspsrc adds the video pad.
      return std::string("rtspsrc name=src");
    case Source::Kind::kV4l2: {
      auto offered = v4l2_offers(s.location);
      if (!offered.ok())
        return offered.status().kind() == Status::Kind::kUnavailable
                   ? Status::Unavailable(s.original + ": " + offered.status().message())
                   : Status::Unsupported(s.original + ": " + offered.status().message());
      auto description = v4l2_description(*offered, has);
      if (!description.ok()) return Status::Unsupported(s.original + ": " + description.status().message());
      return description;
    }
    case Source::Kind::kFile:
    case Source::Kind::kSegments:
      break;
  }
  return Status::InvalidArgument(s.original + ": only a live source is recorded (a file already is a recording)");
}

Result<std::string> rtsp_depayloader(const std::string& encoding_name) {
  // RTP carries no DTS: with B-frames the muxer would refuse the stream
  // ("Timestamping error on input streams"); the timestamper restores it.
  // The last parser repeats the parameter sets before every keyframe.
  for (const std::string codec : {"264", "265"})
    if (encoding_name == "H" + codec)
      return "rtph" + codec + "depay ! h" + codec + "parse ! h" + codec + "timestamper ! h" + codec +
             "parse config-interval=-1 name=parse";
  return Status::Unsupported("the camera sends " + (encoding_name.empty() ? "no named codec" : encoding_name) +
                             "; cameras are recorded as they send, which takes H.264 or H.265");
}

namespace {

constexpr double kFirstFrameS = 20.0;  // rtspsrc's own TCP timeout is 20 s

// Links rtspsrc's first video stream, once it is known, through
// rtsp_depayloader to `downstream`; an unknown codec is posted as the
// source's error. Must outlive the pipeline's streaming.
struct RtspLink {
  GstElement* pipeline = nullptr;
  GstElement* downstream = nullptr;
  std::function<void(GstElement* parse)> on_parse;  // e.g. a probe on the parser's output
  std::atomic<bool> linked{false};

  void attach(GstElement* src) { g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), this); }

 private:
  static void fail(GstElement* src, const std::string& text) {
    GError* err = g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND, text.c_str());
    gst_element_post_message(src, gst_message_new_error(GST_OBJECT(src), err, nullptr));
    g_error_free(err);
  }
  static void on_pad_added(GstElement* src, GstPad* pad, gpointer user_data) {
    auto* self = static_cast<RtspLink*>(user_data);
    CapsPtr caps(gst_pad_get_current_caps(pad));
    if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
    if (!caps || gst_caps_is_empty(caps.get())) return;
    const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
    const char* media = gst_structure_get_string(s, "media");
    if (!media || std::string(media) != "video" || self->linked.exchange(true)) return;  // audio; a second video
    const char* encoding = gst_structure_get_string(s, "encoding-name");
    auto description = rtsp_depayloader(encoding ? encoding : "");
    if (!description.ok()) return fail(src, description.status().message());
    GError* raw_err = nullptr;
    GstElement* tail = gst_parse_bin_from_description(description->c_str(), TRUE, &raw_err);
    ErrorPtr err(raw_err);
    if (!tail || err) return fail(src, "cannot build '" + *description + "': " + (err ? err->message : "?"));
    gst_bin_add(GST_BIN(self->pipeline), tail);  // takes the floating reference
    // Downstream first, then the state, then the source: no buffer reaches
    // an unlinked or stopped element.
    if (!gst_element_link(tail, self->downstream)) return fail(src, "cannot link " + *description);
    ElementPtr parse(gst_bin_get_by_name(GST_BIN(tail), "parse"));
    if (self->on_parse) self->on_parse(parse.get());
    gst_element_sync_state_with_parent(tail);
    PadPtr sink(gst_element_get_static_pad(tail, "sink"));
    if (gst_pad_link(pad, sink.get()) != GST_PAD_LINK_OK) fail(src, "cannot link the camera's stream to " + *description);
  }
};

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
  const std::string sink = " fakesink sync=false name=out";
  ElementPtr element(gst_parse_launch(
      (*description + (source.kind == Source::Kind::kRtsp ? sink : " !" + sink)).c_str(), &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err) return Status::Unsupported(source.original + ": " + (err ? err->message : "cannot build"));
  gst_object_ref_sink(element.get());
  RtspLink rtsp;  // outlives the pipeline
  Pipeline pipeline(std::move(element));
  point_source(pipeline, source);
  if (source.kind == Source::Kind::kRtsp) {
    rtsp.pipeline = pipeline.get();
    rtsp.downstream = pipeline.child("out").get();
    rtsp.attach(pipeline.child("src").get());
  }
  BusPtr bus = pipeline.bus();
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return bus_error_or(bus.get(), source.original, source.original + ": cannot start");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    MessagePtr msg(gst_bus_timed_pop_filtered(bus.get(), 100 * GST_MSECOND, GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_EOS)));
    if (msg && GST_MESSAGE_TYPE(msg.get()) == GST_MESSAGE_ERROR)
      return Status::IOError(source.original + ": " + message_text(msg.get()));
    if (msg) return Status::IOError(source.original + ": the stream ended before it said what it is");
    ElementPtr parse = pipeline.child("parse");  // an RTSP camera's comes with its stream
    PadPtr out(parse ? gst_element_get_static_pad(parse.get(), "src") : nullptr);
    CapsPtr caps(out ? gst_pad_get_current_caps(out.get()) : nullptr);
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
  // Its wall time (options.clock), ns since the epoch: the one value a gap's
  // start and the last segment's end both take.
  std::atomic<int64_t> last_buffer_wall_ns{0};
  int64_t started_ns = 0;
  RtspLink rtsp;  // likewise
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
    auto* self = static_cast<Impl*>(user_data);
    self->last_buffer_ns.store(steady_ns(), std::memory_order_relaxed);
    self->last_buffer_wall_ns.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(self->options.clock.now().time_since_epoch()).count(),
        std::memory_order_relaxed);
    return GST_PAD_PROBE_OK;
  }

  static gchar* on_format_location(GstElement* /*mux*/, guint fragment_id, gpointer user_data) {
    auto* self = static_cast<Impl*>(user_data);
    std::string stamp = utc_at(self->options.clock.now());  // 2026-11-22T23:59:59.123Z -> 20261122T235959Z
    std::string compact;
    for (char c : stamp.substr(0, 19))
      if (c != '-' && c != ':') compact += c;
    char name[112];
    std::snprintf(name, sizeof name, "-%sZ-%05u.ts", compact.c_str(), fragment_id);
    fs::path path = self->options.dir / (self->options.prefix + name);
    // A recorder started again within the same second numbers its fragments
    // from 0 too: never write over a segment already on disk.
    std::error_code ec;
    for (int again = 1; fs::exists(path, ec) && again < 100; ++again) {
      std::snprintf(name, sizeof name, "-%sZ-%05u-%02d.ts", compact.c_str(), fragment_id, again);
      path = self->options.dir / (self->options.prefix + name);
    }
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
  if (!GST_IS_PIPELINE(element.get())) {
    // One element (rtspsrc alone) comes back bare: it needs a pipeline, and its bus.
    ElementPtr pipeline(gst_pipeline_new(nullptr));
    gst_object_ref_sink(pipeline.get());
    gst_bin_add(GST_BIN(pipeline.get()), element.get());
    element = std::move(pipeline);
  }
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
  auto watch = [self = impl.get()](GstElement* parse) {
    PadPtr out(gst_element_get_static_pad(parse, "src"));
    gst_pad_add_probe(out.get(), GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                      Impl::on_buffer, self, nullptr);
  };
  if (source.kind == Source::Kind::kRtsp) {
    impl->rtsp.pipeline = impl->pipeline.get();
    impl->rtsp.downstream = mux;
    impl->rtsp.on_parse = watch;
    impl->rtsp.attach(impl->pipeline.child("src").get());
  } else {
    auto parse = impl->pipeline.child("parse");
    if (!gst_element_link(parse.get(), mux))
      return Status::Internal(source.original + ": cannot link the parser to splitmuxsink");
    watch(parse.get());
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

double Recorder::seconds_since_frame() const {
  const int64_t last = impl_->last_buffer_ns.load(std::memory_order_relaxed);
  return last ? double(Impl::steady_ns() - last) / 1e9 : -1.0;
}

std::string Recorder::last_frame_utc() const {
  const int64_t wall = impl_->last_buffer_wall_ns.load(std::memory_order_relaxed);
  if (wall == 0) return "";
  return utc_at(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(wall))));
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
    // Its end is its last frame's time: a stalled camera's segment does not
    // run on to the moment the stall was noticed.
    const std::string end = last_frame_utc();
    if (d.callbacks.closed) d.callbacks.closed({last, end.empty() ? utc_at(d.options.clock.now()) : end});
  }
  return result;
}

}  // namespace dashloop::pipeline::media
