#include "media/frame_reader.hpp"

#include <opencv2/imgproc.hpp>

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "media/gst.hpp"

namespace dashloop::pipeline::media {

struct DecodedFrame::Mapping {
  SamplePtr sample;
  GstVideoFrame frame{};
  bool mapped = false;
  ~Mapping() {
    if (mapped) gst_video_frame_unmap(&frame);
  }
};

DecodedFrame::DecodedFrame() = default;
DecodedFrame::DecodedFrame(DecodedFrame&&) noexcept = default;
DecodedFrame& DecodedFrame::operator=(DecodedFrame&&) noexcept = default;
DecodedFrame::~DecodedFrame() = default;

cv::Mat copy_i420(const DecodedFrame& f) {
  const int w = f.y.cols & ~1, h = f.y.rows & ~1;
  cv::Mat i420(h * 3 / 2, w, CV_8UC1);
  f.y(cv::Rect(0, 0, w, h)).copyTo(i420.rowRange(0, h));
  const size_t quarter = size_t(w / 2) * size_t(h / 2);
  cv::Mat u(h / 2, w / 2, CV_8UC1, i420.ptr(h));
  cv::Mat v(h / 2, w / 2, CV_8UC1, i420.ptr(h) + quarter);
  f.u(cv::Rect(0, 0, w / 2, h / 2)).copyTo(u);
  f.v(cv::Rect(0, 0, w / 2, h / 2)).copyTo(v);
  return i420;
}

cv::Mat resized_i420(const DecodedFrame& f, int width, int height) {
  cv::Mat i420(height * 3 / 2, width, CV_8UC1);
  cv::resize(f.y, i420.rowRange(0, height), {width, height}, 0, 0, cv::INTER_AREA);
  const size_t quarter = size_t(width / 2) * size_t(height / 2);
  cv::Mat u(height / 2, width / 2, CV_8UC1, i420.ptr(height));
  cv::Mat v(height / 2, width / 2, CV_8UC1, i420.ptr(height) + quarter);
  cv::resize(f.u, u, u.size(), 0, 0, cv::INTER_AREA);
  cv::resize(f.v, v, v.size(), 0, 0, cv::INTER_AREA);
  return i420;
}

namespace {

constexpr GstClockTime kPullTimeout = 100 * GST_MSECOND;

std::string converter() {
  // On a Jetson the decoder hands out NVMM buffers that only nvvidconv reads.
  return has_element("nvvidconv") ? "nvvidconv" : "videoconvert";
}

// A sometimes-pad of `from` that carries video is linked to `to`'s sink pad.
struct DynamicLink {
  std::string from;
  std::string to;
};

struct Description {
  std::string text;
  std::vector<DynamicLink> links;
};

Result<Description> describe(const Source& s, const ReaderOptions& o) {
  const std::string tail = converter() + " name=entry ! video/x-raw,format=I420 ! appsink name=sink";
  Description d;
  switch (s.kind) {
    case Source::Kind::kFile:
      if (o.keyframes_only) {
        // parse, then let only I-frames through to the decoder
        d.text = "filesrc name=src ! parsebin name=parse  identity name=gate drop-buffer-flags=delta-unit "
                 "! decodebin name=dec  " + tail;
        d.links = {{"parse", "gate"}, {"dec", "entry"}};
      } else {
        d.text = "filesrc name=src ! decodebin name=dec  " + tail;
        d.links = {{"dec", "entry"}};
      }
      return d;
    case Source::Kind::kSegments:
      return Status::Internal("a recording is read a segment at a time");
    case Source::Kind::kRtsp:
      if (o.keyframes_only) return Status::InvalidArgument(s.original + ": triage mode needs a file source");
      // uridecodebin wraps rtspsrc, which tries UDP and falls back to TCP.
      d.text = "uridecodebin name=dec  " + tail;
      d.links = {{"dec", "entry"}};
      return d;
    case Source::Kind::kV4l2:
      if (o.keyframes_only) return Status::InvalidArgument(s.original + ": triage mode needs a file source");
      d.text = "v4l2src name=src ! decodebin name=dec  " + tail;
      d.links = {{"dec", "entry"}};
      return d;
    case Source::Kind::kCsi: {
      if (o.keyframes_only) return Status::InvalidArgument(s.original + ": triage mode needs a file source");
      auto capture = csi_capture(s, installed_elements());
      if (!capture.ok()) return capture.status();
      d.text = *capture + " ! " + tail;
      return d;
    }
    case Source::Kind::kTest:
      if (o.keyframes_only) return Status::InvalidArgument(s.original + ": triage mode needs a file source");
      d.text = "videotestsrc name=src pattern=" + s.pattern + " num-buffers=" + std::to_string(s.frames) +
               " ! video/x-raw,width=" + std::to_string(s.width) + ",height=" + std::to_string(s.height) +
               ",framerate=" + std::to_string(s.fps) + "/1 ! " + tail;
      return d;
  }
  return Status::Internal("unknown source kind");
}

std::string find_decoder(GstElement* bin) {
  std::string found;
  IteratorPtr it(gst_bin_iterate_recurse(GST_BIN(bin)));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it.get(), &item) == GST_ITERATOR_OK) {
    auto* el = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(el);
    const gchar* klass = f ? gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS) : nullptr;
    if (klass && !GST_IS_BIN(el) && std::string(klass).find("Decoder") != std::string::npos && found.empty())
      found = GST_OBJECT_NAME(f);
    g_value_reset(&item);
  }
  g_value_unset(&item);
  return found;
}

}  // namespace

