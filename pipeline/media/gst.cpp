#include "media/gst.hpp"

#include <algorithm>
#include <mutex>

namespace dashloop::pipeline::media {

namespace {

// The plugins Dashloop's pipelines are made of (sources, demuxers, parsers,
// decoders and encoders, muxers, the Jetson's where present). Loading a
// plugin lazily while another thread builds a pipeline could find its
// elements missing ("no element filesrc"): a crash recovery then failed to
// read a sound segment. So they are all loaded once, before any pipeline.
constexpr const char* kPlugins[] = {
    "coreelements", "typefindfunctions", "playback", "app", "isomp4", "mpegtsdemux", "mpegtsmux",
    "videoparsersbad", "libav", "x264", "openh264", "videoconvertscale", "videoconvert", "videoscale",
    "videorate", "videotestsrc", "rtsp", "rtp", "rtpmanager", "udp", "tcp", "matroska", "avi", "jpeg",
    "video4linux2", "multifile", "audioparsers", "nvvideo4linux2", "nvvidconv", "nvarguscamerasrc"};

}  // namespace

void ensure_gst_init() {
  // gst_init is idempotent and locked; the plugin loading after it is done
  // by exactly one thread, the others wait for it.
  static std::once_flag once;
  std::call_once(once, [] {
    gst_init(nullptr, nullptr);
    GstRegistry* registry = gst_registry_get();
    for (const char* name : kPlugins) {
      PluginPtr plugin(gst_registry_find_plugin(registry, name));
      if (plugin) PluginPtr loaded(gst_plugin_load(plugin.get()));
    }
  });
}

bool has_element(const char* factory_name) {
  ensure_gst_init();
  FactoryPtr f(gst_element_factory_find(factory_name));
  return f != nullptr;
}

ElementSet installed_elements() {
  return [](const std::string& factory) { return has_element(factory.c_str()); };
}

Result<std::string> raw_to_h264(const ElementSet& has, int gop) {
  const std::string g = std::to_string(std::max(1, gop));
  if (has("nvv4l2h264enc") && has("nvvidconv"))
    return "nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! nvv4l2h264enc iframeinterval=" + g + " idrinterval=" + g +
           " insert-sps-pps=true";
  // 4:2:0 at 8 bits, what every decoder plays (a browser's included): left
  // to choose, x264enc takes the richest format offered (High 4:4:4, 10 bits).
  const std::string i420 = "videoconvert ! video/x-raw,format=I420 ! ";
  if (has("x264enc")) return i420 + "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=" + g;
  if (has("openh264enc")) return i420 + "openh264enc gop-size=" + g + " complexity=low";
  return Status::Unsupported("no H.264 encoder for a camera that sends raw frames: nvv4l2h264enc (Jetson), x264enc "
                             "(gstreamer1.0-plugins-ugly) or openh264enc");
}

Result<std::string> csi_capture(const Source& s, const ElementSet& has) {
  if (!has("nvarguscamerasrc"))
    return Status::Unsupported(s.original + ": a CSI camera needs nvarguscamerasrc (a Jetson with its camera stack)");
  return "nvarguscamerasrc name=src sensor-id=" + s.location + " ! video/x-raw(memory:NVMM),width=" +
         std::to_string(s.width) + ",height=" + std::to_string(s.height) + ",framerate=" + std::to_string(s.fps) + "/1";
}

namespace {

void on_pad_added(GstElement* /*element*/, GstPad* pad, gpointer user_data) {
  auto* target = static_cast<GstElement*>(user_data);
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  if (!caps || gst_caps_is_empty(caps.get())) return;
  const gchar* name = gst_structure_get_name(gst_caps_get_structure(caps.get(), 0));
  if (!g_str_has_prefix(name, "video/") && !g_str_equal(name, "image/jpeg")) return;  // audio, subtitles: not ours
  PadPtr sink(gst_element_get_static_pad(target, "sink"));
  if (!sink || gst_pad_is_linked(sink.get())) return;  // first video stream wins
  gst_pad_link(pad, sink.get());
}

}  // namespace

void link_video_pad_when_added(GstElement* from, GstElement* to) {
  g_signal_connect(from, "pad-added", G_CALLBACK(on_pad_added), to);
}

Status bus_error_or(GstBus* bus, const std::string& name, const std::string& otherwise) {
  if (MessagePtr msg{gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)})
    return Status::IOError(name + ": " + message_text(msg.get()));
  return Status::IOError(name + ": " + otherwise);
}

