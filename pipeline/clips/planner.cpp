#include "clips/planner.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cmath>
#include <random>
#include <set>

namespace dashloop::pipeline::clips {
namespace {

struct Span {
  int64_t start = 0;
  int64_t end = 0;  // excluded
  std::vector<Reason> reasons;
  bool asked = false;  // a trigger's or a mark's: someone waits for exactly this moment
};

bool asked_rule(const std::string& rule) { return rule == "trigger" || rule == "mark"; }

// Overlapping spans become one, keeping every reason; sorted by start.
std::vector<Span> merge_overlapping(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  std::vector<Span> merged;
  for (auto& s : spans) {
    if (!merged.empty() && s.start < merged.back().end) {
      merged.back().end = std::max(merged.back().end, s.end);
      for (auto& r : s.reasons) merged.back().reasons.push_back(std::move(r));
    } else {
      merged.push_back(std::move(s));
    }
  }
  return merged;
}

// The part [start, end) of `from`, with the reasons inside it; a part with
// none carries the span's first reason, marked as continued.
Span part_of(const Span& from, int64_t start, int64_t end) {
  Span p{start, end, {}, from.asked};
  for (const auto& r : from.reasons)
    if (r.frame >= start && r.frame < end) p.reasons.push_back(r);
  if (p.reasons.empty()) p.reasons.push_back({from.reasons.front().rule, start, from.reasons.front().detail + " (cont.)"});
  return p;
}

// A trigger's or a mark's span stays its own clip, however much the rules
// found around it: the driver or operator waits for that moment, its clip
// reaches review sooner the shorter it is, and the annotator sees the event
// and not the drive around it. The other spans are cut around the asked ones;
// a leftover shorter than `min_len` joins the asked span beside it, so no
// frame the rules found is left out. Returns all spans, sorted, disjoint.
std::vector<Span> keep_asked_apart(std::vector<Span> spans, int64_t min_len) {
  std::vector<Span> asked, found;
  for (auto& s : spans) (s.asked ? asked : found).push_back(std::move(s));
  asked = merge_overlapping(std::move(asked));
  found = merge_overlapping(std::move(found));
  std::vector<Span> out;
  for (const auto& f : found) {
    int64_t at = f.start;
    auto leftover = [&](int64_t end) {
      if (end <= at) return;
      Span piece = part_of(f, at, end);
      const auto beside = std::find_if(asked.begin(), asked.end(), [&](const Span& a) { return a.end == at || a.start == end; });
      if (end - at >= min_len || beside == asked.end()) {
        out.push_back(std::move(piece));
      } else {
        beside->start = std::min(beside->start, at);
        beside->end = std::max(beside->end, end);
        for (auto& r : piece.reasons) beside->reasons.push_back(std::move(r));
      }
    };
    for (auto& a : asked) {
      if (a.end <= at || a.start >= f.end) continue;
      // what the rules found inside the asked span is in its clip: say so
      for (const auto& r : f.reasons)
        if (r.frame >= std::max(at, a.start) && r.frame < std::min(a.end, f.end)) a.reasons.push_back(r);
      const int64_t after = std::max(at, a.end);
      leftover(a.start);
      at = after;
    }
    leftover(f.end);
  }
  for (auto& a : asked) out.push_back(std::move(a));
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  return out;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// What each rule found, as raw spans (event frames, before rolls).
std::vector<Span> raw_spans(const DriveFacts& d, const PlannerConfig& c) {
  std::vector<Span> spans;
  auto add = [&](int64_t a, int64_t b, Reason r) {
    const bool asked = asked_rule(r.rule);
    spans.push_back({a, b + 1, {std::move(r)}, asked});
  };
  for (const auto& t : d.tracks) {
    const double seconds = double(t.last_frame - t.first_frame + 1) / d.fps;
    if (seconds >= c.track_min_s && (c.track_classes.empty() || contains(c.track_classes, t.label)))
      add(t.first_frame, t.last_frame, {"track", t.first_frame, t.label + " #" + std::to_string(t.track_no)});
    if (c.person_min_height > 0 && contains(c.person_classes, t.label) && t.max_height >= c.person_min_height) {
      const int pct = int(std::lround(t.max_height * 100));
      add(t.tallest_frame, t.tallest_frame,
          {"person", t.tallest_frame, t.label + " #" + std::to_string(t.track_no) + " " + std::to_string(pct) + "% tall"});
    }
  }
  if (c.scene_cuts)
    for (int64_t f : d.scene_cuts) add(f, f, {"scene_cut", f, ""});
  for (const auto& t : d.triggers) add(t.frame, t.frame, {t.kind == "mark" ? "mark" : "trigger", t.frame, t.note});
  if (c.sample_every_s > 0) {
    std::mt19937_64 rng(d.seed);
    const auto period = std::max<int64_t>(1, int64_t(std::llround(c.sample_every_s * d.fps)));
    // A moment anywhere in each whole period: a drive shorter than one (a
    // live camera's few minutes) gets a sample in proportion to its length.
    for (int64_t p = 0; p < d.frames; p += period) {
      std::uniform_int_distribution<int64_t> pick(p, p + period - 1);
      const int64_t f = pick(rng);
      if (f < d.frames) add(f, f, {"sample", f, ""});
    }
  }
  return spans;
}

int64_t keyframe_at_or_before(const std::vector<int64_t>& keys, int64_t f) {
  auto it = std::upper_bound(keys.begin(), keys.end(), f);
  return it == keys.begin() ? keys.front() : *std::prev(it);
}

int64_t keyframe_at_or_after(const std::vector<int64_t>& keys, int64_t f, int64_t end) {
  auto it = std::lower_bound(keys.begin(), keys.end(), f);
  return it == keys.end() ? end : *it;
}

}  // namespace

Status validate(const PlannerConfig& c) {
  if (c.min_s <= 0) return Status::InvalidArgument("clips.min_s must be positive");
  if (c.max_s < 2 * c.min_s) return Status::InvalidArgument("clips.max_s must be at least twice clips.min_s");
  if (c.pre_roll_s < 0 || c.post_roll_s < 0) return Status::InvalidArgument("clips.pre_roll_s and post_roll_s must be >= 0");
  if (c.track_min_s < 0 || c.sample_every_s < 0) return Status::InvalidArgument("clips.track_min_s and sample_every_s must be >= 0");
  if (c.person_min_height < 0 || c.person_min_height > 1)
    return Status::InvalidArgument("clips.person_min_height is a fraction of the frame's height, 0 to 1");
  return Status::Ok();
}

double trigger_weight(const std::string& rule) {
  static const std::map<std::string, double> kWeights = {{"mark", 1.0},  {"trigger", 0.8},   {"person", 0.6},
                                                         {"track", 0.5}, {"scene_cut", 0.3}, {"sample", 0.2}};
  auto it = kWeights.find(rule);
  return it == kWeights.end() ? 0.0 : it->second;
}

std::vector<ClipPlan> plan_clips(const DriveFacts& d, const PlannerConfig& c) {
  std::vector<ClipPlan> plans;
  if (d.frames <= 0 || d.fps <= 0 || d.keyframes.empty()) return plans;
  const auto frames_of = [&](double s) { return int64_t(std::llround(s * d.fps)); };
  const int64_t min_len = std::min(d.frames, frames_of(c.min_s));
  const int64_t max_len = frames_of(c.max_s);

  // Rolls, then the minimum length (grown evenly, kept inside the drive).
  std::vector<Span> spans = raw_spans(d, c);
  for (auto& s : spans) {
    s.start = std::max<int64_t>(0, s.start - frames_of(c.pre_roll_s));
    s.end = std::min(d.frames, s.end + frames_of(c.post_roll_s));
    if (const int64_t grow = min_len - (s.end - s.start); grow > 0) {
      s.start = std::max<int64_t>(0, s.start - (grow + 1) / 2);
      s.end = std::min(d.frames, s.start + min_len);
      s.start = std::max<int64_t>(0, s.end - min_len);
    }
  }
  // Overlapping spans merge, an asked one only with others asked.
  std::vector<Span> merged = keep_asked_apart(std::move(spans), min_len);
  // Too long: equal pieces, each with the reasons that fall in it.
  std::vector<Span> bounded;
  for (auto& s : merged) {
    const int64_t len = s.end - s.start;
    const int64_t pieces = (len + max_len - 1) / max_len;
    // a long track's reason sits at its first frame; later pieces still show it
    for (int64_t i = 0; i < pieces; ++i)
      bounded.push_back(part_of(s, s.start + len * i / pieces, s.start + len * (i + 1) / pieces));
  }
  // Keyframe alignment; a span never reaches into the next one, and an
  // asked span keeps all of its frames: the span after it gives way instead.
  bool last_asked = false;
  for (size_t i = 0; i < bounded.size(); ++i) {
    ClipPlan plan;
    plan.planned_start = bounded[i].start;
    plan.planned_end = bounded[i].end;
    plan.start_frame = keyframe_at_or_before(d.keyframes, bounded[i].start);
    plan.end_frame = keyframe_at_or_after(d.keyframes, bounded[i].end, d.frames);
    if (!plans.empty() && plans.back().end_frame > plan.start_frame) {
      if (last_asked && !bounded[i].asked)
        plan.start_frame = plans.back().end_frame;
      else
        plans.back().end_frame = plan.start_frame;
    }
    if (plan.end_frame <= plan.start_frame) continue;  // all of it is in the asked clip before it
    plan.reasons = std::move(bounded[i].reasons);
    last_asked = bounded[i].asked;
    plans.push_back(std::move(plan));
  }
  std::erase_if(plans, [](const ClipPlan& p) { return p.end_frame <= p.start_frame; });

  for (auto& plan : plans) {
    double trigger = 0, rare = 0;
    for (const auto& r : plan.reasons) trigger = std::max(trigger, trigger_weight(r.rule));
    for (const auto& t : d.tracks) {
      if (t.last_frame < plan.start_frame || t.first_frame >= plan.end_frame) continue;
      plan.track_nos.push_back(t.track_no);
      auto share = d.class_share.find(t.label);
      rare = std::max(rare, 1.0 - (share == d.class_share.end() ? 0.0 : share->second));
    }
    const double tracks = std::min(1.0, double(plan.track_nos.size()) / 10.0);
    plan.priority_parts = {{"trigger", 0.5 * trigger}, {"tracks", 0.25 * tracks}, {"rare_class", 0.25 * rare}};
    plan.priority = 0.5 * trigger + 0.25 * tracks + 0.25 * rare;
  }
  return plans;
}

bool near_duplicate(const ClipView& a, const ClipView& b, int hamming) {
  if (a.classes != b.classes) return false;
  for (uint64_t x : a.dhashes)
    for (uint64_t y : b.dhashes)
      if (std::popcount(x ^ y) <= hamming) return true;
  return false;
}

Selection select_clips(const std::vector<ClipPlan>& plans, const std::vector<ClipView>& views, double fps,
                       double allowed_s, const std::vector<ClipView>& recent, int duplicate_hamming) {
  const auto asked_or_sampled = [&](size_t i) {
    return std::any_of(plans[i].reasons.begin(), plans[i].reasons.end(),
                       [](const Reason& r) { return r.rule == "trigger" || r.rule == "mark" || r.rule == "sample"; });
  };
  std::vector<size_t> order(plans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (asked_or_sampled(a) != asked_or_sampled(b)) return asked_or_sampled(a);
    return plans[a].priority > plans[b].priority;
  });
  Selection out;
  std::vector<const ClipView*> kept_views;
  for (const auto& v : recent) kept_views.push_back(&v);
  for (size_t i : order) {
    const double seconds = double(plans[i].end_frame - plans[i].start_frame) / fps;
    if (!asked_or_sampled(i)) {
      const bool duplicate = std::any_of(kept_views.begin(), kept_views.end(), [&](const ClipView* v) {
        return near_duplicate(views[i], *v, duplicate_hamming);
      });
      if (duplicate) {
        out.dropped.push_back({i, "a near-duplicate of a clip already kept (same view, same classes)"});
        continue;
      }
      if (out.kept_s + seconds > allowed_s) {
        char why[128];
        std::snprintf(why, sizeof why, "over the clip budget (%.0f of the %.0f s left already kept)", out.kept_s,
                      std::max(0.0, allowed_s));
        out.dropped.push_back({i, why});
        continue;
      }
    }
    out.kept.push_back(i);
    out.kept_s += seconds;
    kept_views.push_back(&views[i]);
  }
  std::sort(out.kept.begin(), out.kept.end());
  return out;
}

}  // namespace dashloop::pipeline::clips
