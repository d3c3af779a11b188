#include "media/cutter.hpp"

#include <gst/app/gstappsrc.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "media/encoder.hpp"
#include "media/frame_reader.hpp"
#include "media/gst.hpp"
#include "media/packets.hpp"

namespace dashloop::pipeline::media {
namespace {

// Timestamps in different containers of the same stream differ by rounding.
constexpr int64_t kTolerance = GST_MSECOND;

// Whether `now` describes another stream than `before` for a muxer: its
// codec data (SPS/PPS), its size or its codec.
bool changes_stream(const GstCaps* before, const GstCaps* now) {
  const GstStructure* a = gst_caps_get_structure(before, 0);
  const GstStructure* b = gst_caps_get_structure(now, 0);
  if (!gst_structure_has_name(b, gst_structure_get_name(a))) return true;
  for (const char* field : {"codec_data", "width", "height"}) {
    const GValue* x = gst_structure_get_value(a, field);
    const GValue* y = gst_structure_get_value(b, field);
    if ((x == nullptr) != (y == nullptr)) return true;
    if (x && gst_value_compare(x, y) != GST_VALUE_EQUAL) return true;
  }
  return false;
}

class Mp4Writer {
 public:
  static Result<Mp4Writer> open(const std::filesystem::path& out) {
    ensure_gst_init();
    GError* raw_err = nullptr;
    ElementPtr element(gst_parse_launch(
        "appsrc name=src format=time block=true max-bytes=4000000 ! mux.video_0  "
        "mp4mux name=mux faststart=true ! filesink name=out",
        &raw_err));
    ErrorPtr err(raw_err);
    if (!element || err) return Status::Unsupported(out.string() + ": cannot build the MP4 writer");
    gst_object_ref_sink(element.get());
    Mp4Writer w;
    w.out_ = out;
    w.pipeline_ = Pipeline(std::move(element));
    g_object_set(w.pipeline_.child("out").get(), "location", out.c_str(), nullptr);
    w.src_ = w.pipeline_.child("src");
    w.bus_ = w.pipeline_.bus();
    if (gst_element_set_state(w.pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      return Status::IOError(out.string() + ": cannot start the MP4 writer");
    return w;
  }

  Status push(const Packet& p, int64_t pts, int64_t dts, int64_t duration) {
    GstCaps* caps = gst_sample_get_caps(p.sample.get());
    // New parameter sets or a new size mid-span (a dashcam that changed
    // its bitrate or resolution mode, files joined end to end): mp4mux
    // cannot carry them in one track. kUnsupported tells the caller to
    // re-encode the span, as for a codec MP4 cannot carry.
    if (caps_ && changes_stream(caps_.get(), caps))
      return Status::Unsupported(out_.string() + ": the stream's parameters change inside the clip (new SPS/PPS or "
                                 "size); it cannot be cut without re-encoding");
    if (!caps_ || !gst_caps_is_equal(caps_.get(), caps)) {
      caps_.reset(gst_caps_ref(caps));
      gst_app_src_set_caps(GST_APP_SRC(src_.get()), caps);
    }
    GstBuffer* copy = gst_buffer_copy(gst_sample_get_buffer(p.sample.get()));  // shares the memory
    GST_BUFFER_PTS(copy) = GstClockTime(pts);
    GST_BUFFER_DTS(copy) = GstClockTime(dts);
    GST_BUFFER_DURATION(copy) = GstClockTime(duration);
    if (gst_app_src_push_buffer(GST_APP_SRC(src_.get()), copy) != GST_FLOW_OK)
      return bus_error_or(bus_.get(), out_.string(), "push refused");
    return Status::Ok();
  }

  // Ends the stream and waits until the file is complete.
  Status finish() {
    gst_app_src_end_of_stream(GST_APP_SRC(src_.get()));
    if (Status st = wait_for_eos(bus_.get(), out_.string(), 120, "the MP4 writer did not finish"); !st.ok()) return st;
    pipeline_.stop();
    return Status::Ok();
  }

 private:

  std::filesystem::path out_;
  Pipeline pipeline_;
  ElementPtr src_;
  BusPtr bus_;
  CapsPtr caps_;
};

Result<CutResult> cut(const CutRequest& request, const std::filesystem::path& out_mp4) {
  if (request.segments.empty()) return Status::InvalidArgument(out_mp4.string() + ": a cut needs segments");
  auto writer = Mp4Writer::open(out_mp4);
  if (!writer.ok()) return writer.status();

  CutResult result;
  int64_t frame_ns = 0;
  int64_t next_dts = 0;  // where the next segment's first packet goes
  int64_t last_dts = -1;
  bool started = false;
  for (size_t i = 0; i < request.segments.size(); ++i) {
    const auto& file = request.segments[i];
    const bool first = i == 0;
    const bool last = i + 1 == request.segments.size();
    auto reader = PacketReader::open(file);
    if (!reader.ok()) return reader.status();
    // An index lets the demuxer skip what precedes the span; a demuxer
    // without one may land late, and then the segment is read from its start.
    bool verify_seek = first && request.start_pts > 0 && (*reader)->seek(request.start_pts).ok();
    int64_t origin = -1;  // this segment's first packet's DTS
    for (;;) {
      auto packet = (*reader)->next();
      if (!packet.ok()) return packet.status();
      if (verify_seek) {
        verify_seek = false;
        if (!*packet || (**packet).pts > request.start_pts + kTolerance) {
          reader = PacketReader::open(file);
          if (!reader.ok()) return reader.status();
          continue;
        }
      }
      if (!*packet) break;
      const Packet& p = **packet;
      if (result.codec.empty()) {
        const VideoFormat f = video_format(p);
        result.codec = f.codec;
        result.width = f.width;
        result.height = f.height;
        result.fps = f.fps;
        frame_ns = f.frame_ns;
      }
      if (!started) {
        if (!(p.keyframe && std::llabs(p.pts - request.start_pts) <= kTolerance)) continue;
        started = true;
      }
      if (last && request.end_pts && p.keyframe && p.pts >= *request.end_pts - kTolerance) break;
      if (p.pts < 0) return Status::Unsupported(file.string() + ": packets without timestamps; cannot cut");
      if (origin < 0) origin = p.dts;
      const int64_t dts = p.dts - origin + next_dts;
      const int64_t pts = p.pts - origin + next_dts;
      if (last_dts >= 0 && frame_ns == 0) frame_ns = dts - last_dts;
      last_dts = dts;
      if (Status st = writer->push(p, pts, dts, frame_ns); !st.ok()) return st;
      result.frames.push_back({int(i), p.pts});
    }
    if (!started)
      return Status::NotFound(file.string() + ": no keyframe at " + std::to_string(double(request.start_pts) / 1e9) +
                              " s to start the clip at");
    next_dts = last_dts + std::max<int64_t>(frame_ns, 1);
  }
  if (result.frames.empty()) return Status::InvalidArgument(out_mp4.string() + ": the span holds no frames");
  if (Status st = writer->finish(); !st.ok()) return st;
  std::sort(result.frames.begin(), result.frames.end(),
            [](const CutFrame& a, const CutFrame& b) { return std::tie(a.segment, a.pts) < std::tie(b.segment, b.pts); });
  std::error_code ec;
  result.bytes = int64_t(std::filesystem::file_size(out_mp4, ec));
  return result;
}

Result<CutResult> reencode(const CutRequest& request, const std::filesystem::path& out_mp4, const ElementSet& has) {
  if (request.segments.empty()) return Status::InvalidArgument(out_mp4.string() + ": a clip needs segments");
  CutResult result;
  std::unique_ptr<H264Writer> writer;
  int64_t frame_ns = 0;
  int64_t next_key_ns = 0;
  int64_t offset_ns = 0;  // where this segment's first frame goes in the clip
  int64_t written_pts = -1;  // the clip's last frame so far
  for (size_t i = 0; i < request.segments.size(); ++i) {
    const auto& file = request.segments[i];
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return Status::NotFound(file.string() + ": no such file");
    Source source;
    source.kind = Source::Kind::kFile;
    source.original = source.location = file.string();
    auto reader = FrameReader::open(source, ReaderOptions{});
    if (!reader.ok()) return reader.status();
    const bool last = i + 1 == request.segments.size();
    int64_t origin = -1, last_pts = -1;
    for (;;) {
      auto frame = (*reader)->next();
      if (!frame.ok()) return frame.status();
      if (!*frame) break;
      const DecodedFrame& f = **frame;
      if (f.pts_ns < 0) return Status::Unsupported(file.string() + ": frames without timestamps; cannot re-encode");
      // Decoded in presentation order: what precedes the span is skipped,
      // its end ends it.
      if (i == 0 && f.pts_ns < request.start_pts - kTolerance) continue;
      if (last && request.end_pts && f.pts_ns >= *request.end_pts - kTolerance) break;
      if (!writer) {
        const StreamInfo& info = (*reader)->info();
        EncoderOptions o;
        o.width = info.width & ~1;
        o.height = info.height & ~1;
        o.fps = info.fps > 0 ? info.fps : 30.0;
        o.elements = has;
        frame_ns = int64_t(std::llround(1e9 / o.fps));
        auto opened = H264Writer::open(out_mp4, o);
        if (!opened.ok()) return opened.status();
        writer = std::move(opened.value());
        result.codec = "video/x-h264";
        result.width = o.width;
        result.height = o.height;
        result.fps = info.fps;
      }
      if (origin < 0) origin = f.pts_ns;
      // Encodes joined end to end can overlap in time at the join (the
      // second's B-frames start before the first's last frame): the clip's
      // own times always go forward, or mp4mux refuses the stream. Each
      // frame still maps to its source frame by the source's time.
      int64_t pts = f.pts_ns - origin + offset_ns;
      if (written_pts >= 0) pts = std::max(pts, written_pts + std::max<int64_t>(frame_ns, 1));
      written_pts = pts;
      // A keyframe a second, as the recorder's encoder makes them.
      const bool key = result.frames.empty() || pts >= next_key_ns;
      if (key) next_key_ns = pts + GST_SECOND;
      // After a change of size mid-span the frames are scaled to the
      // clip's first size (its boxes then need the same scale: kept rare).
      const bool same_size = (f.y.cols & ~1) == result.width && (f.y.rows & ~1) == result.height;
      const cv::Mat i420 = same_size ? copy_i420(f) : resized_i420(f, result.width, result.height);
      if (Status st = writer->push(i420, pts, frame_ns, key); !st.ok()) return st;
      result.frames.push_back({int(i), f.pts_ns});
      last_pts = pts;
    }
    if (last_pts >= 0) offset_ns = last_pts + frame_ns;
  }
  if (!writer) return Status::InvalidArgument(out_mp4.string() + ": the span holds no frames");  // opened at its first frame
  if (Status st = writer->finish(); !st.ok()) return st;
  std::error_code ec;
  result.bytes = int64_t(std::filesystem::file_size(out_mp4, ec));
  return result;
}

// Never a partial clip.
Result<CutResult> removed_unless_ok(Result<CutResult> result, const std::filesystem::path& out_mp4) {
  if (!result.ok()) {
    std::error_code ec;
    std::filesystem::remove(out_mp4, ec);
  }
  return result;
}

}  // namespace

Result<CutResult> cut_clip(const CutRequest& request, const std::filesystem::path& out_mp4) {
  return removed_unless_ok(cut(request, out_mp4), out_mp4);
}

Result<CutResult> reencode_clip(const CutRequest& request, const std::filesystem::path& out_mp4, const ElementSet& has) {
  return removed_unless_ok(reencode(request, out_mp4, has), out_mp4);
}

}  // namespace dashloop::pipeline::media
