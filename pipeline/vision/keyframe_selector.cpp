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

namespace {
// The median: one cut's spike must not raise the bar for the next.
double median_of(const std::deque<std::pair<double, double>>& values) {
  if (values.empty()) return 0.0;
  std::vector<double> v;
  v.reserve(values.size());
  for (const auto& [t, x] : values) v.push_back(x);
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// How far the middle frame of a span is from the mix of its ends, relative to
// how far the ends are apart: near 0 for a dissolve (the middle IS the mix),
// about 0.5 when something moved (each pixel is one end or the other). Each
// end is first shifted onto the middle, so a panning camera is no motion.
double blend_error(const cv::Mat& first, const cv::Mat& middle, const cv::Mat& last) {
  const cv::Mat a = align_to(first, middle), b = align_to(last, middle);
  cv::Mat mix;
  cv::addWeighted(a, 0.5, b, 0.5, 0, mix);
  const double apart = thumb_distance(a, b);
  return apart > 0 ? thumb_distance(middle, mix) / apart : 1.0;
}
}  // namespace

double KeyframeSelector::baseline() const { return median_of(baseline_); }

void KeyframeSelector::track_gradual(const FrameScores& f, SelectorStep& step) {
  ring_.emplace_back(f.t_s, f.thumb);
  while (ring_.size() > 2 && ring_[1].first <= f.t_s - cfg_.dissolve_s + 0.5 * frame_period_) ring_.pop_front();
  if (ring_.front().first > f.t_s - cfg_.dissolve_s + 0.5 * frame_period_) return;  // not a full span yet
  if (candidate_ || f.t_s < gradual_quiet_until_t_) {
    gradual_.reset();  // the span holds a cut or a transient: theirs to judge
    return;
  }
  const double d = aligned_distance(ring_.front().second, f.thumb);
  const double base = median_of(long_baseline_);
  const bool high = d >= cfg_.dissolve_threshold && d >= cfg_.cut_ratio * base;
  if (!gradual_) {
    if (!high) {
      long_baseline_.emplace_back(f.t_s, d);
      while (long_baseline_.front().first < f.t_s - 4 * cfg_.dissolve_s) long_baseline_.pop_front();
      return;
    }
    gradual_ = Gradual{f.index, f.t_s, d, f.t_s};  // its blend error is taken below
  }
  if (d > gradual_->peak) {
    gradual_->peak = d;
    gradual_->peak_index = f.index;
    gradual_->peak_t = f.t_s;
  }
  // The span lies exactly over a dissolve at one frame only; which one
  // depends on the encoder's noise, so the best fit over the run counts.
  if (high) {
    gradual_->blend_error = std::min(
        gradual_->blend_error, blend_error(ring_.front().second, ring_[ring_.size() / 2].second, f.thumb));
    gradual_->structure = std::max(gradual_->structure, structure_distance(ring_.front().second, f.thumb));
  }
  if (high && f.t_s - gradual_->start_t <= cfg_.max_transition_s + cfg_.dissolve_s) return;
  // Over: the distance peaks when the span covers the whole transition, so
  // the transition sits about half a span before the peak.
  // Something moved (not a mix of two shots), or one shot changed exposure.
  if (gradual_->blend_error > cfg_.dissolve_blend_max || gradual_->structure < cfg_.structure_threshold) {
    gradual_.reset();
    return;
  }
  close_window(step);
  const double mid_t = gradual_->peak_t - cfg_.dissolve_s / 2;
  const int64_t mid = gradual_->peak_index - int64_t(std::lround(cfg_.dissolve_s / 2 / frame_period_));
  window_ = Window{Reason::kDissolve, mid, mid_t, gradual_->peak, f.t_s + cfg_.window_s, false, std::nullopt};
  gradual_.reset();
  gradual_quiet_until_t_ = f.t_s + cfg_.dissolve_s;  // the span still holds this one
}

bool KeyframeSelector::elevated(const FrameScores& f, double base) const {
  // Half a cut's ratio and a third of its floor: enough to start a run that
  // may turn out a cut (a cut blurred over two frames too) or a transient.
  return f.content >= cfg_.cut_threshold / 3 && f.content >= 0.5 * cfg_.cut_ratio * base;
}

bool KeyframeSelector::is_duplicate(uint64_t hash) const {
  return std::any_of(recent_hashes_.begin(), recent_hashes_.end(),
                     [&](uint64_t h) { return hamming(h, hash) < cfg_.duplicate_hamming; });
}

void KeyframeSelector::consider(const FrameScores& f, SelectorStep& step) {
  if (!window_ || f.t_s < last_selected_t_ + cfg_.min_gap_s) return;
  if (f.sharpness < 0 || f.unusable()) return;  // unmeasured; black, blown out or blank: never worth labelling
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
  // A hold set in this step was for this window's best: it is settled now,
  // the caller need not copy the frame.
  step.hold = false;
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

void KeyframeSelector::resolve_candidate(const FrameScores& f) {
  const Candidate c = *candidate_;
  candidate_.reset();
  const bool cut = c.peak_content >= cfg_.cut_threshold && c.peak_content >= cfg_.cut_ratio * c.baseline &&
                   structure_distance(c.pre_thumb, f.thumb) >= cfg_.structure_threshold;
  if (!window_ || !window_->provisional) return;
  if (!cut) {
    window_.reset();
    return;
  }
  window_->provisional = false;
  window_->reason = Reason::kCut;
  window_->change = c.peak_content;
  window_->close_t = std::max(f.t_s, c.last_elevated_t + cfg_.window_s);
}

bool KeyframeSelector::interval_due(const FrameScores& f) const {
  return f.t_s - last_selected_t_ >= cfg_.max_gap_s && !is_duplicate(f.dhash);
}

bool KeyframeSelector::needs_quality(const FrameScores& f) const {
  return !prev_ || window_ || candidate_ || interval_due(f);
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
      if ((run_over && !within_flash) || f.t_s - c.start_t > cfg_.max_transition_s) resolve_candidate(f);
    }
  } else if (up) {
    // A run starts: what was open closes on the frames before it.
    close_window(step);
    gradual_quiet_until_t_ = f.t_s + cfg_.dissolve_s + cfg_.flash_max_s;
    candidate_ = Candidate{prev_->thumb, f.t_s, f.t_s, base, f.content, f.content};
    window_ = Window{Reason::kCut, f.index, f.t_s, 0.0, 0.0, true, std::nullopt};
  } else {
    if (!window_ && interval_due(f)) {
      window_ = Window{Reason::kInterval, f.index, f.t_s, 0.0, f.t_s + cfg_.window_s, false, std::nullopt};
    }
    consider(f, step);
  }

  track_gradual(f, step);
  if (window_ && !window_->provisional && f.t_s >= window_->close_t) {
    if (window_->best || window_->reason == Reason::kInterval) close_window(step);
    else window_->close_t = f.t_s + cfg_.window_s;  // nothing eligible yet (min_gap): keep looking
  }
  prev_ = f;
  return step;
}

SelectorStep KeyframeSelector::finish() {
  SelectorStep step;
  if (candidate_ && prev_) resolve_candidate(*prev_);
  if (window_ && !window_->provisional) close_window(step);
  window_.reset();
  return step;
}

}  // namespace dashloop::pipeline::vision
