// dashloop-cut-bench: the cutter as one process, for timing against ffmpeg
// in scripts/bench/cut_bench.sh. Two steps, so that the timed one does what
// the product does (the catalog already holds each segment's keyframes):
//   dashloop-cut-bench index SEGMENT... > index.json
//   dashloop-cut-bench cut index.json FROM_S TO_S OUT.mp4 [--package DIR]
// `cut` cuts from the keyframe at or before FROM_S to the one at or after
// TO_S (seconds on the segments' joined timeline); with --package it then
// builds a package with 30 synthetic tracks and prints the time it took.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "clips/package.hpp"
#include "media/cutter.hpp"
#include "media/packets.hpp"

namespace media = dashloop::pipeline::media;
namespace clips = dashloop::pipeline::clips;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int index(int argc, char** argv) {
  json out = json::array();
  double offset = 0;
  for (int i = 2; i < argc; ++i) {
    auto idx = media::index_stream(argv[i]);
    if (!idx.ok()) {
      std::cerr << idx.status().message() << "\n";
      return 1;
    }
    json keys = json::array();
    for (const auto& k : idx->keyframes) keys.push_back({k.frame, k.pts});
    out.push_back({{"path", fs::absolute(argv[i]).string()}, {"offset_s", offset}, {"first_pts", idx->first_pts},
                   {"frames", idx->frames}, {"fps", idx->fps}, {"keyframes", keys}});
    offset += double(idx->duration_ns) / 1e9;
  }
  std::cout << out.dump() << "\n";
  return 0;
}

// 30 tracks crossing the clip, boxes every 5th frame, 5 keyframe images.
clips::PackageInput synthetic(const media::CutResult& cut, const fs::path& image) {
  clips::PackageInput in;
  in.id = "bench";
  in.fps = cut.fps;
  in.width = cut.width;
  in.height = cut.height;
  in.codec = cut.codec;
  in.detector = "bench";
  in.tracker = "bench";
  const auto n = int64_t(cut.frames.size());
  for (int64_t j = 0; j < n; ++j) in.clip_frames.push_back(1000 + j);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int t = 0; t < 30; ++t) {
    clips::LabelTrack track{t, t % 3 ? "car" : "person", {}};
    const int64_t a = int64_t(u(rng) * double(n) / 2), b = a + n / 2;
    for (int64_t f = a; f < b; f += 5)
      track.boxes.push_back({1000 + f, u(rng) * cut.width * 0.8, u(rng) * cut.height * 0.8, 80, 60, 0.8, false});
    in.tracks.push_back(std::move(track));
  }
  for (int64_t k = 0; k < 5; ++k) in.keyframes.push_back({1000 + k * n / 5, image});
  return in;
}

int cut(int argc, char** argv) {
  if (argc < 6) return 2;
  const json segments = json::parse(std::ifstream(argv[2]));
  const double from = std::stod(argv[3]), to = std::stod(argv[4]);
  const fs::path out = argv[5];
  media::CutRequest req;
  bool started = false;
  for (const auto& s : segments) {
    const double offset = s["offset_s"];
    const double fps = s["fps"];
    std::optional<int64_t> start, end;
    for (const auto& k : s["keyframes"]) {
      const double t = offset + double(k[0].get<int64_t>()) / fps;
      const double half_frame = 0.5 / fps;  // segment offsets carry rounding
      if (t <= from + half_frame) start = k[1].get<int64_t>();
      if (!end && t >= to - half_frame) end = k[1].get<int64_t>();
    }
    if (!started && start && offset + double(s["frames"].get<int64_t>()) / fps > from) {
      started = true;
      req.start_pts = *start;
    }
    if (!started) continue;
    req.segments.emplace_back(s["path"].get<std::string>());
    if (end) {
      req.end_pts = end;
      break;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto result = media::cut_clip(req, out);
  const double cut_s = seconds_since(t0);
  if (!result.ok()) {
    std::cerr << result.status().message() << "\n";
    return 1;
  }
  std::cout << "cut_s " << cut_s << " frames " << result->frames.size() << " segments " << req.segments.size() << "\n";
  if (argc >= 8 && std::string(argv[6]) == "--package") {
    const fs::path dir = argv[7];
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(out, dir / "clip.mp4");
    const fs::path image = dir.string() + "-keyframe.jpg";
    std::ofstream(image) << std::string(200000, 'j');  // a 1080p JPEG's size
    const auto in = synthetic(*result, image);
    const auto t1 = std::chrono::steady_clock::now();
    auto pkg = clips::write_package(in, dir);
    const double package_s = seconds_since(t1);
    if (!pkg.ok()) {
      std::cerr << pkg.status().message() << "\n";
      return 1;
    }
    int64_t boxes = 0;
    for (const auto& t : in.tracks) boxes += int64_t(t.boxes.size());
    std::cout << "package_s " << package_s << " tracks " << in.tracks.size() << " detector_boxes " << boxes << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "index") return index(argc, argv);
  if (cmd == "cut") return cut(argc, argv);
  std::cerr << "usage: dashloop-cut-bench index SEGMENT... | cut INDEX.json FROM_S TO_S OUT.mp4 [--package DIR]\n";
  return 2;
}
