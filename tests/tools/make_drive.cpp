// dashloop-make-drive: renders a deterministic synthetic dashcam drive with
// ground truth, encoded the way a dashcam does (H.264, no B-frames, 1 s GOP;
// H.265 and MJPEG on request).
//
// The drive is a script of shots over a textured street panorama the camera
// pans along (ego-motion), with cars and pedestrians crossing, sensor noise,
// and known events: hard cuts, a gradual dissolve, a 3-frame exposure flash,
// blurred frames, black frames and a long stationary stretch (a red light).
// The script repeats with new scenes to fill --seconds.
//
// Ground truth (JSON): every event with its frame numbers, for tests.
#include <gst/app/gstappsrc.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "media/gst.hpp"

namespace media = dashloop::pipeline::media;
using nlohmann::json;

namespace {

struct Options {
  std::string out;
  std::string truth;
  int width = 640;
  int height = 360;
  int fps = 30;
  double seconds = 40;
  unsigned seed = 1;
  std::string container = "mp4";
  std::string codec = "h264";
  int bitrate_kbps = 0;  // 0: about 10 Mbit/s at 1080p, scaled by pixels
  std::string preset = "veryfast";
  bool stamp = false;
  int bframes = 0;  // H.264 only; dashcams mostly use none
  int threads = 1;  // 1: the same bytes every run (x264 and x265 with threads are not repeatable)
};

// A street panorama: sky, facades with windows, pavement, asphalt, lane marks.
cv::Mat make_world(int w, int h, std::mt19937& rng) {
  std::uniform_int_distribution<int> c(40, 220);
  std::uniform_real_distribution<double> u(0, 1);
  cv::Mat world(h, w, CV_8UC3);
  const cv::Scalar sky(c(rng) / 2 + 130, c(rng) / 3 + 110, c(rng) / 4 + 70);
  world.setTo(sky);
  const int horizon = h * 45 / 100;
  for (int x = 0; x < w;) {
    const int bw = int(h * (0.15 + 0.35 * u(rng)));
    const int top = int(horizon * (0.1 + 0.7 * u(rng)));
    const cv::Scalar wall(c(rng), c(rng), c(rng));
    cv::rectangle(world, cv::Rect(x, top, bw, horizon - top + h / 10), wall, cv::FILLED);
    const int win = std::max(4, h / 40);
    for (int wy = top + win; wy < horizon; wy += 2 * win)
      for (int wx = x + win; wx + win < x + bw; wx += 2 * win)
        cv::rectangle(world, cv::Rect(wx, wy, win, win), u(rng) < 0.5 ? cv::Scalar(30, 30, 40) : cv::Scalar(200, 230, 240),
                      cv::FILLED);
    x += bw + int(h * 0.02 * u(rng));
  }
  const int road_top = horizon + h / 10;
  cv::rectangle(world, cv::Rect(0, road_top, w, h - road_top), cv::Scalar(90, 90, 95), cv::FILLED);
  cv::Mat grain(h - road_top, w, CV_8UC3);
  cv::randn(grain, cv::Scalar::all(0), cv::Scalar::all(14));
  cv::Mat road = world.rowRange(road_top, h);
  cv::add(road, grain, road);
  for (int x = 0; x < w; x += h / 2)
    cv::rectangle(world, cv::Rect(x, h * 8 / 10, h / 4, std::max(2, h / 60)), cv::Scalar(230, 230, 230), cv::FILLED);
  return world;
}

struct Mover {
  cv::Scalar color;
  double x0, y, vx, w, h;
};

struct Scene {
  cv::Mat world;
  std::vector<Mover> movers;
};

Scene make_scene(const Options& o, std::mt19937& rng, double world_seconds) {
  Scene s;
  const int extra = int(o.width * 0.12 * world_seconds) + o.width;  // room to pan
  s.world = make_world(o.width + extra, o.height, rng);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 3; ++i) {
    const bool person = i == 2;
    Mover m;
    m.color = cv::Scalar(50 + 200 * u(rng), 50 + 200 * u(rng), 50 + 200 * u(rng));
    m.h = o.height * (person ? 0.22 : 0.14);
    m.w = person ? m.h * 0.4 : m.h * 1.8;
    m.y = o.height * 0.78 - m.h;
    m.vx = (u(rng) < 0.5 ? -1 : 1) * o.width * (person ? 0.05 : 0.18);
    m.x0 = o.width * u(rng);
    s.movers.push_back(m);
  }
  return s;
}

