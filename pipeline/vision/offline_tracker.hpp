// Tracking for pre-labels, where the whole clip is known before a label is
// written, so a track may use its future as well as its past:
//  1. the online Tracker (`online`: each pass's settings) runs forward, and once more backward, over the
//     steps. Backward, an object that was far and weak at first (an
//     oncoming pedestrian) is picked up where it is near and confident and
//     followed back through its weak detections (the second stage), which
//     the forward pass, waiting for `new_track_score`, never starts on;
//  2. the passes are merged on the detections they share: a backward track
//     lends its detections to the forward track it shares at least
//     `min_shared` with, and joins forward fragments of one object that do
//     not overlap in time (an ID switch undone); one sharing nothing stays
//     a track of its own;
//  3. gaps of at most `fill_gap` steps between two detections are filled
//     by linear interpolation (both ends known, unlike a live prediction);
//  4. a track's class is the vote of its detections;
//  5. a track is dropped only when it is both short (fewer than
//     `min_detections`) and weak (mean score under `min_mean_score`).
//
// Pure logic: detections in, tracks out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <opencv2/core/matx.hpp>

#include "vision/detection.hpp"
#include "vision/tracker.hpp"

namespace dashloop::pipeline::vision {

struct OfflineTrackerConfig {
  int min_shared = 2;             // detections a backward track must share with a forward one to join it
  int fill_gap = 10;              // steps: a longer gap between two detections stays empty
  int min_detections = 6;         // a track with fewer ...
  float min_mean_score = 0.5f;    // ... and a lower mean score is dropped
};

struct TrackStep {
  int64_t frame = 0;  // increases from step to step
  std::vector<Detection> detections;
  // Maps the previous step's image onto this one (CameraMotion); absent for
  // a fixed camera or the first step.
  std::optional<cv::Matx23f> motion;
};

// Tracks of the whole sequence, ids 1.. by first frame, boxes in frame order
// (interpolated ones `predicted`, score 0, detection -1).
std::vector<Track> track_offline(std::span<const TrackStep> steps, const TrackerConfig& online,
                                 const OfflineTrackerConfig& config);

}  // namespace dashloop::pipeline::vision
