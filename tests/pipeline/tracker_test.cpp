// The tracker's core: the assignment solver against brute force, the box
// filter, the lifecycle, accuracy on generated scenes with ground truth,
// camera-motion compensation on a rendered pan, and a one-hour soak.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include <opencv2/imgproc.hpp>

#include "tools/mot_scene.hpp"
#include "vision/assignment.hpp"
#include "vision/box_kalman.hpp"
#include "vision/camera_motion.hpp"
#include "vision/mot.hpp"
#include "vision/tracker.hpp"

namespace dashloop::pipeline::vision {
namespace {

// Best total weight sum(max_cost - cost) over every partial matching.
double brute_force_weight(const CostMatrix& m, float max_cost) {
  std::vector<char> col_used(m.cols, 0);
  std::function<double(int)> best = [&](int row) -> double {
    if (row == m.rows) return 0.0;
    double b = best(row + 1);  // row left unmatched
    for (int c = 0; c < m.cols; ++c) {
      if (col_used[c] || !(m.at(row, c) < max_cost)) continue;
      col_used[c] = 1;
      b = std::max(b, (max_cost - m.at(row, c)) + best(row + 1));
      col_used[c] = 0;
    }
    return b;
  };
  return best(0);
}

TEST(Assignment, EqualsBruteForceOnRandomMatrices) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int trial = 0; trial < 2000; ++trial) {
    const int rows = 1 + static_cast<int>(rng() % 6), cols = 1 + static_cast<int>(rng() % 6);
    CostMatrix m(rows, cols, 0.0f);
    const float density = u(rng);  // sparse to dense, as IoU gating makes them
    for (auto& v : m.cost) v = u(rng) < density ? u(rng) * 0.8f : 1.0f + u(rng);
    const float max_cost = 0.8f;
    const auto matches = solve_assignment(m, max_cost);
    double weight = 0;
    std::vector<char> row_seen(rows), col_seen(cols);
    for (const auto& mt : matches) {
      ASSERT_LT(m.at(mt.row, mt.col), max_cost) << "trial " << trial;
      ASSERT_FALSE(row_seen[mt.row] || col_seen[mt.col]) << "trial " << trial;
      row_seen[mt.row] = col_seen[mt.col] = 1;
      weight += max_cost - m.at(mt.row, mt.col);
    }
    ASSERT_NEAR(weight, brute_force_weight(m, max_cost), 1e-4) << "trial " << trial << ", " << rows << "x" << cols;
  }
}

TEST(Assignment, PrefersTwoGoodPairsToOneBest) {
  // Row 0 is cheapest with column 0, but taking it leaves row 1 unmatched.
  CostMatrix m(2, 2, 1.0f);
  m.at(0, 0) = 0.1f; m.at(0, 1) = 0.2f;
  m.at(1, 0) = 0.2f;
  const auto matches = solve_assignment(m, 0.8f);
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0], (Match{0, 1}));
  EXPECT_EQ(matches[1], (Match{1, 0}));
}

TEST(Assignment, EmptyAndAllInfeasible) {
  EXPECT_TRUE(solve_assignment(CostMatrix(0, 3, 0.0f), 0.5f).empty());
  EXPECT_TRUE(solve_assignment(CostMatrix(3, 3, 0.9f), 0.5f).empty());
}

TEST(BoxKalman, FollowsConstantVelocityAndPredictsThroughAGap) {
  cv::Rect2f truth(100, 200, 50, 100);
  BoxKalman kf(truth);
  for (int i = 0; i < 20; ++i) {
    truth.x += 4; truth.y -= 2;
    kf.predict();
    kf.correct(truth);
  }
  for (int i = 0; i < 10; ++i) {  // no measurements: prediction only
    truth.x += 4; truth.y -= 2;
    kf.predict();
  }
  EXPECT_GT(iou(kf.box(), truth), 0.85f);
  EXPECT_NEAR(kf.state()(4), 4.0f, 0.3f);
  EXPECT_NEAR(kf.state()(5), -2.0f, 0.3f);
}

TEST(BoxKalman, WarpMovesTheBoxWithTheCamera) {
  BoxKalman kf(cv::Rect2f(100, 100, 40, 80));
  kf.warp(cv::Matx23f(1, 0, -30, 0, 1, 5));
  const auto b = kf.box();
  EXPECT_NEAR(b.x, 70.0f, 1e-3);
  EXPECT_NEAR(b.y, 105.0f, 1e-3);
  EXPECT_NEAR(b.width, 40.0f, 1e-3);
}

