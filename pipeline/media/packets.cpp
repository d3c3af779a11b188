#include "media/packets.hpp"

#include <gst/app/gstappsink.h>

#include <algorithm>
#include <cmath>

namespace dashloop::pipeline::media {
namespace {

constexpr GstClockTime kPullTimeout = 100 * GST_MSECOND;
// A file that yields nothing for this long is stuck (a parser waiting forever).
constexpr int kMaxIdlePulls = 100;

// What mp4mux takes; the parser inside parsebin converts to it.
constexpr const char* kSinkCaps =
    "video/x-h264,stream-format=avc,alignment=au; video/x-h265,stream-format=hvc1,alignment=au; "
    "video/x-h265,stream-format=hev1,alignment=au; video/mpeg,mpegversion=4,systemstream=false; video/x-vp9; "
    "video/x-av1";

}  // namespace

struct PacketReader::Impl {
  std::filesystem::path file;
  Pipeline pipeline;
  ElementPtr parse;
  ElementPtr sink;
  BusPtr bus;
  bool any_codec = false;
  bool ended = false;

  std::string where() const { return file.string(); }

  // The stream is one we cannot remux: parsebin exposed a video pad whose
  // caps the sink refuses (known as soon as the pad exists, linked or not).
  Status unsupported_codec() const {
    if (any_codec) return Status::Ok();
    CapsPtr accepted(gst_caps_from_string(kSinkCaps));
    IteratorPtr pads(gst_element_iterate_src_pads(parse.get()));
    GValue item = G_VALUE_INIT;
    std::string refused;
    while (refused.empty() && gst_iterator_next(pads.get(), &item) == GST_ITERATOR_OK) {
      CapsPtr caps(gst_pad_query_caps(GST_PAD(g_value_get_object(&item)), nullptr));
      g_value_reset(&item);
      if (!caps || gst_caps_is_empty(caps.get())) continue;
      const std::string name = gst_structure_get_name(gst_caps_get_structure(caps.get(), 0));
      if (name.rfind("video/", 0) != 0 && name.rfind("image/", 0) != 0) continue;
      if (!gst_caps_can_intersect(caps.get(), accepted.get())) refused = name;
    }
    g_value_unset(&item);
    if (refused.empty()) return Status::Ok();
    return Status::Unsupported(where() + ": the video is " + refused +
                               "; clips are cut without re-encoding, which needs H.264 or H.265");
  }

  Status drain_bus() {
    MessagePtr msg{gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR)};
    if (!msg) return Status::Ok();
    if (Status st = unsupported_codec(); !st.ok()) return st;
    return Status::Corruption(where() + ": " + message_text(msg.get()));
  }
};

PacketReader::PacketReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PacketReader::~PacketReader() = default;

