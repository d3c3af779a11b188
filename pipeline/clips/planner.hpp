// Clip planner: turns what a drive's analysis found (tracks, scene cuts,
// triggers, operator marks) into short clip spans worth labelling, plus a
// random sample so the data set is not only what the rules find.
//
// Pure and deterministic (the sample is seeded): frames in, spans out. Every
// span starts on a keyframe and ends before one (or at the drive's end), so
// the cutter copies it without re-encoding. docs/CLIPS.md has the rules.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::pipeline::clips {

struct PlannerConfig {
  double pre_roll_s = 2.0;
  double post_roll_s = 3.0;
  double min_s = 5.0;
  double max_s = 30.0;  // at least 2 x min_s, so a long span splits into pieces no shorter than min_s
  // A track of one of these classes (empty: any) followed at least this long.
  double track_min_s = 2.0;
  std::vector<std::string> track_classes;
  // A pedestrian whose box is at least this fraction of the frame's height (0: off).
  double person_min_height = 0.25;
  std::vector<std::string> person_classes = {"person", "pedestrian"};
  bool scene_cuts = true;
  // One random span in every period of this length (0: off).
  double sample_every_s = 600.0;
};

// Returns why a config cannot plan (names the key), or ok.
Status validate(const PlannerConfig& config);

struct TrackFacts {
  int track_no = 0;
  std::string label;
  int64_t first_frame = 0;
  int64_t last_frame = 0;
  double max_height = 0;  // tallest box, as a fraction of the frame's height
  int64_t tallest_frame = 0;
};

struct Trigger {
  int64_t frame = 0;
  std::string kind;  // "trigger" (external: button, CAN, IMU) or "mark" (operator)
  std::string note;
};

struct DriveFacts {
  double fps = 30;
  int64_t frames = 0;
  std::vector<int64_t> keyframes;  // the stream's keyframes (GOP starts), ascending frame numbers
  std::vector<TrackFacts> tracks;
  std::vector<int64_t> scene_cuts;
  std::vector<Trigger> triggers;
  // Share of each class among all tracks seen so far (fleet-wide): rare classes rank higher.
  std::map<std::string, double> class_share;
  uint64_t seed = 0;
};

struct Reason {
  std::string rule;  // track | person | scene_cut | trigger | mark | sample
  int64_t frame = 0;
  std::string detail;
};

struct ClipPlan {
  int64_t planned_start = 0;  // frames, after rolls, bounds and merging
  int64_t planned_end = 0;    // excluded
  int64_t start_frame = 0;    // a keyframe
  int64_t end_frame = 0;      // a keyframe or the drive's end; excluded
  std::vector<Reason> reasons;
  std::vector<int> track_nos;  // tracks seen inside [start_frame, end_frame)
  double priority = 0;         // 0..1, the sum of the parts
  std::map<std::string, double> priority_parts;  // trigger, tracks, rare_class
};

// Spans sorted by start, not overlapping.
std::vector<ClipPlan> plan_clips(const DriveFacts& drive, const PlannerConfig& config);

// The weight a rule's kind gives a span's priority (the strongest reason wins).
double trigger_weight(const std::string& rule);

// The clip budget (docs/CLIPS.md "Budget"): what a camera's hour of driving
// may send to review. A clip asked for (a trigger, a mark) or drawn as the
// random sample is always kept and counts; the rest are taken by priority
// while the seconds last, each dropped when it is a near-duplicate (the same
// view and the same classes) of a clip already kept.
struct ClipView {
  std::vector<uint64_t> dhashes;  // the keyframes it shows (or the one before it): its view
  std::set<std::string> classes;  // its tracks' labels
};

// Whether two clips show the same view (some pair of their keyframes within
// `hamming` dHash bits) with the same classes.
bool near_duplicate(const ClipView& a, const ClipView& b, int hamming);

struct Selection {
  struct Dropped {
    size_t plan = 0;  // index into the plans
    std::string why;
  };
  std::vector<size_t> kept;  // indices into the plans, ascending
  std::vector<Dropped> dropped;
  double kept_s = 0;  // seconds of the kept clips
};

// `views[i]` is plans[i]'s; `recent` the clips already kept in the budget's
// window; `allowed_s` the seconds left in it (may be <= 0).
Selection select_clips(const std::vector<ClipPlan>& plans, const std::vector<ClipView>& views, double fps,
                       double allowed_s, const std::vector<ClipView>& recent, int duplicate_hamming);

}  // namespace dashloop::pipeline::clips