Status wait_for_eos(GstBus* bus, const std::string& name, int timeout_s, const std::string& if_late) {
  MessagePtr msg(gst_bus_timed_pop_filtered(bus, GstClockTime(timeout_s) * GST_SECOND,
                                            GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  if (!msg) return Status::IOError(name + ": " + if_late);
  if (GST_MESSAGE_TYPE(msg.get()) == GST_MESSAGE_ERROR) return Status::IOError(name + ": " + message_text(msg.get()));
  return Status::Ok();
}

std::string message_text(GstMessage* msg) {
  GError* raw_err = nullptr;
  gchar* raw_debug = nullptr;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) gst_message_parse_error(msg, &raw_err, &raw_debug);
  else gst_message_parse_warning(msg, &raw_err, &raw_debug);
  ErrorPtr err(raw_err);
  GCharPtr debug(raw_debug);
  std::string text = err ? err->message : "unknown error";
  if (GST_MESSAGE_SRC(msg)) {
    GCharPtr src_name(gst_object_get_name(GST_MESSAGE_SRC(msg)));
    text += std::string(" [") + (src_name ? src_name.get() : "?") + "]";
  }
  return text;
}

std::vector<ElementCheck> check_elements() {
  std::vector<ElementCheck> checks = {
      {"filesrc", "read files", true, false},
      {"decodebin", "pick a decoder for any container and codec", true, false},
      {"uridecodebin", "RTSP cameras", true, false},
      {"rtspsrc", "RTSP cameras (UDP, TCP fallback)", true, false},
      {"parsebin", "triage: parse without decoding", true, false},
      {"identity", "triage: drop delta frames before the decoder", true, false},
      {"qtdemux", "MP4", true, false},
      {"matroskademux", "MKV", true, false},
      {"tsdemux", "MPEG-TS", true, false},
      {"avidemux", "AVI", true, false},
      {"avdec_h264", "H.264 decoding", true, false},
      {"avdec_h265", "H.265 decoding", true, false},
      {"jpegdec", "MJPEG decoding", true, false},
      {"videoconvert", "frames to I420", true, false},
      {"appsink", "frames to the analysis", true, false},
      {"appsrc", "packets to the clip muxer", true, false},
      {"mp4mux", "clips: MP4 with faststart", true, false},
      {"splitmuxsink", "recording: fixed-length segments", true, false},
      {"mpegtsmux", "recording: crash-safe MPEG-TS segments", true, false},
      {"h264parse", "H.264 recording and cutting", true, false},
      {"h265parse", "H.265 recording and cutting", true, false},
      {"videotestsrc", "test:// sources", true, false},
      {"v4l2src", "V4L2 cameras", false, false},
      {"nvv4l2decoder", "Jetson hardware decoding", false, false},
      {"nvvidconv", "Jetson NVMM to system memory", false, false},
      {"nvarguscamerasrc", "Jetson CSI cameras", false, false},
      {"nvv4l2h264enc", "Jetson hardware encoding of raw cameras", false, false},
      {"x264enc", "encoding raw cameras elsewhere", false, false},
  };
  for (auto& c : checks) c.present = has_element(c.factory.c_str());
  return checks;
}

std::string gst_version() {
  ensure_gst_init();
  GCharPtr v(gst_version_string());
  return v ? v.get() : "GStreamer (unknown version)";
}

}  // namespace dashloop::pipeline::media
