// Clip planner: rules, rolls, bounds, merging, keyframe alignment, priority.
#include <gtest/gtest.h>

#include "clips/planner.hpp"

namespace dashloop::pipeline::clips {
namespace {

// 60 s at 30 fps, a keyframe every second.
DriveFacts drive(int64_t seconds = 60) {
  DriveFacts d;
  d.fps = 30;
  d.frames = seconds * 30;
  for (int64_t f = 0; f < d.frames; f += 30) d.keyframes.push_back(f);
  d.seed = 7;
  return d;
}

PlannerConfig rules_only() {
  PlannerConfig c;
  c.sample_every_s = 0;
  return c;
}

bool on_keyframe(const DriveFacts& d, int64_t f) {
  return std::find(d.keyframes.begin(), d.keyframes.end(), f) != d.keyframes.end();
}

TEST(Planner, ShortTracksMakeNoClipLongOnesDo) {
  auto d = drive();
  d.tracks = {{1, "car", 300, 330, 0.1, 310}, {2, "car", 900, 990, 0.1, 950}};  // 1.03 s, 3.03 s
  const auto plans = plan_clips(d, rules_only());
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].reasons.at(0).rule, "track");
  // 2 s pre-roll, 3 s post-roll around 900..990, on keyframes
  EXPECT_EQ(plans[0].planned_start, 900 - 60);
  EXPECT_EQ(plans[0].planned_end, 991 + 90);
  EXPECT_EQ(plans[0].start_frame, 840);
  EXPECT_EQ(plans[0].end_frame, 1110);
  EXPECT_EQ(plans[0].track_nos, std::vector<int>{2});
}

TEST(Planner, ClassFilterAndTallPedestrian) {
  auto d = drive();
  d.tracks = {{1, "car", 0, 200, 0.1, 10}, {2, "person", 1200, 1220, 0.4, 1210}};
  auto c = rules_only();
  c.track_classes = {"truck"};
  const auto plans = plan_clips(d, c);
  ASSERT_EQ(plans.size(), 1u);  // the car is not a truck; the person is tall
  EXPECT_EQ(plans[0].reasons.at(0).rule, "person");
  EXPECT_LE(plans[0].start_frame, 1210 - 60);
  EXPECT_GE(plans[0].end_frame, 1211 + 90);
  c.person_min_height = 0.5;
  EXPECT_TRUE(plan_clips(d, c).empty());
}

TEST(Planner, MinimumLengthAndDriveEdges) {
  auto d = drive();
  d.scene_cuts = {5};
  d.triggers = {{1790, "trigger", "button"}};
  auto c = rules_only();
  c.pre_roll_s = 0;
  c.post_roll_s = 0;
  const auto plans = plan_clips(d, c);
  ASSERT_EQ(plans.size(), 2u);
  for (const auto& p : plans) {
    EXPECT_GE(p.planned_end - p.planned_start, 150) << "at least min_s";
    EXPECT_GE(p.planned_start, 0);
    EXPECT_LE(p.planned_end, d.frames);
    EXPECT_TRUE(on_keyframe(d, p.start_frame));
    EXPECT_TRUE(p.end_frame == d.frames || on_keyframe(d, p.end_frame));
  }
  EXPECT_EQ(plans[0].start_frame, 0);
  EXPECT_EQ(plans[1].end_frame, d.frames);
}

TEST(Planner, OverlapsMergeAndLongSpansSplit) {
  auto d = drive(120);
  d.scene_cuts = {300, 400};       // 10 s and 13.3 s: their spans overlap
  d.tracks = {{1, "car", 1800, 3500, 0.1, 1900}};  // 56.7 s: too long for one clip
  const auto plans = plan_clips(d, rules_only());
  ASSERT_GE(plans.size(), 3u);
  EXPECT_EQ(plans[0].reasons.size(), 2u) << "the two cuts share one clip";
  for (size_t i = 0; i < plans.size(); ++i) {
    const double len = double(plans[i].planned_end - plans[i].planned_start) / d.fps;
    EXPECT_LE(len, 30.0 + 1e-9);
    EXPECT_GE(len, 5.0 - 1e-9);
    // aligned spans stay within one GOP (1 s) of the plan on each side
    EXPECT_LE(plans[i].planned_start - plans[i].start_frame, 30);
    EXPECT_LE(plans[i].end_frame - plans[i].planned_end, 30);
    if (i > 0) {
      EXPECT_LE(plans[i - 1].end_frame, plans[i].start_frame) << "no overlap";
    }
  }
  int64_t covered = 0;
  for (const auto& p : plans)
    if (p.reasons.at(0).rule == "track") covered += p.planned_end - p.planned_start;
  EXPECT_EQ(covered, (3501 + 90) - (1800 - 60)) << "the pieces of the long track cover all of it";
}

