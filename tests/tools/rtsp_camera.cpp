// A simulated IP camera for tests, benchmarks and the demo: gst-rtsp-server
// on loopback serving each file (H.264 in MP4) at rtsp://127.0.0.1:PORT/NAME,
// as a camera sends it (no re-encoding). Runs until killed.
//   dashloop-rtsp-camera --port 8554 road=drive_s1.mp4 [cabin=other.mp4 ...]
#include <gst/rtsp-server/rtsp-server.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {
struct Unref {
  void operator()(gpointer p) const { g_object_unref(p); }
};
struct LoopUnref {
  void operator()(GMainLoop* l) const { g_main_loop_unref(l); }
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"serve H.264 MP4 files as RTSP cameras on 127.0.0.1"};
  int port = 8554;
  std::vector<std::string> streams;
  app.add_option("--port", port, "TCP port")->check(CLI::Range(1, 65535));
  app.add_option("streams", streams, "NAME=FILE (H.264 in MP4), one per camera")->required();
  CLI11_PARSE(app, argc, argv);
  gst_init(nullptr, nullptr);
  std::unique_ptr<GstRTSPServer, Unref> server(gst_rtsp_server_new());
  gst_rtsp_server_set_address(server.get(), "127.0.0.1");
  gst_rtsp_server_set_service(server.get(), std::to_string(port).c_str());
  std::unique_ptr<GstRTSPMountPoints, Unref> mounts(gst_rtsp_server_get_mount_points(server.get()));
  for (const auto& s : streams) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "dashloop-rtsp-camera: '%s' is not NAME=FILE\n", s.c_str());
      return 2;
    }
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();  // floating: the mount points take it
    const std::string launch = "( filesrc location=\"" + s.substr(eq + 1) + "\" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )";
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, TRUE);  // one camera, many viewers
    gst_rtsp_mount_points_add_factory(mounts.get(), ("/" + s.substr(0, eq)).c_str(), factory);  // takes the factory
    std::printf("rtsp://127.0.0.1:%d/%s\n", port, s.substr(0, eq).c_str());
  }
  if (gst_rtsp_server_attach(server.get(), nullptr) == 0) {
    std::fprintf(stderr, "dashloop-rtsp-camera: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::fflush(stdout);
  std::unique_ptr<GMainLoop, LoopUnref> loop(g_main_loop_new(nullptr, FALSE));
  g_main_loop_run(loop.get());  // until killed
  return 0;
}
