// The order in which a station's cameras get the analysis thread: each in
// its turn, a camera with a driver's trigger waiting first.
#include "station/analysis_queue.hpp"

#include <gtest/gtest.h>

namespace dashloop::app {
namespace {

TEST(AnalysisQueue, CamerasAreAnalysedInTheOrderTheyBecameDueEachOnce) {
  AnalysisQueue q;
  for (const char* c : {"cam9", "cam10", "cam1", "cam9"}) q.make_due(c);
  ASSERT_EQ(q.due.size(), 3u) << "a camera due twice is analysed once: its analysis takes all its closed video";
  EXPECT_EQ(q.take_next(), "cam9");
  q.make_due("cam9");  // closed another chunk meanwhile: behind the others
  EXPECT_EQ(q.take_next(), "cam10");
  EXPECT_EQ(q.take_next(), "cam1");
  EXPECT_EQ(q.take_next(), "cam9");
  EXPECT_TRUE(q.due.empty());
}

TEST(AnalysisQueue, ACameraWithATriggerWaitingGoesFirst) {
  AnalysisQueue q;
  for (const char* c : {"front", "rear", "cabin"}) q.make_due(c);
  q.triggers["front"];  // an empty list waits for nothing
  q.triggers["cabin"].push_back({std::chrono::system_clock::now(), "trigger", "driver's button"});
  EXPECT_EQ(q.take_next(), "cabin");
  EXPECT_EQ(q.take_next(), "front");
  EXPECT_EQ(q.take_next(), "rear");
}

// Planned clips are retried once a minute even while cameras are due, but
// not while a driver waits for a trigger's clip.
TEST(AnalysisQueue, ATriggerWaitingIsSeenOnlyOnADueCamera) {
  AnalysisQueue q;
  q.make_due("front");
  EXPECT_FALSE(q.trigger_waiting());
  q.triggers["rear"].push_back({std::chrono::system_clock::now(), "trigger", "not due yet"});
  EXPECT_FALSE(q.trigger_waiting()) << "its segments have not closed: nothing to analyse for it now";
  q.triggers["front"].push_back({std::chrono::system_clock::now(), "trigger", "driver's button"});
  EXPECT_TRUE(q.trigger_waiting());
  EXPECT_EQ(q.take_next(), "front");
  EXPECT_FALSE(q.trigger_waiting());
}

// An analysis that failed (a passing fault) is tried again after a backoff,
// not only when the camera's next chunk closes.
TEST(AnalysisQueue, AFailedAnalysisIsDueAgainAfterABackoffThatGrowsUntilASuccess) {
  AnalysisQueue q;
  const auto t0 = std::chrono::steady_clock::now();
  q.failed("road", t0);
  q.make_retries_due(t0 + std::chrono::milliseconds(1900));
  EXPECT_TRUE(q.due.empty()) << "not before 2 s";
  q.make_retries_due(t0 + std::chrono::seconds(2));
  ASSERT_EQ(q.due.size(), 1u);
  EXPECT_EQ(q.take_next(), "road");
  q.make_retries_due(t0 + std::chrono::seconds(10));
  EXPECT_TRUE(q.due.empty()) << "made due once per failure";
  q.failed("road", t0);
  EXPECT_DOUBLE_EQ(q.retries["road"].backoff_s, 4.0);
  for (int i = 0; i < 10; ++i) q.failed("road", t0);
  EXPECT_DOUBLE_EQ(q.retries["road"].backoff_s, AnalysisQueue::kMaxRetryS);
  q.succeeded("road");
  q.failed("road", t0);
  EXPECT_DOUBLE_EQ(q.retries["road"].backoff_s, 2.0) << "a success starts the backoff over";
}

}  // namespace
}  // namespace dashloop::app
