// MOTChallenge files and metrics on hand-worked cases.
#include <gtest/gtest.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>

#include "vision/mot.hpp"

namespace dashloop::pipeline::vision {
namespace {

namespace fs = std::filesystem;

MotRow row(int64_t frame, int id, float x, float y = 0, float w = 10, float h = 10) {
  return {frame, id, {x, y, w, h}, 1.0f, -1};
}

TEST(MotMetrics, PerfectTrackingScoresOne) {
  std::vector<MotRow> gt = {row(1, 1, 0), row(1, 2, 50), row(2, 1, 1), row(2, 2, 51)};
  auto pred = gt;
  for (auto& r : pred) r.id += 10;
  const auto m = evaluate_mot(gt, pred);
  EXPECT_DOUBLE_EQ(m.mota, 1.0);
  EXPECT_DOUBLE_EQ(m.motp, 1.0);
  EXPECT_DOUBLE_EQ(m.idf1, 1.0);
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.gt_ids, 2);
  EXPECT_NEAR(m.hota, 1.0, 1e-9);
}

TEST(MotMetrics, HotaOfAnObjectSplitIntoTwoTracks) {
  // Found on both frames (DetA 1), but by two ids: each true positive's
  // association IoU is 1 / (2 + 1 - 1), so AssA = 0.5 and HOTA = sqrt(0.5).
  const auto m = evaluate_mot({row(1, 1, 0), row(2, 1, 0)}, {row(1, 7, 0), row(2, 8, 0)});
  EXPECT_NEAR(m.deta, 1.0, 1e-9);
  EXPECT_NEAR(m.assa, 0.5, 1e-9);
  EXPECT_NEAR(m.hota, std::sqrt(0.5), 1e-9);
}

TEST(MotMetrics, HotaCountsAMissAndAFalseBoxPerThreshold) {
  // Frame 1 matched exactly; frame 2 has the object missed and a box elsewhere.
  const auto m = evaluate_mot({row(1, 1, 0), row(2, 1, 0)}, {row(1, 7, 0), row(2, 7, 100)});
  EXPECT_NEAR(m.deta, 1.0 / 3.0, 1e-9);  // TP 1, FN 1, FP 1 at every alpha
  EXPECT_NEAR(m.assa, 1.0 / 3.0, 1e-9);  // gt 2 frames, track 2 frames, together 1
  EXPECT_NEAR(m.hota, 1.0 / 3.0, 1e-9);
}

TEST(ScoreCalibration, ScoresBeyondZeroToOneBecomeTheirQuantile) {
  std::vector<MotRow> rows = {row(1, -1, 0), row(1, -1, 20), row(2, -1, 0), row(2, -1, 40)};
  rows[0].conf = 85.0f, rows[1].conf = -0.5f, rows[2].conf = 12.0f, rows[3].conf = 12.0f;
  auto c = calibrate_scores(rows, -std::numeric_limits<float>::infinity(), "auto");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->method, "quantile");
  EXPECT_FLOAT_EQ(rows[1].conf, 0.5f / 4);    // the lowest: mid-rank 0.5 of 4
  EXPECT_FLOAT_EQ(rows[2].conf, 2.0f / 4);    // two ties share mid-rank 2
  EXPECT_FLOAT_EQ(rows[3].conf, 2.0f / 4);
  EXPECT_FLOAT_EQ(rows[0].conf, 3.5f / 4);    // the highest
  EXPECT_FLOAT_EQ(c->raw_max, 85.0f);
}

TEST(ScoreCalibration, ProbabilitiesStayAsTheyAre) {
  std::vector<MotRow> rows = {row(1, -1, 0), row(1, -1, 20)};
  rows[0].conf = 0.9f, rows[1].conf = 0.2f;
  auto c = calibrate_scores(rows, -std::numeric_limits<float>::infinity(), "auto");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->method, "none");
  EXPECT_FLOAT_EQ(rows[0].conf, 0.9f);
}

TEST(ScoreCalibration, MinScoreInTheFilesOwnUnitsDropsFirst) {
  std::vector<MotRow> rows = {row(1, -1, 0), row(1, -1, 20), row(2, -1, 40)};
  rows[0].conf = 5.0f, rows[1].conf = 30.0f, rows[2].conf = 60.0f;
  auto c = calibrate_scores(rows, 10.0f, "none");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dropped, 1u);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FLOAT_EQ(rows[0].conf, 30.0f) << "a threshold above 1 is allowed: the scale needs it";
  EXPECT_FALSE(calibrate_scores(rows, 0, "sigmoid").ok());
}

TEST(MotMetrics, OneIdSwitchHalvesIdf1) {
  // One object over 4 frames; the tracker calls it 10, then 11.
  std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0), row(3, 1, 0), row(4, 1, 0)};
  std::vector<MotRow> pred = {row(1, 10, 0), row(2, 10, 0), row(3, 11, 0), row(4, 11, 0)};
  const auto m = evaluate_mot(gt, pred);
  EXPECT_EQ(m.matches, 4);
  EXPECT_EQ(m.id_switches, 1);
  EXPECT_DOUBLE_EQ(m.mota, 0.75);      // 1 - 1/4
  EXPECT_EQ(m.idtp, 2);                // id 1 <-> 10 (or 11) agree on 2 frames
  EXPECT_DOUBLE_EQ(m.idf1, 0.5);       // 2*2 / (4 + 4)
}

