#include "vision/keyframe_selector.hpp"

#include <algorithm>
#include <numeric>

namespace dashloop::pipeline::vision {

const char* to_string(Reason r) {
  switch (r) {
    case Reason::kStart: return "start";
    case Reason::kCut: return "cut";
    case Reason::kDissolve: return "dissolve";
    case Reason::kInterval: return "interval";
  }
  return "?";
}

double KeyframeSelector::baseline() const {
  // The median: one cut's spike must not raise the bar for the next.
  if (baseline_.empty()) return 0.0;
  std::vector<double> v;
  v.reserve(baseline_.size());
  for (const auto& [t, c] : baseline_) v.push_back(c);
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

bool KeyframeSelector::elevated(const FrameScores& f, double base) const {
  // Half a cut's ratio and a third of its floor: a dissolve spreads its
  // change over many frames, each of which stands out only a little.
  return f.content >= cfg_.cut_threshold / 3 && f.content >= 0.5 * cfg_.cut_ratio * base;
}

bool KeyframeSelector::is_duplicate(uint64_t hash) const {
  return std::any_of(recent_hashes_.begin(), recent_hashes_.end(),
                     [&](uint64_t h) { return hamming(h, hash) < cfg_.duplicate_hamming; });
}

void KeyframeSelector::consider(const FrameScores& f, SelectorStep& step) {
  if (!window_ || f.t_s < last_selected_t_ + cfg_.min_gap_s) return;
  if (!window_->best || f.quality() > window_->best->quality()) {
    window_->best = f;
    window_->best->thumb = cv::Mat();  // the selector keeps no pixels of candidates
    step.hold = true;
  }
}

void KeyframeSelector::close_window(SelectorStep& step) {
  if (!window_) return;
  Window w = std::move(*window_);
  window_.reset();
  if (!w.best) return;
  const FrameScores& b = *w.best;
  if (w.reason == Reason::kInterval && is_duplicate(b.dhash)) return;
  Keyframe k;
  k.index = b.index;
  k.t_s = b.t_s;
  k.reason = w.reason;
  k.trigger_index = w.trigger_index;
  k.trigger_t_s = w.trigger_t;
  k.change = w.change;
  k.content = b.content;
  k.sharpness = b.sharpness;
  k.brightness = b.brightness;
  k.quality = b.quality();
  k.dhash = b.dhash;
  if (w.reason == Reason::kInterval) {
    int nearest = 64;
    for (uint64_t h : recent_hashes_) nearest = std::min(nearest, hamming(h, b.dhash));
    k.change = nearest;
  }
  step.selected.push_back(k);
  last_selected_t_ = b.t_s;
  recent_hashes_.push_back(b.dhash);
  while (int(recent_hashes_.size()) > cfg_.duplicate_memory) recent_hashes_.pop_front();
}

void KeyframeSelector::resolve_candidate(const FrameScores& f, SelectorStep& step) {
  const Candidate c = *candidate_;
  candidate_.reset();
  const double after = thumb_distance(c.pre_thumb, f.thumb);
  const bool cut = c.peak_content >= cfg_.cut_threshold && c.peak_content >= cfg_.cut_ratio * c.baseline;
  const bool dissolve = !cut && c.run_length >= 3 && after >= cfg_.cut_threshold &&
                        after >= 2 * cfg_.cut_ratio * c.baseline;
  if (!window_ || !window_->provisional) return;
  if (!cut && !dissolve) {
    window_.reset();
    return;
  }
  window_->provisional = false;
  window_->reason = cut ? Reason::kCut : Reason::kDissolve;
  window_->change = cut ? c.peak_content : after;
  window_->close_t = std::max(f.t_s, c.last_elevated_t + cfg_.window_s);
  (void)step;
}

SelectorStep KeyframeSelector::push(const FrameScores& f) {
  SelectorStep step;
  if (prev_ && f.t_s > prev_->t_s) frame_period_ = 0.9 * frame_period_ + 0.1 * (f.t_s - prev_->t_s);
  const double base = baseline();
  const bool up = prev_ && elevated(f, candidate_ ? candidate_->baseline : base);
  baseline_.emplace_back(f.t_s, f.content);
  while (!baseline_.empty() && baseline_.front().first < f.t_s - cfg_.baseline_s) baseline_.pop_front();

  if (!prev_) {
    window_ = Window{Reason::kStart, f.index, f.t_s, 0.0, f.t_s + cfg_.window_s, false, std::nullopt};
  }

  if (candidate_) {
    Candidate& c = *candidate_;
    const double distance = thumb_distance(c.pre_thumb, f.thumb);
    if (up && f.t_s - c.last_elevated_t <= 2.5 * frame_period_) {
      ++c.run_length;
      c.last_elevated_t = f.t_s;
      c.peak_content = std::max(c.peak_content, f.content);
    }
    const bool within_flash = f.t_s <= c.start_t + cfg_.flash_max_s;
    if (within_flash && f.t_s > c.start_t && distance < cfg_.return_ratio * c.peak_distance) {
      // Back to the picture before the run: a transient, not a transition.
      candidate_.reset();
      if (window_ && window_->provisional) window_.reset();
    } else {
      c.peak_distance = std::max(c.peak_distance, distance);
      const bool run_over = f.t_s > c.last_elevated_t;
      if (!up) consider(f, step);
      if ((run_over && !within_flash) || f.t_s - c.start_t > cfg_.max_transition_s) resolve_candidate(f, step);
    }
  } else if (up) {
    // A run starts: what was open closes on the frames before it.
    close_window(step);
    candidate_ = Candidate{prev_->thumb, f.index, f.t_s, f.t_s, 1, base, f.content, f.content};
    window_ = Window{Reason::kCut, f.index, f.t_s, 0.0, 0.0, true, std::nullopt};
  } else {
    if (!window_ && f.t_s - last_selected_t_ >= cfg_.max_gap_s && !is_duplicate(f.dhash)) {
      window_ = Window{Reason::kInterval, f.index, f.t_s, 0.0, f.t_s + cfg_.window_s, false, std::nullopt};
    }
    consider(f, step);
  }

  if (window_ && !window_->provisional && f.t_s >= window_->close_t) {
    if (window_->best || window_->reason == Reason::kInterval) close_window(step);
    else window_->close_t = f.t_s + cfg_.window_s;  // nothing eligible yet (min_gap): keep looking
  }
  prev_ = f;
  return step;
}

SelectorStep KeyframeSelector::finish() {
  SelectorStep step;
  if (candidate_ && prev_) resolve_candidate(*prev_, step);
  if (window_ && !window_->provisional) close_window(step);
  window_.reset();
  return step;
}

}  // namespace dashloop::pipeline::vision
