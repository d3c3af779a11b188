#include "media/encoder.hpp"

#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <cstring>
#include <mutex>
#include <set>

#include "media/gst.hpp"

namespace dashloop::pipeline::media {

struct H264Writer::Impl {
  std::filesystem::path out;
  Pipeline pipeline;
  ElementPtr src;
  BusPtr bus;
  size_t frame_bytes = 0;  // of a tightly packed I420 frame, as push() takes it
  GstVideoInfo info{};     // as GStreamer lays it out: rows padded to 4 bytes (a 1242-px frame's chroma rows are 624)
  // PTS of the frames to make keyframes: a probe on appsrc's pad, in the
  // streaming thread, puts a "key unit now" event right before each one
  // (an event with a running time would meet the encoder's own 1000 h offset).
  std::mutex mutex;
  std::set<int64_t> keyframes;
  guint keyframes_forced = 0;

  static GstPadProbeReturn before_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer self) {
    auto& m = *static_cast<Impl*>(self);
    GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    bool key = false;
    {
      std::lock_guard lock(m.mutex);
      key = m.keyframes.erase(int64_t(GST_BUFFER_PTS(buffer))) > 0;
    }
    if (key)
      gst_pad_push_event(pad, gst_video_event_new_downstream_force_key_unit(GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
                                                                            GST_CLOCK_TIME_NONE, TRUE, ++m.keyframes_forced));
    return GST_PAD_PROBE_OK;
  }
};

H264Writer::~H264Writer() = default;

Result<KeyedEncoder> keyed_h264_encoder(const ElementSet& has, int quality) {
  const std::string never = "100000";  // frames: no keyframe of the encoder's own choosing
  if (has("nvv4l2h264enc") && has("nvvidconv"))
    return KeyedEncoder{"nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! nvv4l2h264enc name=enc iframeinterval=" +
                            never + " idrinterval=" + never + " insert-sps-pps=true",
                        "nvv4l2h264enc"};
  if (has("x264enc"))
    return KeyedEncoder{"x264enc name=enc tune=zerolatency speed-preset=veryfast pass=qual quantizer=" +
                            std::to_string(quality) + " key-int-max=" + never + " bframes=0 option-string=scenecut=0",
                        "x264enc"};
  if (has("openh264enc"))
    return KeyedEncoder{"openh264enc name=enc gop-size=" + never + " scene-change-detection=false", "openh264enc"};
  return Status::Unsupported("no H.264 encoder to re-encode with: nvv4l2h264enc (Jetson), x264enc "
                             "(gstreamer1.0-plugins-ugly) or openh264enc");
}