namespace {

// An error message that says a stream went nowhere ("reason not-linked").
bool not_linked(GstMessage* msg) {
  GError* raw_err = nullptr;
  gchar* raw_debug = nullptr;
  gst_message_parse_error(msg, &raw_err, &raw_debug);
  ErrorPtr err(raw_err);
  GCharPtr debug(raw_debug);
  return debug && std::string(debug.get()).find("not-linked") != std::string::npos;
}

}  // namespace

struct FrameReader::Impl {
  Source source;
  ReaderOptions options;
  Description description;
  std::vector<ElementPtr> link_targets;  // kept alive while signals may fire
  Pipeline pipeline;                     // declared last: stopped first
  ElementPtr sink;
  BusPtr bus;
  StreamInfo info;
  GstVideoInfo video_info{};  // layout of the frames of video_caps
  CapsPtr video_caps;         // the caps frames have now
  bool have_info = false;
  bool ended = false;
  int64_t counter = 0;
  int64_t dropped = 0;
  GstClockTime first_pts = GST_CLOCK_TIME_NONE;
  double last_t = -1.0;
  // recording://: each segment read in turn by its own file reader, its
  // frames numbered from the recording's first (segments start on I-frames,
  // so a frame's number in its segment is exact from its PTS).
  std::unique_ptr<FrameReader> part;
  size_t next_part = 0;
  int64_t part_base = 0;    // the open segment's first frame, in the recording
  double part_base_s = 0.0;

  ~Impl() { pipeline.stop(); }

  std::string where() const { return source.original; }

