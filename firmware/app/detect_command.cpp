// dashloop detect: the detector alone, on images, a directory of images
// (MOTChallenge's img1/000001.jpg: the frame is the number in the name) or a
// video, with the settings ingest uses. MOTChallenge detection rows or JSON.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "app/commands.hpp"
#include "station/effective_config.hpp"
#include "media/frame_reader.hpp"
#include "vision/detectors.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// 000123.jpg -> 123; a name without digits -> its place in the list.
int64_t frame_of(const fs::path& p, int64_t place) {
  std::string digits;
  for (char c : p.stem().string())
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  return digits.empty() || digits.size() > 15 ? place : std::stoll(digits);
}

struct Found {
  int64_t frame = 0;
  std::string input;
  pipeline::vision::Detection d;
};

}  // namespace

int run_detect(const GlobalOptions& global, const DetectOptions& o) {
  auto loaded = effective_config(global);
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  const auto& full = std::get<firmware::config::Config>(loaded);
  auto config = full.detector;
  if (!o.live) full.prelabel.apply_to(config);  // the pre-label setting: right, not cheap
  if (config.kind == "none") {
    spdlog::error("detect: detector.kind is none; nothing to run");
    return kExitUsage;
  }
  if (o.input_size > 0) config.input_size = o.input_size;
  if (o.tiles > 0) config.tiles = o.tiles;
  if (!o.classes.empty()) config.classes = o.classes;
  auto made = pipeline::vision::make_detector(config);
  if (!made.ok()) {
    spdlog::error("detect: {}", made.status().message());
    return kExitUsage;
  }
  pipeline::vision::Detector& detector = **made;
  spdlog::info("detect: {}", detector.describe());

  std::vector<Found> found;
  // As ingest: the frame is shrunk to detector.width, boxes scaled back to source pixels.
  auto run = [&](const cv::Mat& bgr, int64_t frame, const std::string& input) -> Status {
    const double s = bgr.cols > config.width ? double(config.width) / bgr.cols : 1.0;
    cv::Mat small = bgr;
    if (s < 1.0) cv::resize(bgr, small, cv::Size(), s, s, cv::INTER_AREA);
    auto boxes = detector.detect(small);
    if (!boxes.ok()) return boxes.status();
    for (auto d : *boxes) {
      d.box = cv::Rect2f(float(d.box.x / s), float(d.box.y / s), float(d.box.width / s), float(d.box.height / s));
      found.push_back({frame, input, d});
    }
    return Status::Ok();
  };
  auto fail = [](const std::string& what) {
    spdlog::error("detect: {}", what);
    return kExitInput;
  };
  for (const auto& arg : o.inputs) {
    const fs::path p(arg);
    std::error_code ec;
    if (!fs::exists(p, ec)) return fail(arg + ": no such file or directory");
    std::vector<fs::path> images;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.is_regular_file() && is_image(e.path())) images.push_back(e.path());
      std::sort(images.begin(), images.end());
      if (images.empty()) return fail(arg + ": a directory without images (.jpg, .png, .bmp)");
    } else if (is_image(p)) {
      images.push_back(p);
    }
    if (!images.empty()) {
      for (size_t i = 0; i < images.size(); ++i) {
        const cv::Mat img = cv::imread(images[i].string(), cv::IMREAD_COLOR);
        if (img.empty()) return fail(images[i].string() + ": not a readable image");
        if (Status st = run(img, frame_of(images[i], int64_t(i) + 1), images[i].string()); !st.ok()) return fail(st.message());
      }
      continue;
    }
    auto source = pipeline::media::parse_source(arg);
    if (!source.ok()) return fail(source.status().message());
    auto reader = pipeline::media::FrameReader::open(*source, {});
    if (!reader.ok()) return fail(reader.status().message());
    for (;;) {
      auto next = (*reader)->next();
      if (!next.ok()) return fail(next.status().message());
      if (!next->has_value()) break;
      const auto& f = **next;
      cv::Mat bgr;
      cv::cvtColor(pipeline::media::copy_i420(f), bgr, cv::COLOR_YUV2BGR_I420);
      if (Status st = run(bgr, f.index + 1, arg); !st.ok()) return fail(st.message());  // MOTChallenge frames are 1-based
    }
  }

  const auto& labels = detector.labels();
  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out);
    if (!file) {
      spdlog::error("detect: {}: cannot write", o.out);
      return kExitStorage;
    }
  }
  std::ostream& out = o.out.empty() ? std::cout : file;
  if (o.json) {
    json rows = json::array();
    for (const auto& f : found)
      rows.push_back({{"frame", f.frame}, {"input", f.input}, {"class", labels.at(size_t(f.d.class_id))},
                      {"score", f.d.score}, {"box", {f.d.box.x, f.d.box.y, f.d.box.width, f.d.box.height}}});
    out << json{{"detector", detector.describe()}, {"detections", rows}}.dump(1) << "\n";
  } else {
    char line[160];
    for (const auto& f : found) {
      std::snprintf(line, sizeof line, "%lld,-1,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n", static_cast<long long>(f.frame),
                    double(f.d.box.x), double(f.d.box.y), double(f.d.box.width), double(f.d.box.height),
                    double(f.d.score));
      out << line;
    }
  }
  out.flush();
  if (!out) {
    spdlog::error("detect: {}: write failed", o.out.empty() ? "stdout" : o.out);
    return kExitStorage;
  }
  spdlog::info("detect: {} boxes", found.size());
  return kExitOk;
}

}  // namespace dashloop::app