TEST(MotMetrics, MissesAndFalsePositives) {
  // Frame 2: object 2 is missed and a box appears where nothing is.
  std::vector<MotRow> gt = {row(1, 1, 0), row(1, 2, 50), row(2, 1, 0), row(2, 2, 50)};
  std::vector<MotRow> pred = {row(1, 7, 0), row(1, 8, 50), row(2, 7, 0), row(2, 9, 200)};
  const auto m = evaluate_mot(gt, pred);
  EXPECT_EQ(m.misses, 1);
  EXPECT_EQ(m.false_positives, 1);
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_DOUBLE_EQ(m.mota, 0.5);       // 1 - (1 + 1) / 4
  EXPECT_EQ(m.idtp, 3);
  EXPECT_DOUBLE_EQ(m.idf1, 0.75);      // 2*3 / (4 + 4)
  EXPECT_DOUBLE_EQ(m.precision, 0.75);
  EXPECT_DOUBLE_EQ(m.recall, 0.75);
}

TEST(MotMetrics, MatchNeedsIouOfOneHalf) {
  // 10x10 boxes shifted by 3: IoU 70/130 = 0.54, matched; by 4: 60/140 = 0.43, not.
  auto m = evaluate_mot({row(1, 1, 0)}, {row(1, 5, 3)});
  EXPECT_EQ(m.matches, 1);
  EXPECT_NEAR(m.motp, 70.0 / 130.0, 1e-6);
  m = evaluate_mot({row(1, 1, 0)}, {row(1, 5, 4)});
  EXPECT_EQ(m.matches, 0);
  EXPECT_EQ(m.misses, 1);
  EXPECT_EQ(m.false_positives, 1);
  EXPECT_DOUBLE_EQ(m.mota, -1.0);
}

TEST(MotMetrics, KeepsLastFramesMatchOverABetterNewOne) {
  // Track 5 follows object 1; in frame 2 track 6 overlaps object 1 better,
  // but 5 still overlaps enough: no switch (CLEAR-MOT), 6 is a false positive.
  std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0)};
  std::vector<MotRow> pred = {row(1, 5, 0), row(2, 5, 2), row(2, 6, 0)};
  const auto m = evaluate_mot(gt, pred);
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.false_positives, 1);
}

TEST(MotMetrics, SwitchCountedAcrossAGap) {
  std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0), row(3, 1, 0)};
  std::vector<MotRow> pred = {row(1, 5, 0), row(3, 6, 0)};
  const auto m = evaluate_mot(gt, pred);
  EXPECT_EQ(m.misses, 1);
  EXPECT_EQ(m.id_switches, 1);
}

TEST(MotMetrics, IgnoredGroundTruthIsNotScored) {
  auto ignored = row(1, 2, 50);
  ignored.conf = 0.0f;
  const auto m = evaluate_mot({row(1, 1, 0), ignored}, {row(1, 5, 0)});
  EXPECT_EQ(m.gt, 1);
  EXPECT_DOUBLE_EQ(m.mota, 1.0);
}

class MotFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop_mot_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(MotFiles, ReadsDetectionsAndGroundTruth) {
  const auto p = write("det.txt", "1,-1,10.5,20,30,40,0.9,-1,-1,-1\n\n2, -1, 11, 20, 30, 40, 0.8\r\n3,4,1,2,3,4,1,2,0.5\n");
  const auto rows = read_mot(p);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].frame, 1);
  EXPECT_FLOAT_EQ((*rows)[0].box.x, 10.5f);
  EXPECT_FLOAT_EQ((*rows)[1].conf, 0.8f);
  EXPECT_EQ((*rows)[2].id, 4);
  EXPECT_EQ((*rows)[2].class_id, 2);
}

TEST_F(MotFiles, MalformedLineNamesFileAndLine) {
  struct Case { std::string text, expect; };
  const Case cases[] = {
      {"1,1,0,0,10,10,1\n2,1,0,0,10\n", ":2: expected frame,id,x,y,w,h"},
      {"0,1,0,0,10,10,1\n", ":1: frame must be a whole number >= 1"},
      {"1,1,0,0,10,10,1\n1.5,1,0,0,10,10,1\n", ":2: frame must be"},
      {"1,x,0,0,10,10\n", ":1: id must be a whole number"},
      {"1,1,0,abc,10,10\n", ":1: box value 'abc'"},
      {"1,1,0,0,-10,10\n", ":1: box width and height must not be negative"},
      {"1,1,0,0,10,10,high\n", ":1: conf 'high'"},
  };
  for (const auto& c : cases) {
    const auto p = write("bad.txt", c.text);
    const auto rows = read_mot(p);
    ASSERT_FALSE(rows.ok()) << c.text;
    EXPECT_NE(rows.status().message().find(p.string() + c.expect), std::string::npos) << rows.status().message();
  }
  const auto missing = read_mot(dir_ / "nope.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.txt"), std::string::npos);
}

TEST_F(MotFiles, WriteThenReadRoundTrips) {
  std::vector<MotRow> rows = {{2, 1, {1.25f, 2, 3, 4}, 0.5f, 0}, {1, 2, {5, 6, 7, 8}, 0.9f, 0}};
  ASSERT_TRUE(write_mot(dir_ / "res.txt", rows).ok());
  const auto back = read_mot(dir_ / "res.txt");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].frame, 1);  // sorted by frame
  EXPECT_FLOAT_EQ((*back)[1].box.x, 1.25f);
  std::ifstream in(dir_ / "res.txt");
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "1,2,5.00,6.00,7.00,8.00,0.900,-1,-1,-1");
}

}  // namespace
}  // namespace dashloop::pipeline::vision
