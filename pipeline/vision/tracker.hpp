// ByteTrack-class multi-object tracker: one BoxKalman per track, two-stage
// association (confident detections first, then weak ones against the
// tracks still unmatched, which is what keeps a track through partial
// occlusion), IoU cost with gating, optimal assignment, and optional camera
// motion compensation (BoT-SORT style: the tracks' predictions move with the
// estimated global image motion, so a turning car does not lose them).
//
// Lifecycle: tentative (needs `min_hits` matches in a row) -> confirmed ->
// lost (predicted, not seen; re-found by association) -> removed after
// `max_age` steps lost. A track gets its id when it is confirmed, so ids are
// dense and stable for the tracker's life (one drive). Its class is the
// majority vote of its detections.
//
// Pure logic: boxes in, tracks and events out. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include <opencv2/core/matx.hpp>

#include "vision/box_kalman.hpp"
#include "vision/detection.hpp"

namespace dashloop::pipeline::vision {

struct TrackerConfig {
  float high_score = 0.5f;       // detections at or above: first association stage
  float low_score = 0.1f;        // below: ignored; between: second stage only
  float new_track_score = 0.6f;  // an unmatched detection at or above starts a track
  float match_iou = 0.2f;        // least IoU, first stage
  float low_match_iou = 0.5f;    // least IoU, second stage (weak detections)
  float tentative_match_iou = 0.3f;  // least IoU for a tentative track
  float class_penalty = 0.3f;    // added to 1 - IoU when the classes differ
  int min_hits = 3;              // matches in a row before a track is confirmed
  int max_age = 30;              // steps a lost track is kept
};

enum class TrackState { kTentative, kConfirmed, kLost, kRemoved };

struct TrackBox {
  int64_t frame = 0;
  cv::Rect2f box;
  float score = 0.0f;    // detection score; 0 for a predicted box
  int class_id = 0;      // of the detection; -1 for a predicted box
  bool predicted = false;  // no detection: the filter's prediction while lost
  int detection = -1;      // index of the matched detection in its frame's list; -1 when predicted
};

struct Track {
  int id = 0;  // 0 until confirmed
  TrackState state = TrackState::kTentative;
  int hits = 0;                // matches in a row while tentative; total afterwards
  int steps_since_match = 0;
  std::vector<TrackBox> boxes;  // matched and predicted, in frame order
  std::map<int, int> class_votes;

  int class_id() const;  // the majority class (ties: the lower id)
  int64_t first_frame() const { return boxes.empty() ? 0 : boxes.front().frame; }
  int64_t last_frame() const;  // of the last matched box
  float mean_score() const;
};

struct TrackEvent {
  enum class Kind { kStarted, kEnded, kClassSeen };
  Kind kind;
  int64_t frame = 0;  // started: first box; ended: last matched box; class seen: when confirmed
  int track_id = 0;
  int class_id = 0;
};
const char* to_string(TrackEvent::Kind k);

class Tracker {
 public:
  explicit Tracker(TrackerConfig config = {});

  // One step. `frame` increases; `camera_motion` maps the previous step's
  // image onto this one (from CameraMotion), or is absent for a fixed camera.
  void update(int64_t frame, std::span<const Detection> detections,
              const std::optional<cv::Matx23f>& camera_motion = std::nullopt);
  // End of stream: every live confirmed track is finished.
  void finish();

  // Tracks not yet removed (tentative, confirmed, lost).
  std::vector<const Track*> live() const;
  // Confirmed tracks removed since the last call, trailing predictions trimmed.
  std::vector<Track> take_finished();
  std::vector<TrackEvent> take_events();

  int confirmed_count() const { return next_id_ - 1; }

 private:
  struct Slot {
    Track track;
    BoxKalman filter;
  };
  void confirm(Track& track, int64_t frame);
  void end_track(Slot& slot);

  TrackerConfig config_;
  std::vector<Slot> slots_;
  std::vector<Track> finished_;
  std::vector<TrackEvent> events_;
  std::vector<bool> class_seen_;
  int next_id_ = 1;
};

}  // namespace dashloop::pipeline::vision
