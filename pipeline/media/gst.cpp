#include "media/gst.hpp"

namespace dashloop::pipeline::media {

void ensure_gst_init() {
  if (!gst_is_initialized()) gst_init(nullptr, nullptr);
}

bool has_element(const char* factory_name) {
  ensure_gst_init();
  FactoryPtr f(gst_element_factory_find(factory_name));
  return f != nullptr;
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
      {"videotestsrc", "test:// sources", true, false},
      {"v4l2src", "V4L2 cameras", false, false},
      {"nvv4l2decoder", "Jetson hardware decoding", false, false},
      {"nvvidconv", "Jetson NVMM to system memory", false, false},
      {"nvarguscamerasrc", "Jetson CSI cameras", false, false},
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