TEST(Planner, ATriggersClipKeepsItsOwnSpan) {
  auto d = drive();
  d.tracks = {{1, "car", 0, 1500, 0.1, 700}};  // 0-50 s
  d.scene_cuts = {600};
  d.triggers = {{900, "trigger", "button"}};  // 30 s
  const auto plans = plan_clips(d, rules_only());
  ASSERT_EQ(plans.size(), 3u) << "before the trigger, the trigger's own, after it";
  EXPECT_EQ(plans[1].reasons.at(0).rule, "trigger");
  EXPECT_EQ(plans[1].reasons.size(), 1u);
  EXPECT_EQ(plans[1].planned_start, 900 - 60);
  EXPECT_EQ(plans[1].planned_end, 901 + 90);
  EXPECT_EQ(plans[1].start_frame, 840);
  EXPECT_EQ(plans[1].end_frame, 1020) << "the trigger's clip keeps all its frames; the next one gives way";
  EXPECT_EQ(plans[1].track_nos, std::vector<int>{1}) << "the car is labelled in it all the same";
  EXPECT_EQ(plans[0].start_frame, 0);
  EXPECT_EQ(plans[0].end_frame, 840);
  EXPECT_EQ(plans[0].reasons.size(), 2u) << "the track and the scene cut";
  EXPECT_EQ(plans[2].start_frame, 1020);
  EXPECT_EQ(plans[2].reasons.at(0).detail, "car #1 (cont.)");
  EXPECT_EQ(plans[2].end_frame, 1620);
}

TEST(Planner, AShortLeftoverJoinsTheTriggersClip) {
  auto d = drive();
  d.tracks = {{1, "car", 0, 1500, 0.1, 700}};
  d.triggers = {{100, "mark", "look"}};
  const auto plans = plan_clips(d, rules_only());
  ASSERT_GE(plans.size(), 2u);
  EXPECT_EQ(plans[0].start_frame, 0) << "the track's first 40 frames are too short for a clip of their own";
  EXPECT_EQ(plans[0].planned_end, 101 + 90);
  ASSERT_EQ(plans[0].reasons.size(), 2u) << plans[0].reasons.back().rule << " " << plans[0].reasons.back().frame << " " << plans[0].reasons.back().detail;
  EXPECT_EQ(plans[0].reasons[0].rule, "mark");
  EXPECT_EQ(plans[0].reasons[1].rule, "track");
  int64_t end = plans[0].end_frame;
  for (size_t i = 1; i < plans.size(); ++i) {
    EXPECT_EQ(plans[i].start_frame, end) << "nothing between them lost";
    EXPECT_NE(plans[i].reasons.at(0).rule, "mark");
    end = plans[i].end_frame;
  }
  EXPECT_EQ(end, 1620);
}

TEST(Planner, RandomSampleIsSeededAndSpread) {
  auto d = drive(600);
  PlannerConfig c;
  c.sample_every_s = 120;
  const auto a = plan_clips(d, c);
  const auto b = plan_clips(d, c);
  ASSERT_EQ(a.size(), 5u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].start_frame, b[i].start_frame);
    EXPECT_EQ(a[i].reasons.at(0).rule, "sample");
    const int64_t event = a[i].reasons.at(0).frame;
    EXPECT_GE(event, int64_t(i) * 3600);
    EXPECT_LT(event, int64_t(i + 1) * 3600);
  }
  d.seed = 8;
  const auto other = plan_clips(d, c);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs |= other[i].reasons[0].frame != a[i].reasons[0].frame;
  EXPECT_TRUE(differs) << "another drive samples other moments";
}

TEST(Planner, PriorityParts) {
  auto d = drive();
  d.tracks = {{1, "cyclist", 100, 300, 0.1, 200}};
  d.class_share = {{"car", 0.9}, {"cyclist", 0.1}};
  d.triggers = {{1500, "mark", "near miss"}};
  const auto plans = plan_clips(d, rules_only());
  ASSERT_EQ(plans.size(), 2u);
  const auto& track = plans[0];
  EXPECT_DOUBLE_EQ(track.priority_parts.at("trigger"), 0.5 * trigger_weight("track"));
  EXPECT_DOUBLE_EQ(track.priority_parts.at("tracks"), 0.25 * 0.1);
  EXPECT_DOUBLE_EQ(track.priority_parts.at("rare_class"), 0.25 * 0.9);
  EXPECT_DOUBLE_EQ(track.priority, 0.5 * 0.5 + 0.025 + 0.225);
  const auto& mark = plans[1];
  EXPECT_DOUBLE_EQ(mark.priority_parts.at("trigger"), 0.5);
  EXPECT_GT(mark.priority, track.priority - 0.25) << "an operator's mark outranks a plain track";
  EXPECT_EQ(mark.reasons.at(0).detail, "near miss");
}

