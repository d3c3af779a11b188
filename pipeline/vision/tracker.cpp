#include "vision/tracker.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "vision/assignment.hpp"

namespace dashloop::pipeline::vision {

const char* to_string(TrackEvent::Kind k) {
  switch (k) {
    case TrackEvent::Kind::kStarted: return "track.started";
    case TrackEvent::Kind::kEnded: return "track.ended";
    case TrackEvent::Kind::kClassSeen: return "class.seen";
  }
  return "?";
}

int Track::class_id() const {
  int best = -1, votes = 0;
  for (const auto& [cls, n] : class_votes)
    if (n > votes) best = cls, votes = n;
  return std::max(best, 0);
}

int64_t Track::last_frame() const {
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it)
    if (!it->predicted) return it->frame;
  return first_frame();
}

float Track::mean_score() const {
  double sum = 0;
  int n = 0;
  for (const auto& b : boxes)
    if (!b.predicted) sum += b.score, ++n;
  return n ? static_cast<float>(sum / n) : 0.0f;
}

Tracker::Tracker(TrackerConfig config) : config_(config) {}

std::vector<const Track*> Tracker::live() const {
  std::vector<const Track*> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) out.push_back(&s.track);
  return out;
}

namespace {

constexpr float kNoMatch = std::numeric_limits<float>::infinity();

// Matches `tracks` (indices into slots) against `dets` (indices into the
// detections) by 1 - IoU of the predicted box, gated at `min_iou`. Returns
// the pairs and leaves the unmatched indices in the two vectors. A
// detection of another class than the track's costs `class_penalty` more,
// which settles most swaps where two objects overlap.
template <typename Slots>
std::vector<std::pair<int, int>> associate(const Slots& slots, std::vector<int>& tracks,
                                           std::span<const Detection> all, std::vector<int>& dets,
                                           float min_iou, float class_penalty) {
  std::vector<std::pair<int, int>> pairs;
  if (tracks.empty() || dets.empty()) return pairs;
  CostMatrix cost(static_cast<int>(tracks.size()), static_cast<int>(dets.size()), kNoMatch);
  for (size_t t = 0; t < tracks.size(); ++t) {
    const cv::Rect2f predicted = slots[tracks[t]].filter.box();
    const int cls = slots[tracks[t]].track.class_id();
    for (size_t d = 0; d < dets.size(); ++d) {
      const float overlap = iou(predicted, all[dets[d]].box);
      // Gate on IoU alone; the penalty only ranks the pairs that pass.
      cost.at(static_cast<int>(t), static_cast<int>(d)) =
          overlap < min_iou ? kNoMatch : 1.0f - overlap + (all[dets[d]].class_id != cls ? class_penalty : 0.0f);
    }
  }
  const auto matches = solve_assignment(cost, 1.0f - min_iou + class_penalty + 1e-6f);
  std::vector<char> track_used(tracks.size()), det_used(dets.size());
  for (const auto& m : matches) {
    pairs.emplace_back(tracks[m.row], dets[m.col]);
    track_used[m.row] = det_used[m.col] = 1;
  }
  auto keep_unused = [](std::vector<int>& v, const std::vector<char>& used) {
    size_t w = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (!used[i]) v[w++] = v[i];
    v.resize(w);
  };
  keep_unused(tracks, track_used);
  keep_unused(dets, det_used);
  return pairs;
}

}  // namespace