// One frame of a scene at time t since the scene started; pan speed in px/s.
cv::Mat render(const Scene& s, const Options& o, double t, double pan_x) {
  cv::Mat frame;
  const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, -pan_x, 0, 1, 0);
  cv::warpAffine(s.world, frame, m, cv::Size(o.width, o.height), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  for (const auto& mv : s.movers) {
    double x = std::fmod(mv.x0 + mv.vx * t, o.width + mv.w);
    if (x < 0) x += o.width + mv.w;
    x -= mv.w;
    cv::rectangle(frame, cv::Rect(int(x), int(mv.y), int(mv.w), int(mv.h)), mv.color, cv::FILLED);
    cv::rectangle(frame, cv::Rect(int(x), int(mv.y), int(mv.w), int(mv.h)), cv::Scalar(20, 20, 20), 2);
  }
  return frame;
}

std::string pipeline_text(const Options& o) {
  const int kbps = o.bitrate_kbps > 0 ? o.bitrate_kbps
                                      : std::max(500, int(10000.0 * o.width * o.height / (1920.0 * 1080.0)));
  const std::string mux = o.container == "mkv"  ? "matroskamux"
                          : o.container == "ts" ? "mpegtsmux"
                          : o.container == "avi" ? "avimux"
                                                 : "mp4mux faststart=true";
  const std::string gop = std::to_string(o.fps);
  std::string enc;
  if (o.codec == "h265")
    enc = "x265enc speed-preset=" + o.preset + " bitrate=" + std::to_string(kbps) + " key-int-max=" + gop +
          " option-string=bframes=0:frame-threads=" + std::to_string(std::max(1, o.threads)) + " ! h265parse";
  else if (o.codec == "mjpeg")
    enc = "jpegenc quality=85";
  else
    enc = "x264enc speed-preset=" + o.preset + " bitrate=" + std::to_string(kbps) + " key-int-max=" + gop +
          " bframes=" + std::to_string(o.bframes) + " b-adapt=false threads=" + std::to_string(o.threads) +
          " ! video/x-h264,profile=main ! h264parse";
  return "appsrc name=src format=time ! videoconvert ! video/x-raw,format=I420 ! " + enc + " ! " + mux +
         " ! filesink name=sink";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Render a deterministic synthetic drive with ground truth"};
  app.add_option("--out", o.out, "video file to write")->required();
  app.add_option("--truth", o.truth, "ground-truth JSON to write");
  app.add_option("--width", o.width)->check(CLI::Range(64, 3840));
  app.add_option("--height", o.height)->check(CLI::Range(64, 2160));
  app.add_option("--fps", o.fps)->check(CLI::Range(1, 120));
  app.add_option("--seconds", o.seconds)->check(CLI::Range(5.0, 7200.0));
  app.add_option("--seed", o.seed);
  app.add_option("--container", o.container)->check(CLI::IsMember({"mp4", "mkv", "ts", "avi"}));
  app.add_option("--codec", o.codec)->check(CLI::IsMember({"h264", "h265", "mjpeg"}));
  app.add_option("--bitrate", o.bitrate_kbps, "kbit/s");
  app.add_option("--preset", o.preset, "x264 speed preset");
  app.add_option("--bframes", o.bframes, "H.264 B-frames between references")->check(CLI::Range(0, 4));
  app.add_flag("--stamp", o.stamp, "frame number as 16 black/white 16x16 blocks along the top edge (bit 0 left)");
  app.add_option("--threads", o.threads, "encoder threads (0: all cores, not repeatable)")->check(CLI::Range(0, 64));
  CLI11_PARSE(app, argc, argv);
  o.width &= ~1;
  o.height &= ~1;

  media::ensure_gst_init();
  GError* raw_err = nullptr;
  media::ElementPtr el(gst_parse_launch(pipeline_text(o).c_str(), &raw_err));
  media::ErrorPtr err(raw_err);
  if (!el) {
    std::cerr << "make-drive: " << (err ? err->message : "cannot build pipeline") << "\n";
    return 1;
  }
  gst_object_ref_sink(el.get());
  media::Pipeline pipe(std::move(el));
  auto src = pipe.child("src");
  auto sink = pipe.child("sink");
  g_object_set(sink.get(), "location", o.out.c_str(), nullptr);
  media::CapsPtr caps(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT, o.width,
                                          "height", G_TYPE_INT, o.height, "framerate", GST_TYPE_FRACTION, o.fps, 1,
                                          nullptr));
  g_object_set(src.get(), "caps", caps.get(), "block", TRUE, "max-bytes", guint64(64) << 20, nullptr);
  gst_element_set_state(pipe.get(), GST_STATE_PLAYING);

  std::mt19937 rng(o.seed);
  // Pre-rendered sensor noise, cycled: real cameras are never still.
  std::vector<cv::Mat> noise(7);
  for (auto& n : noise) {
    n.create(o.height, o.width, CV_16SC3);
    cv::randn(n, cv::Scalar::all(0), cv::Scalar::all(2.0));
  }

  // The script of one 40 s cycle, in seconds: (shot start, what happens).
  const int F = o.fps;
  const int total = int(std::lround(o.seconds * F));
  json truth = {{"fps", F}, {"width", o.width}, {"height", o.height}, {"frames", total}, {"seed", o.seed},
                {"cuts", json::array()}, {"dissolves", json::array()}, {"flashes", json::array()},
                {"blurred", json::array()}, {"black", json::array()}, {"stationary", json::array()}};
  const double pan_speed = o.width * 0.1;  // px/s of ego-motion

  Scene current = make_scene(o, rng, 12);
  Scene next_scene;
  int shot_start = 0;
  double pan = 0;
  const int cycle = 40 * F;
  for (int i = 0; i < total; ++i) {
    const int c = i % cycle;
    const double tc = double(c) / F;
    // shot boundaries inside the cycle: hard cuts at 0 (from the previous
    // cycle), 6 s, 15 s and 36 s; a 1 s dissolve from 31 s to 32 s.
    const bool hard_cut = (c == 6 * F || c == 15 * F || c == 36 * F || (c == 0 && i > 0));
    if (hard_cut) {
      current = make_scene(o, rng, 12);
      shot_start = i;
      pan = 0;
      truth["cuts"].push_back(i);
    }
    if (c == 31 * F) next_scene = make_scene(o, rng, 12);
    const bool stationary = tc >= 18 && tc < 30;
    if (c == 18 * F) truth["stationary"].push_back({i, std::min(total, i + 12 * F) - 1});
    if (!stationary) pan += pan_speed / F;
    const double t = double(i - shot_start) / F;
    cv::Mat frame = render(current, o, stationary ? 18.0 - (shot_start % cycle) / double(F) : t, pan);

    if (c >= 31 * F && c < 32 * F) {
      const double a = double(c - 31 * F + 1) / (F + 1);
      cv::Mat other = render(next_scene, o, 0, 0);
      cv::addWeighted(frame, 1 - a, other, a, 0, frame);
      if (c == 31 * F) truth["dissolves"].push_back({i, i + F - 1});
    }
    if (c == 32 * F) {
      current = std::move(next_scene);
      shot_start = i;
      pan = 0;
      frame = render(current, o, 0, pan);
    }
    if (c >= 9 * F && c < 9 * F + 3) {  // exposure flash: 3 blown-out frames
      frame.convertTo(frame, -1, 2.2, 70);
      if (c == 9 * F) truth["flashes"].push_back({i, i + 2});
    }
    if (c >= 11 * F && c < 11 * F + 2) {  // motion blur: 2 frames
      cv::GaussianBlur(frame, frame, cv::Size(0, 0), o.width / 160.0);
      truth["blurred"].push_back(i);
    }
    if (c >= 13 * F && c < 13 * F + 3) {  // lens covered / dropout: 3 black frames
      frame.convertTo(frame, -1, 0.04, 0);
      truth["black"].push_back(i);
    }
    cv::Mat noisy;
    frame.convertTo(noisy, CV_16SC3);
    noisy += noise[size_t(i) % noise.size()];
    noisy.convertTo(frame, CV_8UC3);
    if (o.stamp)  // lets a test read which source frame a decoded clip frame is
      for (int b = 0; b < 16; ++b)
        cv::rectangle(frame, cv::Rect(b * 16, 0, 16, 16), cv::Scalar::all((i >> b) & 1 ? 255 : 0), cv::FILLED);

    GstBuffer* buf = gst_buffer_new_allocate(nullptr, frame.total() * frame.elemSize(), nullptr);
    gst_buffer_fill(buf, 0, frame.data, frame.total() * frame.elemSize());
    GST_BUFFER_PTS(buf) = gst_util_uint64_scale(uint64_t(i), GST_SECOND, uint64_t(F));
    GST_BUFFER_DURATION(buf) = gst_util_uint64_scale(1, GST_SECOND, uint64_t(F));
    if (gst_app_src_push_buffer(GST_APP_SRC(src.get()), buf) != GST_FLOW_OK) {
      std::cerr << "make-drive: encoder refused frame " << i << "\n";
      return 1;
    }
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src.get()));
  media::BusPtr bus = pipe.bus();
  media::MessagePtr msg(gst_bus_timed_pop_filtered(bus.get(), GST_CLOCK_TIME_NONE,
                                                   GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  if (msg && GST_MESSAGE_TYPE(msg.get()) == GST_MESSAGE_ERROR) {
    GError* e = nullptr;
    gst_message_parse_error(msg.get(), &e, nullptr);
    media::ErrorPtr owned(e);
    std::cerr << "make-drive: " << (e ? e->message : "error") << "\n";
    return 1;
  }
  pipe.stop();
  if (!o.truth.empty()) std::ofstream(o.truth) << truth.dump(2) << "\n";
  std::cout << o.out << ": " << total << " frames, " << o.width << "x" << o.height << "@" << F << ", "
            << truth["cuts"].size() << " cuts\n";
  return 0;
}
