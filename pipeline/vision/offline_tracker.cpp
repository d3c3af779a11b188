#include "vision/offline_tracker.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

#include <opencv2/imgproc.hpp>

namespace dashloop::pipeline::vision {

namespace {

// One pass of the online tracker; box frames are step indices.
std::vector<Track> run_pass(std::span<const TrackStep> steps, const TrackerConfig& config, bool backward) {
  Tracker tracker(config);
  const int n = static_cast<int>(steps.size());
  for (int j = 0; j < n; ++j) {
    const int i = backward ? n - 1 - j : j;
    std::optional<cv::Matx23f> motion;
    if (!backward) {
      motion = steps[i].motion;
    } else if (i + 1 < n && steps[i + 1].motion) {
      // Backward, the previous step is i + 1: undo its motion onto this one.
      cv::Matx23f inverse;
      cv::invertAffineTransform(*steps[i + 1].motion, inverse);
      motion = inverse;
    }
    tracker.update(j, steps[i].detections, motion);
  }
  tracker.finish();
  auto tracks = tracker.take_finished();
  if (backward)
    for (auto& t : tracks) {
      for (auto& b : t.boxes) b.frame = n - 1 - b.frame;
      std::reverse(t.boxes.begin(), t.boxes.end());
    }
  return tracks;
}

// A track being merged: its detections by step.
struct Merged {
  std::map<int64_t, TrackBox> boxes;
  bool joined = false;  // moved into another
  int64_t first() const { return boxes.begin()->first; }
  int64_t last() const { return boxes.rbegin()->first; }
};

using DetectionKey = std::pair<int64_t, int>;  // step, index in its detections

}  // namespace

std::vector<Track> track_offline(std::span<const TrackStep> steps, const TrackerConfig& online,
                                 const OfflineTrackerConfig& config) {
  const auto forward = run_pass(steps, online, false);
  auto backward = run_pass(steps, online, true);

  std::vector<Merged> merged;
  std::vector<int> parent;
  std::map<DetectionKey, int> owner;
  auto root = [&](int i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const auto& t : forward) {
    Merged m;
    for (const auto& b : t.boxes)
      if (!b.predicted) {
        m.boxes[b.frame] = b;
        owner[{b.frame, b.detection}] = static_cast<int>(merged.size());
      }
    if (m.boxes.empty()) continue;
    parent.push_back(static_cast<int>(merged.size()));
    merged.push_back(std::move(m));
  }

  auto detections = [](const Track& t) {
    return std::count_if(t.boxes.begin(), t.boxes.end(), [](const TrackBox& b) { return !b.predicted; });
  };
  // Longest first, so a long backward track settles a merge before its fragments.
  std::stable_sort(backward.begin(), backward.end(),
                   [&](const Track& a, const Track& b) { return detections(a) > detections(b); });
  for (const auto& t : backward) {
    std::map<int, int> shared;  // merged track -> detections in common
    for (const auto& b : t.boxes)
      if (!b.predicted)
        if (auto it = owner.find({b.frame, b.detection}); it != owner.end()) ++shared[root(it->second)];
    std::vector<std::pair<int, int>> partners(shared.begin(), shared.end());
    std::erase_if(partners, [&](const auto& p) { return p.second < config.min_shared; });
    std::stable_sort(partners.begin(), partners.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    int into = -1;
    for (const auto& [index, count] : partners) {
      if (into < 0) {
        into = index;
        continue;
      }
      // Two forward tracks this one object's backward track runs through:
      // one object, cut in two, unless they are seen at the same time.
      Merged& a = merged[into];
      Merged& b = merged[index];
      if (b.first() <= a.last() && a.first() <= b.last()) continue;
      a.boxes.merge(b.boxes);
      b.joined = true;
      parent[index] = into;
    }
    if (into < 0) {
      into = static_cast<int>(merged.size());
      parent.push_back(into);
      merged.emplace_back();
    }
    for (const auto& b : t.boxes) {
      if (b.predicted || owner.contains({b.frame, b.detection}) || merged[into].boxes.contains(b.frame)) continue;
      merged[into].boxes[b.frame] = b;
      owner[{b.frame, b.detection}] = into;
    }
  }

  std::vector<Track> out;
  for (auto& m : merged) {
    if (m.joined || m.boxes.empty()) continue;
    Track t;
    t.state = TrackState::kConfirmed;
    double score_sum = 0;
    const TrackBox* previous = nullptr;
    for (const auto& [step, b] : m.boxes) {
      if (previous && step - previous->frame > 1 && step - previous->frame - 1 <= config.fill_gap) {
        const double f0 = double(steps[previous->frame].frame), f1 = double(steps[step].frame);
        for (int64_t s = previous->frame + 1; s < step; ++s) {
          const float w = float((double(steps[s].frame) - f0) / (f1 - f0));
          const cv::Rect2f& p = previous->box;
          const cv::Rect2f& q = b.box;
          const cv::Rect2f box(p.x + w * (q.x - p.x), p.y + w * (q.y - p.y), p.width + w * (q.width - p.width),
                               p.height + w * (q.height - p.height));
          t.boxes.push_back({steps[s].frame, box, 0.0f, -1, true, -1});
        }
      }
      TrackBox box = b;
      box.frame = steps[step].frame;
      t.boxes.push_back(box);
      ++t.class_votes[b.class_id];
      score_sum += b.score;
      previous = &b;  // its frame is still the step index
    }
    t.hits = static_cast<int>(m.boxes.size());
    if (t.hits < config.min_detections && score_sum / t.hits < config.min_mean_score) continue;
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(), [](const Track& a, const Track& b) { return a.first_frame() < b.first_frame(); });
  int id = 1;
  for (auto& t : out) t.id = id++;
  return out;
}

}  // namespace dashloop::pipeline::vision