Result<std::unique_ptr<PacketReader>> PacketReader::open(const std::filesystem::path& file, bool any_codec) {
  ensure_gst_init();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return Status::NotFound(file.string() + ": no such file");
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->any_codec = any_codec;
  GError* raw_err = nullptr;
  ElementPtr element(gst_parse_launch("filesrc name=src ! parsebin name=parse  appsink name=sink sync=false", &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err) return Status::Unsupported(file.string() + ": cannot build parser pipeline");
  gst_object_ref_sink(element.get());
  impl->pipeline = Pipeline(std::move(element));
  g_object_set(impl->pipeline.child("src").get(), "location", file.c_str(), nullptr);
  impl->parse = impl->pipeline.child("parse");
  impl->sink = impl->pipeline.child("sink");
  g_object_set(impl->sink.get(), "max-buffers", guint(64), nullptr);
  if (!any_codec) {
    CapsPtr caps(gst_caps_from_string(kSinkCaps));
    g_object_set(impl->sink.get(), "caps", caps.get(), nullptr);
  }
  link_video_pad_when_added(impl->parse.get(), impl->sink.get());
  impl->bus = impl->pipeline.bus();
  if (gst_element_set_state(impl->pipeline.get(), GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    Status st = impl->drain_bus();
    return st.ok() ? Status::IOError(file.string() + ": cannot start parser pipeline") : st;
  }
  // Preroll, so that seek() has a stream to seek in. A stream the sink
  // refuses never prerolls, and may post no error: looked for between short
  // waits, not only after the whole 10 s (a refused codec took that long at
  // times, and it is what sends a clip to the re-encoder).
  for (int waited_ms = 0; waited_ms < 10000; waited_ms += 50) {
    if (gst_element_get_state(impl->pipeline.get(), nullptr, nullptr, 50 * GST_MSECOND) != GST_STATE_CHANGE_ASYNC)
      break;
    if (Status st = impl->drain_bus(); !st.ok()) return st;
    if (Status st = impl->unsupported_codec(); !st.ok()) return st;
  }
  if (Status st = impl->drain_bus(); !st.ok()) return st;
  if (gst_element_set_state(impl->pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    Status st = impl->drain_bus();
    return st.ok() ? Status::IOError(file.string() + ": cannot start parser pipeline") : st;
  }
  return std::unique_ptr<PacketReader>(new PacketReader(std::move(impl)));
}

Status PacketReader::seek(int64_t pts) {
  const auto flags = GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT | GST_SEEK_FLAG_SNAP_BEFORE);
  if (!gst_element_seek_simple(impl_->pipeline.get(), GST_FORMAT_TIME, flags, std::max<int64_t>(0, pts)))
    return Status::Unsupported(impl_->where() + ": cannot seek");
  return impl_->drain_bus();
}

Result<std::optional<Packet>> PacketReader::next() {
  Impl& d = *impl_;
  if (d.ended) return std::optional<Packet>();
  auto* appsink = GST_APP_SINK(d.sink.get());
  for (int idle = 0;; ++idle) {
    SamplePtr sample(gst_app_sink_try_pull_sample(appsink, kPullTimeout));
    if (sample) {
      GstBuffer* buffer = gst_sample_get_buffer(sample.get());
      Packet p;
      p.pts = GST_BUFFER_PTS_IS_VALID(buffer) ? int64_t(GST_BUFFER_PTS(buffer)) : -1;
      p.dts = GST_BUFFER_DTS_IS_VALID(buffer) ? int64_t(GST_BUFFER_DTS(buffer)) : p.pts;
      if (p.pts < 0) p.pts = p.dts;
      p.keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
      p.sample = std::move(sample);
      return std::optional<Packet>(std::move(p));
    }
    Status st = d.drain_bus();
    if (st.ok()) st = d.unsupported_codec();
    if (!st.ok()) {
      d.ended = true;
      return st;
    }
    if (gst_app_sink_is_eos(appsink)) {
      d.ended = true;
      return std::optional<Packet>();
    }
    if (idle >= kMaxIdlePulls) {
      d.ended = true;
      return Status::Corruption(d.where() + ": no video packets (not a video file, or no stream we can remux)");
    }
  }
}

VideoFormat video_format(const Packet& packet) {
  VideoFormat f;
  const GstStructure* s = gst_caps_get_structure(gst_sample_get_caps(packet.sample.get()), 0);
  f.codec = gst_structure_get_name(s);
  gst_structure_get_int(s, "width", &f.width);
  gst_structure_get_int(s, "height", &f.height);
  int num = 0, den = 0;
  if (gst_structure_get_fraction(s, "framerate", &num, &den) && num > 0 && den > 0) {
    f.fps = double(num) / den;
    f.frame_ns = int64_t(std::llround(1e9 * den / num));
  }
  return f;
}

int64_t frame_at(int64_t pts, const StreamIndex& index) {
  return index.fps > 0 ? std::llround(double(pts - index.first_pts) * index.fps / 1e9) : 0;
}

namespace {

Result<StreamIndex> index_of(const std::filesystem::path& file, bool any_codec) {
  auto reader = PacketReader::open(file, any_codec);
  if (!reader.ok()) return reader.status();
  StreamIndex index;
  index.remuxable = !any_codec;
  std::vector<int64_t> pts;
  std::vector<int64_t> key_pts;
  for (;;) {
    auto packet = (*reader)->next();
    if (!packet.ok()) return packet.status();
    if (!*packet) break;
    const Packet& p = **packet;
    if (index.codec.empty()) {
      const VideoFormat f = video_format(p);
      index.codec = f.codec;
      index.fps = f.fps;
    }
    if (p.pts < 0) return Status::Unsupported(file.string() + ": packets without timestamps; cannot index");
    pts.push_back(p.pts);
    if (p.keyframe) key_pts.push_back(p.pts);
  }
  if (pts.empty()) return Status::Corruption(file.string() + ": no video packets");
  std::sort(pts.begin(), pts.end());
  index.frames = int64_t(pts.size());
  index.first_pts = pts.front();
  const int64_t frame_ns = index.fps > 0 ? int64_t(std::llround(1e9 / index.fps))
                           : pts.size() > 1 ? (pts.back() - pts.front()) / int64_t(pts.size() - 1)
                                            : 0;
  index.duration_ns = pts.back() - pts.front() + frame_ns;
  // Frame numbers as the frame reader counts them (from PTS and fps), so
  // that they match the drive's analysed frames even across a PTS gap.
  for (int64_t k : key_pts) {
    const int64_t rank = std::lower_bound(pts.begin(), pts.end(), k) - pts.begin();
    index.keyframes.push_back({index.fps > 0 ? frame_at(k, index) : rank, k});
  }
  return index;
}

}  // namespace

Result<StreamIndex> index_stream(const std::filesystem::path& file) {
  auto index = index_of(file, false);
  // Not a codec MP4 can take (MJPEG, DivX): indexed as it is, for a re-encode.
  if (!index.ok() && index.status().kind() == Status::Kind::kUnsupported) return index_of(file, true);
  return index;
}

}  // namespace dashloop::pipeline::media
