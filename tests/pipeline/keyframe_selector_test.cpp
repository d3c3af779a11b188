// KeyframeSelector and FrameAnalyzer on frames drawn in memory: the
// selection rules as a specification, without GStreamer.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <random>

#include "vision/frame_scores.hpp"
#include "vision/keyframe_selector.hpp"

namespace dashloop::pipeline::vision {
namespace {

constexpr int kW = 320, kH = 180, kFps = 30;

// A random textured picture: blocks of colour with edges, like a street.
cv::Mat scene(unsigned seed, int width = kW) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> c(0, 255), x(0, width), y(0, kH), s(8, 60);
  cv::Mat img(kH, width, CV_8UC3, cv::Scalar(c(rng), c(rng), c(rng)));
  for (int i = 0; i < width / 2; ++i)
    cv::rectangle(img, cv::Rect(x(rng), y(rng), s(rng), s(rng)), cv::Scalar(c(rng), c(rng), c(rng)), cv::FILLED);
  return img;
}

cv::Mat with_noise(const cv::Mat& img, int frame) {
  cv::Mat noise(img.size(), CV_16SC3), out;
  cv::theRNG().state = uint64_t(frame) + 1;
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(2));
  img.convertTo(out, CV_16SC3);
  out += noise;
  out.convertTo(out, CV_8UC3);
  return out;
}

struct Run {
  std::vector<Keyframe> keyframes;
};

// Feeds BGR frames through the analyzer and the selector, as the driver does.
class Feeder {
 public:
  explicit Feeder(SelectorConfig cfg = {}) : selector_(cfg), analyzer_(kW) {}
  void push(const cv::Mat& bgr) {
    cv::Mat i420;
    cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
    const int w = bgr.cols, h = bgr.rows;
    cv::Mat y = i420.rowRange(0, h);
    cv::Mat u(h / 2, w / 2, CV_8UC1, i420.ptr(h));
    cv::Mat v(h / 2, w / 2, CV_8UC1, i420.ptr(h) + (w / 2) * (h / 2));
    auto s = analyzer_.analyze(index_, double(index_) / kFps, y, u, v, /*with_sharpness=*/false);
    if (selector_.needs_quality(s)) {  // as the driver does
      s.sharpness = analyzer_.measure_sharpness(y);
      ++measured_;
    }
    take(selector_.push(s));
    ++index_;
  }
  std::vector<Keyframe> finish() {
    take(selector_.finish());
    return keyframes_;
  }
  int64_t index() const { return index_; }
  int64_t measured() const { return measured_; }

 private:
  void take(const SelectorStep& step) {
    if (step.hold) held_ = index_;
    for (const auto& k : step.selected) {
      EXPECT_TRUE(k.index == held_ || k.index == index_) << "keyframe " << k.index << " was never held";
      keyframes_.push_back(k);
    }
  }
  KeyframeSelector selector_;
  FrameAnalyzer analyzer_;
  int64_t index_ = 0;
  int64_t held_ = -1;
  int64_t measured_ = 0;
  std::vector<Keyframe> keyframes_;
};

int count(const std::vector<Keyframe>& ks, Reason r) {
  return int(std::count_if(ks.begin(), ks.end(), [&](const Keyframe& k) { return k.reason == r; }));
}

TEST(KeyframeSelector, StaticSceneYieldsOneKeyframe) {
  Feeder f;
  const cv::Mat a = scene(1);
  for (int i = 0; i < 30 * kFps; ++i) f.push(with_noise(a, i));
  const auto ks = f.finish();
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks[0].reason, Reason::kStart);
  EXPECT_LE(f.measured(), 20) << "sharpness is measured only where a window can choose";
}

TEST(KeyframeSelector, HardCutYieldsOneKeyframeInTheNewShot) {
  Feeder f;
  const cv::Mat a = scene(1), b = scene(2);
  for (int i = 0; i < 60; ++i) f.push(with_noise(a, i));
  for (int i = 60; i < 120; ++i) f.push(with_noise(b, i));
  const auto ks = f.finish();
  ASSERT_EQ(count(ks, Reason::kCut), 1);
  const auto cut = *std::find_if(ks.begin(), ks.end(), [](const Keyframe& k) { return k.reason == Reason::kCut; });
  EXPECT_EQ(cut.trigger_index, 60);
  EXPECT_GE(cut.index, 60);
}

TEST(KeyframeSelector, ThreeFrameFlashIsNotACut) {
  Feeder f;
  const cv::Mat a = scene(3);
  for (int i = 0; i < 90; ++i) {
    cv::Mat frame = with_noise(a, i);
    if (i >= 40 && i < 43) frame.convertTo(frame, -1, 2.2, 70);  // blown out
    f.push(frame);
  }
  const auto ks = f.finish();
  EXPECT_EQ(count(ks, Reason::kCut), 0);
  EXPECT_EQ(ks.size(), 1u);
}