Result<std::unique_ptr<H264Writer>> H264Writer::open(const std::filesystem::path& out, const EncoderOptions& o) {
  ensure_gst_init();
  if (o.width <= 0 || o.height <= 0 || o.width % 2 || o.height % 2)
    return Status::InvalidArgument(out.string() + ": frames of " + std::to_string(o.width) + "x" +
                                   std::to_string(o.height) + " cannot be encoded (even sizes only)");
  int num = 0, den = 1;
  gst_util_double_to_fraction(o.fps > 0 ? o.fps : 30.0, &num, &den);
  const std::string caps = "video/x-raw,format=I420,width=" + std::to_string(o.width) + ",height=" +
                           std::to_string(o.height) + ",framerate=" + std::to_string(num) + "/" + std::to_string(den);
  // Keyframes come only where push() asks for them (forced key units): the
  // encoder's own GOP and scene-cut decisions are turned off, and so is its
  // lookahead (zerolatency): a request still pending when the next arrives
  // is merged into it, and two keyframes 3 frames apart would become one.
  auto encode = keyed_h264_encoder(o.elements, o.quality);
  if (!encode.ok()) return Status::Unsupported(out.string() + ": " + encode.status().message());
  const std::string description = "appsrc name=src format=time block=true max-bytes=" +
                                  std::to_string(size_t(o.width) * size_t(o.height) * 3) + " caps=\"" + caps +
                                  "\" ! " + encode->description + " ! h264parse ! mp4mux faststart=true ! filesink name=out";
  GError* raw_err = nullptr;
  ElementPtr element(gst_parse_launch(description.c_str(), &raw_err));
  ErrorPtr err(raw_err);
  if (!element || err)
    return Status::Unsupported(out.string() + ": cannot build the encoder (" + (err ? err->message : description) + ")");
  gst_object_ref_sink(element.get());
  std::unique_ptr<H264Writer> w(new H264Writer());
  w->impl_ = std::make_unique<Impl>();
  w->encoder_ = encode->element;
  Impl& m = *w->impl_;
  m.out = out;
  m.pipeline = Pipeline(std::move(element));
  g_object_set(m.pipeline.child("out").get(), "location", out.c_str(), nullptr);
  m.src = m.pipeline.child("src");
  m.bus = m.pipeline.bus();
  m.frame_bytes = size_t(o.width) * size_t(o.height) * 3 / 2;
  gst_video_info_set_format(&m.info, GST_VIDEO_FORMAT_I420, guint(o.width), guint(o.height));
  {
    GstPad* pad = gst_element_get_static_pad(m.src.get(), "src");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, &Impl::before_buffer, &m, nullptr);
    gst_object_unref(pad);
  }
  if (gst_element_set_state(m.pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return bus_error_or(m.bus.get(), out.string(), "cannot start the encoder");
  return w;
}

Status H264Writer::push(const cv::Mat& i420, int64_t pts_ns, int64_t duration_ns, bool keyframe) {
  Impl& m = *impl_;
  if (!i420.isContinuous() || i420.total() * i420.elemSize() != m.frame_bytes)
    return Status::InvalidArgument(m.out.string() + ": a frame of the wrong size for the encoder");
  if (keyframe) {
    std::lock_guard lock(m.mutex);
    m.keyframes.insert(pts_ns);
  }
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&m.info), nullptr);
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &m.info, buffer, GST_MAP_WRITE)) {
    gst_buffer_unref(buffer);
    return Status::Internal(m.out.string() + ": cannot map a frame for the encoder");
  }
  // Plane by plane, row by row: the caps' strides, not the packed ones.
  const size_t w = size_t(GST_VIDEO_INFO_WIDTH(&m.info)), h = size_t(GST_VIDEO_INFO_HEIGHT(&m.info));
  const uint8_t* from = i420.data;
  for (guint p = 0; p < 3; ++p) {
    const size_t pw = p ? w / 2 : w, ph = p ? h / 2 : h;
    auto* to = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, p));
    const size_t stride = size_t(GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p));
    for (size_t row = 0; row < ph; ++row, from += pw) std::memcpy(to + row * stride, from, pw);
  }
  gst_video_frame_unmap(&frame);
  GST_BUFFER_PTS(buffer) = GstClockTime(pts_ns);
  GST_BUFFER_DTS(buffer) = GstClockTime(pts_ns);
  GST_BUFFER_DURATION(buffer) = GstClockTime(duration_ns);
  if (gst_app_src_push_buffer(GST_APP_SRC(m.src.get()), buffer) != GST_FLOW_OK)
    return bus_error_or(m.bus.get(), m.out.string(), "push refused");
  if (MessagePtr msg{gst_bus_pop_filtered(m.bus.get(), GST_MESSAGE_ERROR)})
    return Status::IOError(m.out.string() + ": " + message_text(msg.get()));
  return Status::Ok();
}

Status H264Writer::finish() {
  Impl& m = *impl_;
  gst_app_src_end_of_stream(GST_APP_SRC(m.src.get()));
  if (Status st = wait_for_eos(m.bus.get(), m.out.string(), 300, "the encoder did not finish in 300 s"); !st.ok())
    return st;
  m.pipeline.stop();
  return Status::Ok();
}

}  // namespace dashloop::pipeline::media
