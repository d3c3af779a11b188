// Google Benchmark: the per-frame cost of keyframe analysis at dashcam sizes.
//   build/tests/vision_bench
#include <benchmark/benchmark.h>

#include <opencv2/imgproc.hpp>
#include <random>

#include "vision/frame_scores.hpp"
#include "vision/keyframe_selector.hpp"

namespace {
using namespace dashloop::pipeline::vision;

struct I420 {
  cv::Mat y, u, v;
};

I420 frame(int w, int h, unsigned seed) {
  cv::Mat bgr(h, w, CV_8UC3);
  cv::randu(bgr, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(bgr, bgr, cv::Size(0, 0), 2 + seed % 3);
  cv::Mat i420;
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
  I420 f;
  f.y = i420.rowRange(0, h).clone();
  f.u = cv::Mat(h / 2, w / 2, CV_8UC1, i420.ptr(h)).clone();
  f.v = cv::Mat(h / 2, w / 2, CV_8UC1, i420.ptr(h) + (w / 2) * (h / 2)).clone();
  return f;
}

void BM_AnalyzeFrame(benchmark::State& state) {
  const int w = int(state.range(0)), h = w * 9 / 16;
  const I420 a = frame(w, h, 1), b = frame(w, h, 2);
  FrameAnalyzer an(640);
  int64_t i = 0;
  for (auto _ : state) {
    const I420& f = (i & 1) ? a : b;
    benchmark::DoNotOptimize(an.analyze(i, i / 30.0, f.y, f.u, f.v));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnalyzeFrame)->Arg(1280)->Arg(1920)->Unit(benchmark::kMicrosecond);

void BM_AnalyzeAndSelect(benchmark::State& state) {
  const int w = 1920, h = 1080;
  const I420 a = frame(w, h, 1), b = frame(w, h, 2);
  FrameAnalyzer an(640);
  KeyframeSelector sel;
  int64_t i = 0;
  for (auto _ : state) {
    const I420& f = (i % 90 < 45) ? a : b;
    benchmark::DoNotOptimize(sel.push(an.analyze(i, i / 30.0, f.y, f.u, f.v)));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnalyzeAndSelect)->Unit(benchmark::kMicrosecond);

void BM_AlignedDistance(benchmark::State& state) {
  FrameAnalyzer an(640);
  const I420 a = frame(1920, 1080, 1), b = frame(1920, 1080, 2);
  const auto sa = an.analyze(0, 0, a.y, a.u, a.v), sb = an.analyze(1, 0.033, b.y, b.u, b.v);
  for (auto _ : state) benchmark::DoNotOptimize(aligned_distance(sa.thumb, sb.thumb));
}
BENCHMARK(BM_AlignedDistance)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
