// Google Benchmark: the per-frame cost of each detector on a real 1080p
// street frame (the first frame of the bundled sample drive, scaled to
// 1920x1080), at 1 and 2 threads (OpenCV's pool), as ingest runs them:
// the frame shrunk to the detector's width first.
//   build/tests/detector_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "config/config.hpp"
#include "vision/detectors.hpp"

namespace {
using namespace dashloop;

cv::Mat street_frame() {
  static const cv::Mat frame = [] {
    cv::VideoCapture cap(std::string(DASHLOOP_SOURCE_DIR) + "/firmware/samples/solidWhiteRight.mp4");
    cv::Mat f, out;
    cap >> f;
    if (f.empty()) return cv::Mat(1080, 1920, CV_8UC3, cv::Scalar(90, 100, 110));
    cv::resize(f, out, {1920, 1080});
    return out;
  }();
  return frame;
}

void run(benchmark::State& state, pipeline::vision::DetectorConfig c, int width) {
  cv::setNumThreads(int(state.range(0)));
  firmware::config::resolve_model_paths(c);
  auto d = pipeline::vision::make_detector(c);
  if (!d.ok()) {
    state.SkipWithError(d.status().message().c_str());
    return;
  }
  cv::Mat small;
  cv::resize(street_frame(), small, {width, width * 1080 / 1920}, 0, 0, cv::INTER_AREA);
  size_t boxes = 0;
  for (auto _ : state) {
    auto found = (*d)->detect(small);
    boxes = found.ok() ? found->size() : 0;
    benchmark::DoNotOptimize(boxes);
  }
  state.counters["boxes"] = double(boxes);
}

void YoloxNano(benchmark::State& state) {
  auto c = firmware::config::default_detector();
  c.input_size = int(state.range(1));
  c.tiles = int(state.range(3));
  run(state, c, int(state.range(2)));
}
void HogPeople(benchmark::State& state) {
  pipeline::vision::DetectorConfig c;
  c.kind = "hog-people";
  run(state, c, int(state.range(1)));
}

// threads, input size, detector width, tiles across (1: the whole frame only)
BENCHMARK(YoloxNano)->ArgsProduct({{1, 2}, {416}, {640}, {1}})->ArgsProduct({{1, 2}, {640}, {640}, {1}})
    ->ArgsProduct({{1, 2}, {960}, {1920}, {1}})->ArgsProduct({{1, 2}, {416, 960}, {1920}, {2}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(HogPeople)->ArgsProduct({{1, 2}, {640}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