TEST(Tracker, LifecycleTentativeConfirmedLostRemoved) {
  TrackerConfig cfg;
  cfg.min_hits = 3;
  cfg.max_age = 5;
  Tracker t(cfg);
  const Detection d{{100, 100, 50, 100}, 2, 0.9f};
  t.update(1, std::vector<Detection>{d});
  ASSERT_EQ(t.live().size(), 1u);
  EXPECT_EQ(t.live()[0]->state, TrackState::kTentative);
  EXPECT_EQ(t.live()[0]->id, 0);
  t.update(2, std::vector<Detection>{d});
  t.update(3, std::vector<Detection>{d});
  EXPECT_EQ(t.live()[0]->state, TrackState::kConfirmed);
  EXPECT_EQ(t.live()[0]->id, 1);
  auto events = t.take_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, TrackEvent::Kind::kStarted);
  EXPECT_EQ(events[0].frame, 1);  // the track's first box, not the confirming one
  EXPECT_EQ(events[1].kind, TrackEvent::Kind::kClassSeen);
  EXPECT_EQ(events[1].class_id, 2);
  for (int f = 4; f <= 8; ++f) t.update(f, {});
  EXPECT_EQ(t.live()[0]->state, TrackState::kLost);
  EXPECT_TRUE(t.live()[0]->boxes.back().predicted);
  t.update(9, {});
  EXPECT_TRUE(t.live().empty());
  auto finished = t.take_finished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].boxes.size(), 3u) << "trailing predictions are trimmed";
  EXPECT_EQ(finished[0].last_frame(), 3);
  events = t.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, TrackEvent::Kind::kEnded);
  EXPECT_EQ(events[0].frame, 3);
}

TEST(Tracker, TentativeTrackDiesOnItsFirstMissAndNoIdIsSpent) {
  Tracker t;
  t.update(1, std::vector<Detection>{{{10, 10, 20, 20}, 0, 0.9f}});
  t.update(2, {});
  EXPECT_TRUE(t.live().empty());
  EXPECT_TRUE(t.take_finished().empty());
  EXPECT_EQ(t.confirmed_count(), 0);
}

TEST(Tracker, WeakDetectionKeepsATrackButCannotStartOne) {
  Tracker t;
  for (int f = 1; f <= 3; ++f) t.update(f, std::vector<Detection>{{{100.0f + f, 100, 40, 80}, 0, 0.9f}});
  // Partly occluded: only a weak detection, and a weak one elsewhere.
  t.update(4, std::vector<Detection>{{{104, 100, 40, 80}, 0, 0.3f}, {{600, 600, 40, 80}, 0, 0.3f}});
  ASSERT_EQ(t.live().size(), 1u);
  EXPECT_EQ(t.live()[0]->state, TrackState::kConfirmed);
  EXPECT_FALSE(t.live()[0]->boxes.back().predicted);
}

TEST(Tracker, ClassIsTheMajorityVote) {
  Tracker t;
  const int classes[] = {1, 1, 0, 1, 2, 1};
  for (int f = 1; f <= 6; ++f) t.update(f, std::vector<Detection>{{{100, 100, 40, 80}, classes[f - 1], 0.9f}});
  t.finish();
  const auto done = t.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].class_id(), 1);
}

struct SceneScore {
  MotMetrics metrics;
  int tracks = 0;
};

SceneScore score_scene(const testing::SceneConfig& cfg) {
  const auto scene = testing::make_scene(cfg);
  const auto result = track_mot(testing::detection_rows(scene), TrackerConfig{}, 2);
  return {evaluate_mot(scene.gt, result), scene.objects};
}

TEST(Tracker, MeetsMotTargetsOnGeneratedScenes) {
  // Crossing, entering, leaving, hidden up to 1 s; 10% dropouts, jitter,
  // weak scores, false positives, wrong classes. Each scene must reach the
  // MOTA and IDF1 targets; ID switches are held to 1 per 10 tracks over all
  // twenty (a single dense scene can have 3 or 4 in 25: two objects of one
  // size and class crossing head-on are a coin toss for any IoU tracker).
  int64_t switches = 0;
  int tracks = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    testing::SceneConfig cfg;
    cfg.seed = seed;
    const auto s = score_scene(cfg);
    const auto& m = s.metrics;
    SCOPED_TRACE("seed " + std::to_string(seed) + ": MOTA " + std::to_string(m.mota) + " IDF1 " +
                 std::to_string(m.idf1) + " IDSW " + std::to_string(m.id_switches) + " tracks " +
                 std::to_string(s.tracks) + " FP " + std::to_string(m.false_positives) + " FN " +
                 std::to_string(m.misses));
    EXPECT_GE(m.mota, 0.85);
    EXPECT_GE(m.idf1, 0.80);
    switches += m.id_switches;
    tracks += s.tracks;
  }
  std::printf("20 scenes: %lld ID switches in %d tracks\n", static_cast<long long>(switches), tracks);
  EXPECT_LE(switches * 10, tracks) << "at most 1 ID switch per 10 tracks";
}

// A rendered scene: textured world, people-sized boxes fixed in it, and a
// camera that pans fast for 20 frames (a turn). Detections are exact, so
// only the pan can break tracks.
struct PanResult {
  int ids = 0;
  int id_switches = 0;
};