void Tracker::update(int64_t frame, std::span<const Detection> detections,
                     const std::optional<cv::Matx23f>& camera_motion) {
  for (auto& s : slots_) {
    if (camera_motion) s.filter.warp(*camera_motion);
    s.filter.predict();
  }

  std::vector<int> high, low;
  for (int i = 0; i < static_cast<int>(detections.size()); ++i) {
    const float score = detections[i].score;
    if (score >= config_.high_score) high.push_back(i);
    else if (score >= config_.low_score) low.push_back(i);
  }
  std::vector<int> active, tentative;
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i)
    (slots_[i].track.state == TrackState::kTentative ? tentative : active).push_back(i);

  // Stage 1: confirmed and lost tracks against confident detections.
  auto matched = associate(slots_, active, detections, high, config_.match_iou, config_.class_penalty);
  // Stage 2: the confirmed tracks left (not the lost ones) against weak detections.
  std::vector<int> still_tracked, lost_left;
  for (int t : active)
    (slots_[t].track.state == TrackState::kConfirmed ? still_tracked : lost_left).push_back(t);
  auto second = associate(slots_, still_tracked, detections, low, config_.low_match_iou, config_.class_penalty);
  matched.insert(matched.end(), second.begin(), second.end());
  // Stage 3: tentative tracks against the confident detections left.
  auto third = associate(slots_, tentative, detections, high, config_.tentative_match_iou, config_.class_penalty);
  matched.insert(matched.end(), third.begin(), third.end());

  for (const auto& [slot_index, det_index] : matched) {
    auto& slot = slots_[slot_index];
    const Detection& det = detections[det_index];
    Track& track = slot.track;
    slot.filter.correct(det.box);
    // A lost track re-found: its predicted boxes become the occluded span.
    track.boxes.push_back({frame, det.box, det.score, det.class_id, false, det_index});
    ++track.class_votes[det.class_id];
    ++track.hits;
    track.steps_since_match = 0;
    if (track.state == TrackState::kLost) track.state = TrackState::kConfirmed;
    if (track.state == TrackState::kTentative && track.hits >= config_.min_hits) confirm(track, frame);
  }

  // Unmatched: a tentative track dies, a confirmed one is lost, a lost one ages.
  auto on_miss = [&](int slot_index) {
    auto& slot = slots_[slot_index];
    Track& track = slot.track;
    if (track.state == TrackState::kTentative) {
      track.state = TrackState::kRemoved;
      return;
    }
    track.state = TrackState::kLost;
    ++track.steps_since_match;
    track.boxes.push_back({frame, slot.filter.box(), 0.0f, -1, true});
    if (track.steps_since_match > config_.max_age) end_track(slot);
  };
  for (int t : tentative) on_miss(t);
  for (int t : still_tracked) on_miss(t);
  for (int t : lost_left) on_miss(t);

  // New tentative tracks from confident detections no track explains.
  for (int d : high) {
    const Detection& det = detections[d];
    if (det.score < config_.new_track_score) continue;
    Slot slot{Track{}, BoxKalman(det.box)};
    slot.track.boxes.push_back({frame, det.box, det.score, det.class_id, false, d});
    slot.track.class_votes[det.class_id] = 1;
    slot.track.hits = 1;
    if (config_.min_hits <= 1) confirm(slot.track, frame);
    slots_.push_back(std::move(slot));
  }

  std::erase_if(slots_, [](const Slot& s) { return s.track.state == TrackState::kRemoved; });
}

void Tracker::confirm(Track& track, int64_t frame) {
  track.state = TrackState::kConfirmed;
  track.id = next_id_++;
  const int cls = track.class_id();
  events_.push_back({TrackEvent::Kind::kStarted, track.first_frame(), track.id, cls});
  if (cls >= static_cast<int>(class_seen_.size())) class_seen_.resize(cls + 1, false);
  if (!class_seen_[cls]) {
    class_seen_[cls] = true;
    events_.push_back({TrackEvent::Kind::kClassSeen, frame, track.id, cls});
  }
}

void Tracker::end_track(Slot& slot) {
  Track& track = slot.track;
  track.state = TrackState::kRemoved;
  while (!track.boxes.empty() && track.boxes.back().predicted) track.boxes.pop_back();
  events_.push_back({TrackEvent::Kind::kEnded, track.last_frame(), track.id, track.class_id()});
  finished_.push_back(std::move(track));
}

void Tracker::finish() {
  for (auto& s : slots_)
    if (s.track.state == TrackState::kConfirmed || s.track.state == TrackState::kLost) end_track(s);
  slots_.clear();
}

std::vector<Track> Tracker::take_finished() { return std::exchange(finished_, {}); }
std::vector<TrackEvent> Tracker::take_events() { return std::exchange(events_, {}); }

}  // namespace dashloop::pipeline::vision
