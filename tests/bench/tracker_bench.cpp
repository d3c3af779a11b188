// Google Benchmark: the tracker's per-frame cost on one core, with 50 (and
// 10, 200) objects on screen, and the box filter against cv::KalmanFilter.
//   build/tests/tracker_bench
#include <benchmark/benchmark.h>

#include <opencv2/video/tracking.hpp>

#include "tools/mot_scene.hpp"
#include "vision/assignment.hpp"
#include "vision/box_kalman.hpp"
#include "vision/tracker.hpp"

namespace {
using namespace dashloop::pipeline::vision;

// Frames per second of Tracker::update on a generated scene with
// `objects` on screen: 10% dropouts, jitter, false positives, as in the tests.
void BM_TrackerUpdate(benchmark::State& state) {
  dashloop::testing::SceneConfig cfg;
  cfg.concurrent = static_cast<int>(state.range(0));
  cfg.frames = 3000;
  cfg.width = 3840;  // room for 200 objects without the scene being one blob
  cfg.height = 2160;
  const auto scene = dashloop::testing::make_scene(cfg);
  size_t detections = 0;
  for (const auto& d : scene.detections) detections += d.size();
  Tracker tracker;
  int64_t frame = 0;
  for (auto _ : state) {
    const auto& dets = scene.detections[frame % scene.detections.size()];
    if (frame % scene.detections.size() == 0 && frame > 0) {  // the scene restarts: a fresh tracker
      state.PauseTiming();
      tracker = Tracker();
      state.ResumeTiming();
    }
    tracker.update(++frame, dets);
    benchmark::DoNotOptimize(tracker.take_finished());
  }
  state.SetItemsProcessed(state.iterations());  // items = frames
  state.counters["detections_per_frame"] = static_cast<double>(detections) / scene.detections.size();
}
BENCHMARK(BM_TrackerUpdate)->Arg(10)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

void BM_BoxKalmanPredictCorrect(benchmark::State& state) {
  BoxKalman kf(cv::Rect2f(100, 100, 50, 100));
  cv::Rect2f z(100, 100, 50, 100);
  for (auto _ : state) {
    z.x += 1;
    kf.predict();
    kf.correct(z);
    benchmark::DoNotOptimize(kf.state());
  }
}
BENCHMARK(BM_BoxKalmanPredictCorrect);

// The same model on cv::KalmanFilter: why the tracker uses fixed-size Matx.
void BM_CvKalmanFilterPredictCorrect(benchmark::State& state) {
  cv::KalmanFilter kf(8, 4, 0, CV_32F);
  cv::setIdentity(kf.transitionMatrix);
  for (int i = 0; i < 4; ++i) kf.transitionMatrix.at<float>(i, i + 4) = 1;
  kf.measurementMatrix = cv::Mat::eye(4, 8, CV_32F);
  cv::setIdentity(kf.processNoiseCov, cv::Scalar(1e-2));
  cv::setIdentity(kf.measurementNoiseCov, cv::Scalar(1e-1));
  cv::setIdentity(kf.errorCovPost, cv::Scalar(1));
  cv::Mat z = (cv::Mat_<float>(4, 1) << 125, 150, 50, 100);
  for (auto _ : state) {
    z.at<float>(0) += 1;
    kf.predict();
    benchmark::DoNotOptimize(kf.correct(z));
  }
}
BENCHMARK(BM_CvKalmanFilterPredictCorrect);

void BM_AssignmentDense(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  CostMatrix m(n, n, 0.0f);
  cv::RNG rng(1);
  for (auto& v : m.cost) v = rng.uniform(0.0f, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(solve_assignment(m, 2.0f));
}
BENCHMARK(BM_AssignmentDense)->Arg(10)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
