// Generated multi-object scenes with ground truth, for the tracker's tests,
// soak run and benchmarks: objects enter, cross and leave, some are hidden
// for up to max_occlusion_s, and a simulated detector drops boxes, jitters
// them, scores them and adds false positives. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <vector>

#include "vision/detection.hpp"
#include "vision/mot.hpp"

namespace dashloop::testing {

struct SceneConfig {
  int width = 1920;
  int height = 1080;
  int frames = 900;
  double fps = 30.0;
  int concurrent = 10;              // objects on screen at once
  double dropout = 0.10;            // share of visible objects the detector misses
  double jitter = 0.03;             // box noise, as a share of its size (std dev)
  double weak_share = 0.15;         // true detections scored under 0.5
  double false_positives = 0.3;     // per frame
  double occlusion_chance = 0.3;    // share of objects hidden once
  double max_occlusion_s = 1.0;
  int classes = 3;
  double class_noise = 0.05;        // share of detections with a wrong class
  uint32_t seed = 1;
};

struct Scene {
  std::vector<pipeline::vision::MotRow> gt;  // visible objects only, 1-based frames
  std::vector<std::vector<pipeline::vision::Detection>> detections;  // [frame - 1]
  std::vector<int> gt_class;  // by object id - 1
  int objects = 0;
};

Scene make_scene(const SceneConfig& config);

// Detections as MOTChallenge rows (id -1) for `dashloop track`.
std::vector<pipeline::vision::MotRow> detection_rows(const Scene& scene);

}  // namespace dashloop::testing