TEST(KeyframeSelector, ExposureStepIsNotACut) {
  // Auto-exposure or a tunnel exit: the same street, 40 % brighter from frame 60 on.
  Feeder f;
  const cv::Mat a = scene(3);
  for (int i = 0; i < 150; ++i) {
    cv::Mat frame = with_noise(a, i);
    if (i >= 60) frame.convertTo(frame, -1, 1.4, 20);
    f.push(frame);
  }
  const auto ks = f.finish();
  EXPECT_EQ(count(ks, Reason::kCut), 0);
  EXPECT_EQ(count(ks, Reason::kDissolve), 0);
}

TEST(KeyframeSelector, ExposureRampIsNotADissolve) {
  // The iris opening over one second: a perfect "mix" of two frames of one shot.
  Feeder f;
  const cv::Mat a = scene(7);
  for (int i = 0; i < 150; ++i) {
    cv::Mat frame = with_noise(a, i);
    const double gain = i < 60 ? 0.5 : i < 90 ? 0.5 + 0.5 * (i - 60) / 30.0 : 1.0;
    frame.convertTo(frame, -1, gain, 0);
    f.push(frame);
  }
  const auto ks = f.finish();
  EXPECT_EQ(count(ks, Reason::kCut), 0);
  EXPECT_EQ(count(ks, Reason::kDissolve), 0);
}

TEST(KeyframeSelector, CameraShakeIsNotACut) {
  // A jolt of the mount: 15 frames (half a second, past a flash's length)
  // shaken and blurred, then the view settles a few pixels off.
  Feeder f;
  const cv::Mat world = scene(11, kW + 40);
  for (int i = 0; i < 150; ++i) {
    int x = 20;
    if (i >= 60 && i < 75) x = (i % 2) ? 2 : 38;
    else if (i >= 75) x = 26;
    cv::Mat frame = with_noise(world(cv::Rect(x, 0, kW, kH)).clone(), i);
    if (i >= 60 && i < 75) cv::GaussianBlur(frame, frame, cv::Size(0, 0), 4);
    f.push(frame);
  }
  const auto ks = f.finish();
  EXPECT_EQ(count(ks, Reason::kCut), 0);
  EXPECT_EQ(count(ks, Reason::kDissolve), 0);
}

TEST(FrameAnalyzer, StructureDistanceIgnoresExposureAndShiftButNotANewShot) {
  FrameAnalyzer analyzer(kW);
  auto thumb = [&](const cv::Mat& bgr) {
    cv::Mat i420;
    cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
    cv::Mat y = i420.rowRange(0, kH);
    cv::Mat u(kH / 2, kW / 2, CV_8UC1, i420.ptr(kH));
    cv::Mat v(kH / 2, kW / 2, CV_8UC1, i420.ptr(kH) + (kW / 2) * (kH / 2));
    return analyzer.analyze(0, 0, y, u, v, false).thumb;
  };
  const cv::Mat world = scene(12, kW + 20);
  const cv::Mat a = world(cv::Rect(0, 0, kW, kH)).clone();
  cv::Mat brighter, shifted = world(cv::Rect(12, 0, kW, kH)).clone();
  a.convertTo(brighter, -1, 1.3, 10);
  // Well under structure_threshold (12); some pixels clip, so not zero.
  EXPECT_LT(structure_distance(thumb(a), thumb(brighter)), 8.0);
  EXPECT_LT(structure_distance(thumb(a), thumb(shifted)), 8.0);
  EXPECT_GT(structure_distance(thumb(a), thumb(scene(13))), 25.0);
}

TEST(KeyframeSelector, BlurredFrameLosesToSharpNeighbour) {
  Feeder f;
  const cv::Mat a = scene(4), b = scene(5);
  for (int i = 0; i < 30; ++i) f.push(with_noise(a, i));
  for (int i = 30; i < 90; ++i) {
    cv::Mat frame = with_noise(b, i);
    if (i < 34 || i == 40 || i == 41) cv::GaussianBlur(frame, frame, cv::Size(0, 0), 3);  // shake
    f.push(frame);
  }
  const auto ks = f.finish();
  ASSERT_EQ(count(ks, Reason::kCut), 1);
  for (const auto& k : ks)
    EXPECT_TRUE(k.index < 30 || (k.index >= 34 && k.index != 40 && k.index != 41))
        << "blurred frame " << k.index << " was chosen";
}

TEST(KeyframeSelector, BlackFramesAreNeverChosen) {
  Feeder f;
  const cv::Mat a = scene(6);
  const cv::Mat black(kH, kW, CV_8UC3, cv::Scalar::all(0));
  for (int i = 0; i < 20; ++i) f.push(with_noise(black, i));  // leader
  for (int i = 20; i < 80; ++i) f.push(with_noise(a, i));
  const auto ks = f.finish();
  ASSERT_FALSE(ks.empty());
  for (const auto& k : ks) EXPECT_GE(k.index, 20) << "black frame chosen";
}