  // Pops bus messages; returns an error for an ERROR message.
  Status drain_bus() {
    while (MessagePtr msg{gst_bus_pop_filtered(bus.get(), GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))}) {
      if (GST_MESSAGE_TYPE(msg.get()) != GST_MESSAGE_ERROR) continue;
      // A demuxer whose streams nothing took, before any video came: the
      // file has no video (an audio-only MP4 said "Internal data stream error").
      if (!video_caps && not_linked(msg.get()))
        return Status::Unsupported(where() + ": no video stream in it (audio or data only?)");
      return Status::Corruption(where() + ": " + message_text(msg.get()));
    }
    return Status::Ok();
  }

  // Takes the frame layout, size and rate of new caps (the first frame's, or
  // a camera's after it changed resolution); the first time also the
  // duration and the decoder that was chosen.
  Status read_caps(GstCaps* caps) {
    if (!gst_video_info_from_caps(&video_info, caps))
      return Status::Internal(where() + ": decoder produced caps without video info");
    video_caps.reset(gst_caps_ref(caps));
    const GstVideoInfo& vi = video_info;
    info.width = GST_VIDEO_INFO_WIDTH(&vi);
    info.height = GST_VIDEO_INFO_HEIGHT(&vi);
    info.fps = GST_VIDEO_INFO_FPS_D(&vi) > 0 ? double(GST_VIDEO_INFO_FPS_N(&vi)) / GST_VIDEO_INFO_FPS_D(&vi) : 0.0;
    if (source.kind == Source::Kind::kTest) info.fps = source.fps;
    if (have_info) return Status::Ok();
    gint64 duration = 0;
    if (!source.is_live() && gst_element_query_duration(pipeline.get(), GST_FORMAT_TIME, &duration) && duration > 0)
      info.duration_s = double(duration) / GST_SECOND;
    info.decoder = find_decoder(pipeline.get());
    have_info = true;
    return Status::Ok();
  }

  Result<std::optional<DecodedFrame>> make_frame(SamplePtr sample) {
    GstBuffer* buffer = gst_sample_get_buffer(sample.get());
    GstCaps* caps = gst_sample_get_caps(sample.get());
    if (!video_caps || (caps != video_caps.get() && !gst_caps_is_equal(caps, video_caps.get()))) {
      if (Status st = read_caps(caps); !st.ok()) return st;
    }
    const GstVideoInfo& vi = video_info;
    DecodedFrame out;
    out.mapping_ = std::make_unique<DecodedFrame::Mapping>();
    auto& m = *out.mapping_;
    if (!gst_video_frame_map(&m.frame, &vi, buffer, GST_MAP_READ))
      return Status::Internal(where() + ": cannot map a decoded frame");
    m.mapped = true;
    const int w = GST_VIDEO_INFO_WIDTH(&vi), h = GST_VIDEO_INFO_HEIGHT(&vi);
    auto plane = [&](int i, int pw, int ph) {
      return cv::Mat(ph, pw, CV_8UC1, GST_VIDEO_FRAME_PLANE_DATA(&m.frame, i),
                     size_t(GST_VIDEO_FRAME_PLANE_STRIDE(&m.frame, i)));
    };
    out.y = plane(0, w, h);
    out.u = plane(1, (w + 1) / 2, (h + 1) / 2);
    out.v = plane(2, (w + 1) / 2, (h + 1) / 2);

    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    if (GST_CLOCK_TIME_IS_VALID(pts)) {
      if (!GST_CLOCK_TIME_IS_VALID(first_pts)) first_pts = pts;
      out.pts_ns = int64_t(pts);
      out.t_s = pts >= first_pts ? double(pts - first_pts) / GST_SECOND : 0.0;
    } else {
      out.t_s = info.fps > 0 ? counter / info.fps : double(counter);
    }
    out.index = info.fps > 0 ? std::llround(out.t_s * info.fps) : counter;
    if (source.is_live() && info.fps > 0 && last_t >= 0) {
      const double gap_frames = (out.t_s - last_t) * info.fps;
      if (gap_frames > 1.5) dropped += std::llround(gap_frames) - 1;
    }
    last_t = out.t_s;
    ++counter;
    m.sample = std::move(sample);
    return std::optional<DecodedFrame>(std::move(out));
  }

  Status open_next_part() {
    Source p;
    p.kind = Source::Kind::kFile;
    p.location = source.parts[next_part];
    p.original = source.original + " (" + p.location + ")";
    auto opened = FrameReader::open(p, options);
    if (!opened.ok()) return opened.status();
    part = std::move(opened.value());
    ++next_part;
    return Status::Ok();
  }

  // A camera's frames are analysed by their own RTP timestamps: the jitter
  // buffer's default (slave to the sender's clock, skew-corrected on arrival)
  // moves each frame's time by the network's jitter, so live and file
  // analysis of the same frames would number and choose them differently.
  static void rtsp_source_setup(GstElement* /*uridecodebin*/, GstElement* source, gpointer /*unused*/) {
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(source), "buffer-mode"))
      gst_util_set_object_arg(G_OBJECT(source), "buffer-mode", "none");
  }

  Result<std::optional<DecodedFrame>> next_of_recording() {
    for (;;) {
      if (!part) {
        if (next_part == source.parts.size()) {
          ended = true;
          if (!have_info) return Status::Corruption(where() + ": no video frame could be decoded");
          return std::optional<DecodedFrame>();
        }
        if (!source.part_frames.empty() && source.part_frames[next_part] == 0) {  // a segment cut off before its first frame
          ++next_part;
          continue;
        }
        if (Status st = open_next_part(); !st.ok()) {
          ended = true;
          return st;
        }
      }
      auto frame = part->next();
      if (!frame.ok()) {
        ended = true;
        return frame.status();
      }
      if (*frame) return adopt(std::move(**frame));
      // The segment ended: the next one starts where the catalog says it does.
      const Impl& done = *part->impl_;
      const int64_t frames = source.part_frames.empty() ? done.counter : source.part_frames[next_part - 1];
      part_base += frames;
      part_base_s += info.fps > 0 ? frames / info.fps : std::max(0.0, done.last_t);
      dropped += done.dropped;
      part.reset();
    }
  }

  // A segment's frame, renumbered from the recording's start.
  Result<std::optional<DecodedFrame>> adopt(DecodedFrame f) {
    const StreamInfo& in = part->info();
    if (!have_info) {
      info = in;
      if (!source.part_frames.empty() && in.fps > 0) {
        int64_t total = 0;
        for (int64_t n : source.part_frames) total += n;
        info.duration_s = total / in.fps;
      } else {
        info.duration_s = -1;
      }
      have_info = true;
    }
    info.width = in.width;
    info.height = in.height;
    f.index += part_base;
    f.t_s += part_base_s;
    last_t = f.t_s;
    ++counter;
    return std::optional<DecodedFrame>(std::move(f));
  }

  Status check_complete() const {
    // A file whose decode stops well short of the duration its container
    // declares was cut off (a dump interrupted, a copy that did not finish).
    if (!have_info) return Status::Corruption(where() + ": no video frame could be decoded");
    if (source.kind != Source::Kind::kFile || options.keyframes_only || info.duration_s <= 0) return Status::Ok();
    const double frame = info.fps > 0 ? 1.0 / info.fps : 0.0;
    const double tolerance = std::max(1.0, 3 * frame);
    if (last_t + frame < info.duration_s - tolerance) {
      char buf[160];
      std::snprintf(buf, sizeof buf, ": truncated: decoded %.2f s of the %.2f s its container declares",
                    last_t + frame, info.duration_s);
      return Status::Corruption(where() + buf);
    }
    return Status::Ok();
  }
};