TEST(Planner, ConfigChecks) {
  PlannerConfig c;
  EXPECT_TRUE(validate(c).ok());
  c.max_s = 8;
  EXPECT_FALSE(validate(c).ok());
  c = {};
  c.person_min_height = 2;
  EXPECT_FALSE(validate(c).ok());
  DriveFacts empty;
  EXPECT_TRUE(plan_clips(empty, PlannerConfig{}).empty());
}

// Plans of 6 s each at 30 fps, one reason each, with the given priorities.
std::vector<ClipPlan> six_second_plans(const std::vector<std::pair<std::string, double>>& rules) {
  std::vector<ClipPlan> plans;
  int64_t start = 0;
  for (const auto& [rule, priority] : rules) {
    ClipPlan p;
    p.start_frame = start;
    p.end_frame = start + 180;
    p.reasons = {{rule, start, ""}};
    p.priority = priority;
    plans.push_back(p);
    start += 300;
  }
  return plans;
}

ClipView view(uint64_t dhash, std::set<std::string> classes) { return {{dhash}, std::move(classes)}; }

TEST(ClipBudget, FillsByPriorityWhileTheSecondsLast) {
  const auto plans = six_second_plans({{"track", 0.3}, {"person", 0.6}, {"scene_cut", 0.2}, {"track", 0.5}});
  const std::vector<ClipView> views = {view(0x0, {"car"}), view(0xFFFF, {"person"}), view(0xFFFF0000, {}),
                                       view(0xFFFF00000000, {"truck"})};
  const auto s = select_clips(plans, views, 30, 12.5, {}, 10);
  EXPECT_EQ(s.kept, (std::vector<size_t>{1, 3})) << "the two of highest priority fit in 12.5 s";
  EXPECT_DOUBLE_EQ(s.kept_s, 12);
  ASSERT_EQ(s.dropped.size(), 2u);
  for (const auto& d : s.dropped) EXPECT_NE(d.why.find("over the clip budget"), std::string::npos) << d.why;
}

TEST(ClipBudget, TriggersMarksAndTheSampleAreKeptEvenPastIt) {
  const auto plans = six_second_plans({{"sample", 0.1}, {"track", 0.9}, {"trigger", 0.4}, {"mark", 0.5}});
  const std::vector<ClipView> views(4, view(0x0, {"car"}));  // the same view, the same class: duplicates all
  const auto s = select_clips(plans, views, 30, 6, {}, 10);
  EXPECT_EQ(s.kept, (std::vector<size_t>{0, 2, 3}));
  EXPECT_DOUBLE_EQ(s.kept_s, 18) << "what was asked for counts against the budget";
  ASSERT_EQ(s.dropped.size(), 1u);
  EXPECT_EQ(s.dropped[0].plan, 1u);
}

TEST(ClipBudget, ANearDuplicateOfAKeptClipIsDropped) {
  const auto plans = six_second_plans({{"track", 0.5}, {"track", 0.4}, {"track", 0.3}, {"track", 0.2}});
  const std::vector<ClipView> views = {
      view(0x0, {"car"}),
      view(0x3FF, {"car"}),           // 10 bits off, the same class: the same view
      view(0x7FF, {"car", "person"}),  // close, but another set of classes
      view(0xFFFFFFFF, {"car"}),       // the same class, another view
  };
  const auto s = select_clips(plans, views, 30, 1000, {}, 10);
  EXPECT_EQ(s.kept, (std::vector<size_t>{0, 2, 3}));
  ASSERT_EQ(s.dropped.size(), 1u);
  EXPECT_EQ(s.dropped[0].plan, 1u);
  EXPECT_NE(s.dropped[0].why.find("near-duplicate"), std::string::npos);
  // A clip kept earlier in the window (another drive) counts too.
  const auto later = select_clips(plans, views, 30, 1000, {view(0x1, {"car"})}, 10);
  EXPECT_EQ(later.kept, (std::vector<size_t>{2, 3}));
}

TEST(ClipBudget, NoSecondsLeftKeepsOnlyWhatWasAskedFor) {
  const auto plans = six_second_plans({{"track", 0.9}, {"trigger", 0.4}});
  const std::vector<ClipView> views = {view(0x0, {"car"}), view(0xFF00FF00FF, {})};
  const auto s = select_clips(plans, views, 30, -20, {}, 10);
  EXPECT_EQ(s.kept, std::vector<size_t>{1});
  EXPECT_NE(s.dropped.at(0).why.find("0 s left"), std::string::npos) << s.dropped.at(0).why;
}

}  // namespace
}  // namespace dashloop::pipeline::clips
