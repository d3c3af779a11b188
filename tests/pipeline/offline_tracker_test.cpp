// The offline tracker of pre-labels: the backward pass recovers what the
// forward one never starts on, gaps are interpolated, only short and weak
// tracks are dropped, and on real vehicle-camera detections (MOT15 KITTI-17,
// public ACF detections) it keeps more of the objects than the live tracker.
#include <gtest/gtest.h>

#include <limits>

#include "vision/mot.hpp"
#include "vision/offline_tracker.hpp"

namespace dashloop::pipeline::vision {
namespace {

// One object moving right 4 px a step, scored by `score(step)`; steps with
// a negative score have no detection.
std::vector<TrackStep> one_object(int n, const std::function<float(int)>& score) {
  std::vector<TrackStep> steps(n);
  for (int i = 0; i < n; ++i) {
    steps[i].frame = 100 + 2 * i;  // frames need not be steps
    if (float s = score(i); s >= 0) steps[i].detections.push_back({cv::Rect2f(10.0f + 4 * i, 50, 40, 80), 0, s});
  }
  return steps;
}

std::vector<Track> online(const std::vector<TrackStep>& steps, const TrackerConfig& config) {
  Tracker tracker(config);
  for (const auto& s : steps) tracker.update(s.frame, s.detections);
  tracker.finish();
  return tracker.take_finished();
}

TEST(OfflineTracker, AnObjectWeakAtFirstIsTrackedFromItsFirstDetection) {
  // An oncoming pedestrian: far and weak (0.2) for 15 steps, then near and sure (0.9).
  const auto steps = one_object(30, [](int i) { return i < 15 ? 0.2f : 0.9f; });
  const auto live = online(steps, {});
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].first_frame(), steps[15].frame) << "the live tracker starts only on sure detections";
  const auto offline = track_offline(steps, {}, {});
  ASSERT_EQ(offline.size(), 1u);
  EXPECT_EQ(offline[0].id, 1);
  EXPECT_EQ(offline[0].first_frame(), steps[0].frame);
  EXPECT_EQ(offline[0].boxes.size(), 30u);
  EXPECT_EQ(offline[0].boxes[3].detection, 0);
}

TEST(OfflineTracker, GapsUpToTheBoundAreInterpolatedLongerOnesStayEmpty) {
  // Missed at steps 10-14 (5 steps) and 25-44 (20 steps).
  const auto steps = one_object(60, [](int i) { return (i >= 10 && i < 15) || (i >= 25 && i < 45) ? -1.0f : 0.9f; });
  OfflineTrackerConfig config;
  config.fill_gap = 10;
  TrackerConfig live;
  live.max_age = 30;
  const auto tracks = track_offline(steps, live, config);
  ASSERT_EQ(tracks.size(), 1u);
  const auto& b = tracks[0].boxes;
  ASSERT_EQ(b.size(), 60u - 20u);
  // Step 12: halfway between steps 9 and 15 would be 10 + 4 * 12, exactly where the object was.
  EXPECT_EQ(b[12].frame, steps[12].frame);
  EXPECT_TRUE(b[12].predicted);
  EXPECT_EQ(b[12].detection, -1);
  EXPECT_NEAR(b[12].box.x, 10.0f + 4 * 12, 1e-3);
  EXPECT_FALSE(b[25].predicted);
  EXPECT_EQ(b[25].frame, steps[45].frame) << "a 20-step gap is left empty";
}

TEST(OfflineTracker, OnlyShortAndWeakTracksAreDropped) {
  OfflineTrackerConfig config;  // fewer than 6 detections and mean under 0.5: dropped
  auto short_weak = one_object(5, [](int i) { return i < 3 ? 0.6f : 0.15f; });  // mean 0.42
  EXPECT_TRUE(track_offline(short_weak, {}, config).empty());
  auto short_sure = one_object(5, [](int) { return 0.9f; });
  EXPECT_EQ(track_offline(short_sure, {}, config).size(), 1u);
  auto long_weak = one_object(12, [](int i) { return i < 3 ? 0.6f : 0.15f; });
  EXPECT_EQ(track_offline(long_weak, {}, config).size(), 1u);
}

TEST(OfflineTracker, TheClassIsTheVoteOfTheDetections) {
  auto steps = one_object(10, [](int) { return 0.9f; });
  for (int i = 0; i < 3; ++i) steps[i].detections[0].class_id = 7;
  const auto tracks = track_offline(steps, {}, {});
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].class_id(), 0);
  EXPECT_EQ(tracks[0].class_votes.at(7), 3);
}

// Real detections from a moving car: the third of them the live tracker
// loses is mostly the start of each track (an object seen weak before it is
// sure), which the backward pass recovers.
TEST(OfflineTracker, KeepsMoreOfRealVehicleCameraDetectionsThanTheLiveTracker) {
  const std::string seq = std::string(DASHLOOP_SOURCE_DIR) + "/tests/data/mot15/KITTI-17/";
  auto det = read_mot(seq + "det/det.txt");
  auto gt = read_mot(seq + "gt/gt.txt");
  ASSERT_TRUE(det.ok() && gt.ok());
  ASSERT_TRUE(calibrate_scores(*det, -std::numeric_limits<float>::infinity(), "auto").ok());
  const auto live = evaluate_mot(*gt, track_mot(*det, {}, 2));
  const auto offline = evaluate_mot(*gt, track_mot_offline(*det, {}, {}));
  EXPECT_GT(offline.recall, live.recall + 0.08) << "live " << live.recall << ", offline " << offline.recall;
  EXPECT_GT(offline.precision, 0.9);
  EXPECT_GT(offline.hota, live.hota + 0.03);
  EXPECT_GT(offline.idf1, live.idf1);
}

}  // namespace
}  // namespace dashloop::pipeline::vision