FrameReader::FrameReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrameReader::~FrameReader() = default;

Result<std::unique_ptr<FrameReader>> FrameReader::open(const Source& source, const ReaderOptions& options) {
  ensure_gst_init();
  // One reader per segment rather than splitmuxsrc: it joins TS segments
  // with a few frames' slack at each seam (its part durations overshoot),
  // so frame numbers drifted from the recording's as segments went by.
  if (source.kind == Source::Kind::kSegments) {
    if (source.parts.empty()) return Status::NotFound(source.original + ": no recorded segments");
    if (!source.part_frames.empty() && source.part_frames.size() != source.parts.size())
      return Status::InvalidArgument(source.original + ": a frame count for every segment, or none");
    if (options.keyframes_only && source.part_frames.empty())
      return Status::InvalidArgument(source.original + ": triage needs each segment's frame count");
    auto impl = std::make_unique<Impl>();
    impl->source = source;
    impl->options = options;
    Source first;  // for the description; the segments are opened as they come
    first.kind = Source::Kind::kFile;
    auto desc = describe(first, options);
    if (!desc.ok()) return desc.status();
    impl->description.text = "each segment in turn: " + desc->text;
    return std::unique_ptr<FrameReader>(new FrameReader(std::move(impl)));
  }
  auto desc = describe(source, options);
  if (!desc.ok()) return desc.status();
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->options = options;
  impl->description = std::move(desc.value());

  GError* raw_err = nullptr;
  ElementPtr element(gst_parse_launch(impl->description.text.c_str(), &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err) {
    return Status::Unsupported(source.original + ": cannot build pipeline '" + impl->description.text +
                               "': " + (err ? err->message : "unknown error"));
  }
  if (element) gst_object_ref_sink(element.get());
  impl->pipeline = Pipeline(std::move(element));

  if (auto src = impl->pipeline.child("src")) {
    if (source.kind == Source::Kind::kFile || source.kind == Source::Kind::kV4l2) {
      g_object_set(src.get(), source.kind == Source::Kind::kFile ? "location" : "device", source.location.c_str(),
                   nullptr);
    }
  }
  if (source.kind == Source::Kind::kRtsp) {
    g_object_set(impl->pipeline.child("dec").get(), "uri", source.location.c_str(), nullptr);
    g_signal_connect(impl->pipeline.child("dec").get(), "source-setup", G_CALLBACK(Impl::rtsp_source_setup), nullptr);
  }
  for (const auto& link : impl->description.links) {
    ElementPtr from = impl->pipeline.child(link.from.c_str());
    ElementPtr to = impl->pipeline.child(link.to.c_str());
    link_video_pad_when_added(from.get(), to.get());
    impl->link_targets.push_back(std::move(to));
  }
  impl->sink = impl->pipeline.child("sink");
  const bool live = source.is_live();
  g_object_set(impl->sink.get(), "max-buffers", guint(std::max(1, options.max_queued)), "drop", gboolean(live),
               "sync", FALSE, nullptr);
  impl->bus = impl->pipeline.bus();

  if (gst_element_set_state(impl->pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    Status st = impl->drain_bus();
    return st.ok() ? Status::IOError(source.original + ": cannot start pipeline") : st;
  }
  return std::unique_ptr<FrameReader>(new FrameReader(std::move(impl)));
}

Result<std::optional<DecodedFrame>> FrameReader::next() {
  Impl& d = *impl_;
  if (d.ended) return std::optional<DecodedFrame>();
  if (d.source.kind == Source::Kind::kSegments) return d.next_of_recording();
  auto* appsink = GST_APP_SINK(d.sink.get());
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    SamplePtr sample(gst_app_sink_try_pull_sample(appsink, kPullTimeout));
    if (sample) return d.make_frame(std::move(sample));
    if (Status st = d.drain_bus(); !st.ok()) {
      d.ended = true;
      return st;
    }
    if (gst_app_sink_is_eos(appsink)) {
      d.ended = true;
      if (Status st = d.check_complete(); !st.ok()) return st;
      return std::optional<DecodedFrame>();
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (d.source.is_live() && waited > d.options.live_timeout_s) {
      d.ended = true;
      return Status::IOError(d.where() + ": no frame for " + std::to_string(int(waited)) + " s");
    }
  }
}

const StreamInfo& FrameReader::info() const { return impl_->info; }
int64_t FrameReader::dropped() const { return impl_->dropped; }
const std::string& FrameReader::description() const { return impl_->description.text; }

}  // namespace dashloop::pipeline::media
