// The order in which a station's cameras get the analysis thread: each in
// its turn, a camera with a driver's trigger waiting first.
#include "app/analysis_queue.hpp"

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

}  // namespace
}  // namespace dashloop::app
