// KeyframeSelector: picks the frames worth labelling from a stream of
// FrameScores. Pure logic: no I/O, no pixels beyond the scores' thumbnails.
//
// Rules, in the order they act:
//  * A hard cut is a frame whose content change stands out against the
//    recent baseline (adaptive, as in PySceneDetect's AdaptiveDetector).
//  * A gradual transition (dissolve, fade) changes each frame too little to
//    stand out, so it is found over `dissolve_s`: the distance between a
//    frame and the one dissolve_s before it, with the camera's pan undone,
//    against that distance's own baseline. One keyframe per transition.
//  * Neither is a change of exposure or a shaken camera: a cut or a dissolve
//    must also change the picture's structure (structure_distance: shift,
//    gain and offset undone) by `structure_threshold`, so auto-exposure, a
//    tunnel exit's brightness step or a jolt of the mount yield no keyframe.
//  * A transient is not a transition: when the picture returns to what it
//    was before the run within `flash_max_s` (a flash, headlights, a tunnel
//    exit, a few blurred or black frames), the run is dropped.
//  * While the scene keeps changing, at least one keyframe every `max_gap_s`;
//    a frame that is a near-duplicate (dHash distance) of a recent keyframe is
//    not taken for this rule, so a car waiting at a red light yields one frame.
//  * No two keyframes closer than `min_gap_s`.
//  * A frame that is nearly all black, blown out or blank is never chosen.
//  * Each rule opens a window of `window_s`; the sharpest well-exposed frame
//    in it is chosen, so a blurred or black frame loses to a sharp neighbour.
//
// Use: push() every analysed frame in order; when a step says `hold`, keep
// that frame's pixels (it is the best candidate so far, replacing any held
// before); a keyframe in `selected` is the held frame, or the frame just
// pushed when the same step made it the best and closed its window.
// finish() at the end of the stream. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "vision/frame_scores.hpp"

namespace dashloop::pipeline::vision {

struct SelectorConfig {
  double min_gap_s = 0.5;
  double max_gap_s = 10.0;
  double window_s = 0.5;
  double cut_threshold = 10.0;  // least content change of a transition (0..255)
  double cut_ratio = 3.0;       // content change over the recent baseline
  double flash_max_s = 0.4;     // a transient returns within this
  double return_ratio = 0.5;    // ...to within this share of its peak change
  int duplicate_hamming = 10;   // dHash bits (of 64) under which two frames are one
  int duplicate_memory = 8;     // recent keyframes a frame is compared with
  double baseline_s = 1.0;      // span of the adaptive baseline
  double max_transition_s = 2.0;  // a longer run is judged as it stands
  double dissolve_s = 1.0;        // span over which gradual transitions are measured
  double dissolve_threshold = 15.0;  // least change over dissolve_s, pan undone (0..255)
  double dissolve_blend_max = 0.3;   // a dissolve's middle frame is this close to the mix of its ends
  double structure_threshold = 12.0; // least structure change of a cut or dissolve (structure_distance)
};

enum class Reason { kStart, kCut, kDissolve, kInterval };
const char* to_string(Reason r);

struct Keyframe {
  int64_t index = 0;
  double t_s = 0.0;
  Reason reason = Reason::kStart;
  int64_t trigger_index = 0;  // the frame that caused it: the first frame of a new shot for a cut
  double trigger_t_s = 0.0;
  double change = 0.0;        // size of the transition, or dHash distance for an interval frame
  double content = 0.0;
  double sharpness = 0.0;
  double brightness = 0.0;
  double quality = 0.0;
  uint64_t dhash = 0;
};

struct SelectorStep {
  bool hold = false;
  std::vector<Keyframe> selected;
};

class KeyframeSelector {
 public:
  explicit KeyframeSelector(SelectorConfig config = {}) : cfg_(config) {}

  // Whether this frame (scored without sharpness) may enter a window and so
  // needs its sharpness measured before push(); the others skip that cost.
  bool needs_quality(const FrameScores& frame) const;
  SelectorStep push(const FrameScores& frame);
  SelectorStep finish();

 private:
  struct Candidate {  // a run of changing frames that may be a cut
    cv::Mat pre_thumb;  // the frame before the run
    double start_t = 0.0;
    double last_elevated_t = 0.0;
    double baseline = 0.0;
    double peak_content = 0.0;
    double peak_distance = 0.0;
  };
  struct Window {  // frames among which one keyframe is chosen
    Reason reason = Reason::kStart;
    int64_t trigger_index = 0;
    double trigger_t = 0.0;
    double change = 0.0;
    double close_t = 0.0;
    bool provisional = false;  // waits for its candidate to be confirmed
    std::optional<FrameScores> best;
  };

  struct Gradual {  // a gradual transition in progress
    int64_t peak_index = 0;
    double peak_t = 0.0;
    double peak = 0.0;
    double start_t = 0.0;
    double blend_error = std::numeric_limits<double>::infinity();  // the lowest over the run
    double structure = 0.0;  // the largest structure change over the span during the run
  };

  double baseline() const;
  void track_gradual(const FrameScores& f, SelectorStep& step);
  bool elevated(const FrameScores& f, double base) const;
  bool is_duplicate(uint64_t hash) const;
  bool interval_due(const FrameScores& f) const;
  void consider(const FrameScores& f, SelectorStep& step);
  void close_window(SelectorStep& step);
  void resolve_candidate(const FrameScores& f);

  SelectorConfig cfg_;
  std::deque<std::pair<double, double>> baseline_;  // (t, content) of ordinary frames
  std::optional<Candidate> candidate_;
  std::optional<Window> window_;
  std::optional<FrameScores> prev_;
  std::deque<std::pair<double, cv::Mat>> ring_;          // (t, thumb) over dissolve_s
  std::deque<std::pair<double, double>> long_baseline_;  // (t, aligned distance over dissolve_s)
  std::optional<Gradual> gradual_;
  double gradual_quiet_until_t_ = -1e9;                  // after a cut or transient
  double frame_period_ = 1.0 / 30;
  double last_selected_t_ = -1e9;
  std::deque<uint64_t> recent_hashes_;
};

}  // namespace dashloop::pipeline::vision