PanResult run_pan(bool compensate) {
  const int width = 640, height = 360, frames = 80, pan_speed = 45;
  cv::Mat world(height, width + frames * pan_speed + 200, CV_8U);
  cv::randu(world, 0, 255);
  cv::GaussianBlur(world, world, {0, 0}, 2.0);
  const std::vector<cv::Rect2f> objects = {{250, 120, 40, 90}, {330, 150, 36, 80}, {420, 100, 44, 100}};
  Tracker tracker;
  CameraMotion motion;
  std::vector<MotRow> gt, dets;
  float camera_x = 0;
  for (int f = 1; f <= frames; ++f) {
    if (f > 30 && f <= 50) camera_x += pan_speed;
    std::vector<Detection> detections;
    for (size_t i = 0; i < objects.size(); ++i) {
      cv::Rect2f box = objects[i];
      box.x = objects[i].x + static_cast<float>(i) * 0.5f * f - camera_x;  // slow walkers
      detections.push_back({box, 0, 0.9f});
      gt.push_back({f, static_cast<int>(i) + 1, box, 1.0f, 0});
    }
    cv::Mat frame = world(cv::Rect(static_cast<int>(camera_x), 0, width, height)).clone();
    for (const auto& d : detections) cv::rectangle(frame, cv::Rect(d.box), cv::Scalar(255), cv::FILLED);
    std::vector<cv::Rect2f> boxes;
    for (const auto& d : detections) boxes.push_back(d.box);
    const auto m = motion.estimate(frame, boxes);
    tracker.update(f, detections, compensate ? std::optional<cv::Matx23f>(m) : std::nullopt);
  }
  tracker.finish();
  const auto rows = track_rows(tracker.take_finished(), 0);
  const auto metrics = evaluate_mot(gt, rows);
  return {metrics.predicted_ids, static_cast<int>(metrics.id_switches)};
}

TEST(Tracker, CameraMotionCompensationKeepsTracksThroughAPan) {
  const auto without = run_pan(false);
  const auto with = run_pan(true);
  EXPECT_GT(without.id_switches, 0) << "the pan must break tracks without compensation, or the test shows nothing";
  EXPECT_EQ(with.id_switches, 0);
  EXPECT_EQ(with.ids, 3);
}

TEST(CameraMotion, RecoversAKnownShift) {
  cv::Mat world(400, 900, CV_8U);
  cv::randu(world, 0, 255);
  cv::GaussianBlur(world, world, {0, 0}, 2.0);
  CameraMotion motion;
  motion.estimate(world(cv::Rect(100, 20, 640, 360)).clone());
  const auto m = motion.estimate(world(cv::Rect(130, 10, 640, 360)).clone());
  EXPECT_NEAR(m(0, 2), -30.0f, 1.0f);
  EXPECT_NEAR(m(1, 2), 10.0f, 1.0f);
  EXPECT_NEAR(m(0, 0), 1.0f, 0.02f);
}

long resident_kb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4;
}

struct SoakResult {
  int64_t frames = 0;
  size_t max_live = 0;
  int confirmed = 0;
  long rss_after_10min_kb = 0;
  long rss_end_kb = 0;
};

// 108,000 frames (1 h at 30 fps) of 10 objects coming and going, in
// 5-minute scenes; finished tracks are taken and dropped as a consumer would.
SoakResult one_hour_soak() {
  Tracker tracker;
  SoakResult r;
  for (uint32_t part = 0; part < 12; ++part) {
    testing::SceneConfig cfg;
    cfg.frames = 9000;
    cfg.seed = 100 + part;
    const auto scene = testing::make_scene(cfg);
    for (const auto& dets : scene.detections) {
      tracker.update(++r.frames, dets);
      r.max_live = std::max(r.max_live, tracker.live().size());
      tracker.take_finished();
      tracker.take_events();
    }
    if (part == 1) r.rss_after_10min_kb = resident_kb();
  }
  r.rss_end_kb = resident_kb();
  r.confirmed = tracker.confirmed_count();
  return r;
}

TEST(TrackerSoak, OneHourStreamKeepsTheTrackCountBounded) {
  const auto r = one_hour_soak();
  EXPECT_EQ(r.frames, 108000);
  EXPECT_LE(r.max_live, 60u) << "live tracks must stay bounded by what is on screen";
  EXPECT_GT(r.confirmed, 500);
}

TEST(TrackerSoak, OneHourStreamKeepsRssFlat) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS is not meaningful under ASan: its quarantine holds freed memory (checked in the optimised run)";
#endif
  const auto r = one_hour_soak();
  EXPECT_LT(r.rss_end_kb - r.rss_after_10min_kb, 8 * 1024)
      << "RSS grew from " << r.rss_after_10min_kb << " kB to " << r.rss_end_kb << " kB";
}

}  // namespace
}  // namespace dashloop::pipeline::vision