TEST(KeyframeSelector, DissolveYieldsOneKeyframe) {
  Feeder f;
  const cv::Mat a = scene(7), b = scene(8);
  for (int i = 0; i < 60; ++i) f.push(with_noise(a, i));
  for (int i = 60; i < 90; ++i) {  // one-second cross-fade
    cv::Mat mix;
    const double alpha = double(i - 59) / 31;
    cv::addWeighted(a, 1 - alpha, b, alpha, 0, mix);
    f.push(with_noise(mix, i));
  }
  for (int i = 90; i < 150; ++i) f.push(with_noise(b, i));
  const auto ks = f.finish();
  EXPECT_EQ(count(ks, Reason::kDissolve) + count(ks, Reason::kCut), 1);
  ASSERT_EQ(count(ks, Reason::kDissolve), 1);
  for (const auto& k : ks)
    if (k.reason == Reason::kDissolve) {
      EXPECT_GE(k.trigger_index, 55);
      EXPECT_LE(k.trigger_index, 95);
      EXPECT_GE(k.index, 90) << "the keyframe should show the new shot, not the mix";
    }
}

TEST(KeyframeSelector, PanningSceneGetsAKeyframeEveryMaxGap) {
  SelectorConfig cfg;
  cfg.max_gap_s = 4.0;
  Feeder f(cfg);
  const cv::Mat world = scene(9, kW * 8);
  const int frames = 24 * kFps;
  for (int i = 0; i < frames; ++i) {
    const int x = i * (kW * 7) / frames;  // ego-motion: pan along the world
    f.push(with_noise(world(cv::Rect(x, 0, kW, kH)).clone(), i));
  }
  const auto ks = f.finish();
  ASSERT_GE(ks.size(), 5u);
  for (size_t i = 1; i < ks.size(); ++i)
    EXPECT_LE(ks[i].t_s - ks[i - 1].t_s, cfg.max_gap_s + cfg.window_s + 0.1);
  EXPECT_EQ(count(ks, Reason::kCut), 0) << "panning is not a cut";
}

TEST(KeyframeSelector, NoTwoKeyframesCloserThanMinGap) {
  SelectorConfig cfg;
  cfg.min_gap_s = 1.0;
  Feeder f(cfg);
  for (int i = 0; i < 10 * kFps; ++i) f.push(with_noise(scene(100 + unsigned(i / 8)), i));  // a cut every 8 frames
  const auto ks = f.finish();
  ASSERT_GE(ks.size(), 3u);
  for (size_t i = 1; i < ks.size(); ++i) EXPECT_GE(ks[i].t_s - ks[i - 1].t_s, cfg.min_gap_s - 1e-9);
}

TEST(KeyframeSelector, ReturningViewIsANearDuplicate) {
  SelectorConfig cfg;
  cfg.max_gap_s = 2.0;
  Feeder f(cfg);
  const cv::Mat a = scene(10);
  for (int i = 0; i < 20 * kFps; ++i) f.push(with_noise(a, i));
  EXPECT_EQ(f.finish().size(), 1u) << "an unchanged view must not be taken again every max_gap";
}

TEST(FrameAnalyzer, MeasuresSharpnessExposureAndChange) {
  FrameAnalyzer an(kW);
  const cv::Mat a = scene(11);
  cv::Mat blurred, black(kH, kW, CV_8UC3, cv::Scalar::all(2));
  cv::GaussianBlur(a, blurred, cv::Size(0, 0), 4);
  auto analyze = [&](const cv::Mat& bgr, int64_t i) {
    cv::Mat i420;
    cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
    cv::Mat y = i420.rowRange(0, kH);
    cv::Mat u(kH / 2, kW / 2, CV_8UC1, i420.ptr(kH));
    cv::Mat v(kH / 2, kW / 2, CV_8UC1, i420.ptr(kH) + (kW / 2) * (kH / 2));
    return an.analyze(i, double(i) / kFps, y, u, v);
  };
  const auto sharp = analyze(a, 0);
  const auto same = analyze(a, 1);
  const auto soft = analyze(blurred, 2);
  const auto dark = analyze(black, 3);
  EXPECT_EQ(sharp.content, 0.0);
  EXPECT_LT(same.content, 0.01);
  EXPECT_GT(soft.content, 0.5);
  EXPECT_GT(sharp.sharpness, 10 * soft.sharpness);
  EXPECT_GT(dark.dark_fraction, 0.99);
  EXPECT_TRUE(dark.unusable());
  EXPECT_FALSE(sharp.unusable());
  EXPECT_EQ(hamming(sharp.dhash, same.dhash), 0);
}

}  // namespace
}  // namespace dashloop::pipeline::vision
