// Retention on a small quota: recordings first (oldest first, never the open
// one or an ingested file), then finished packages, and packages waiting for
// review only past the hard limit, recorded in the audit table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "retention/retention.hpp"

namespace dashloop::firmware::retention {
namespace {
namespace fs = std::filesystem;
using namespace catalog;

constexpr int64_t kKiB = 1024;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-retention-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "recordings/front");
    fs::create_directories(dir_ / "packages");
    auto c = Catalog::open(dir_ / "catalog.sqlite");
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(c.value());
    DriveRecord d;
    d.source = "x.mp4", d.vehicle = "v", d.camera = "front", d.mode = "full", d.fps = 30, d.frames = 300;
    drive_ = *catalog_->add_drive(d, {});
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& p, int64_t bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << std::string(size_t(bytes), 'x');
  }
  int64_t segment(const std::string& name, const std::string& state, bool owned, int64_t bytes) {
    const fs::path p = dir_ / "recordings/front" / name;
    write(p, bytes);
    SegmentRecord s;
    s.camera = "front", s.path = p.string(), s.owned = owned, s.state = state, s.bytes = bytes, s.frames = 60;
    return *catalog_->add_segment(s);
  }
  int64_t package(const std::string& state, double priority, int64_t bytes) {
    ClipRecord c;
    c.uid = "v", c.drive_id = drive_, c.start_frame = 0, c.end_frame = 30, c.priority = priority;
    c.priority_parts = "{}", c.reasons = "[]";
    const int64_t id = *catalog_->add_clip(c, "test");
    const fs::path dir = dir_ / "packages" / ("p" + std::to_string(id));
    write(dir / "clip.mp4", bytes);
    PackageFacts facts;
    facts.dir = dir.string();
    facts.frames = 30;
    facts.bytes = bytes;
    facts.effort_minutes = 1;
    EXPECT_TRUE(catalog_->move_clip(id, "packaged", "test", "", &facts).ok());
    const std::vector<std::string> path = state == "packaged" ? std::vector<std::string>{}
                                          : state == "review"  ? std::vector<std::string>{"review"}
                                          : state == "approved" ? std::vector<std::string>{"review", "approved"}
                                          : state == "rejected" ? std::vector<std::string>{"review", "rejected"}
                                                                : std::vector<std::string>{"review", "approved", "uploading",
                                                                                           "uploaded", "acked"};
    for (const auto& s : path) EXPECT_TRUE(catalog_->move_clip(id, s, "test", "").ok()) << s;
    return id;
  }
  std::string segment_state(int64_t id) {
    auto rows = catalog_->segments(0);
    for (const auto& s : *rows)
      if (s.id == id) return s.state;
    return "?";
  }
  Policy quota(int64_t bytes, int64_t hard = 0) {
    Policy p;
    p.max_bytes = bytes;
    p.hard_max_bytes = hard;
    p.max_percent = 100;  // the test machine's disk is not what is tested
    p.hard_percent = 100;
    return p;
  }

  fs::path dir_;
  std::unique_ptr<Catalog> catalog_;
  int64_t drive_ = 0;
};

TEST_F(RetentionTest, NothingGoesWithinTheQuota) {
  const int64_t a = segment("a.ts", "closed", true, 100 * kKiB);
  auto r = enforce(*catalog_, dir_, quota(10 * 1024 * kKiB));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->freed, 0);
  EXPECT_EQ(segment_state(a), "closed");
}

TEST_F(RetentionTest, OldestRecordingsGoFirstNeverOpenOrIngested) {
  const int64_t ingested = segment("user.mp4", "closed", false, 300 * kKiB);
  const int64_t old = segment("1.ts", "closed", true, 200 * kKiB);
  const int64_t newer = segment("2.ts", "closed", true, 200 * kKiB);
  const int64_t open = segment("3.ts", "open", true, 200 * kKiB);
  const int64_t used = measure(dir_).total;
  // room for everything but 100 KiB: the oldest recording alone is enough
  auto r = enforce(*catalog_, dir_, quota(used - 100 * kKiB));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->segments_deleted, 1);
  EXPECT_EQ(segment_state(old), "deleted");
  EXPECT_FALSE(fs::exists(dir_ / "recordings/front/1.ts"));
  EXPECT_EQ(segment_state(newer), "closed");
  // now a quota nothing deletable can meet: the open and ingested ones stay
  r = enforce(*catalog_, dir_, quota(100 * kKiB));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->over);
  EXPECT_EQ(segment_state(newer), "deleted");
  EXPECT_EQ(segment_state(open), "open");
  EXPECT_EQ(segment_state(ingested), "closed");
  EXPECT_TRUE(fs::exists(dir_ / "recordings/front/user.mp4"));
}

TEST_F(RetentionTest, FinishedPackagesBeforeOnesWaitingForReview) {
  const int64_t review = package("review", 0.9, 200 * kKiB);
  const int64_t acked = package("acked", 0.9, 200 * kKiB);
  const int64_t rejected = package("rejected", 0.1, 200 * kKiB);
  const int64_t used = measure(dir_).total;
  auto r = enforce(*catalog_, dir_, quota(used - 300 * kKiB));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->packages_deleted, 2);
  EXPECT_EQ(r->protected_deleted, 0);
  EXPECT_TRUE((*catalog_->clip(acked))->purged);
  EXPECT_TRUE((*catalog_->clip(rejected))->purged);
  EXPECT_FALSE((*catalog_->clip(review))->purged);
  EXPECT_EQ((*catalog_->clip(review))->state, "review");
  // over the soft quota but under the hard one: the package in review stays
  r = enforce(*catalog_, dir_, quota(50 * kKiB, 10 * 1024 * kKiB));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->over);
  EXPECT_FALSE((*catalog_->clip(review))->purged);
  EXPECT_TRUE(fs::exists(dir_ / "packages" / ("p" + std::to_string(review)) / "clip.mp4"));
}

TEST_F(RetentionTest, PastTheHardLimitLowestPriorityGoesAndIsRecorded) {
  const int64_t high = package("approved", 0.9, 300 * kKiB);
  const int64_t low = package("review", 0.2, 300 * kKiB);
  const int64_t used = measure(dir_).total;
  auto r = enforce(*catalog_, dir_, quota(used - 400 * kKiB, used - 100 * kKiB));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->protected_deleted, 1);
  auto lost = *catalog_->clip(low);
  EXPECT_TRUE(lost->purged);
  EXPECT_EQ(lost->state, "failed");
  EXPECT_NE(lost->state_reason.find("hard limit"), std::string::npos) << lost->state_reason;
  auto audit = *catalog_->clip_audit(low);
  EXPECT_EQ(audit.back().actor, "retention");
  EXPECT_EQ(audit.back().to_state, "failed");
  EXPECT_FALSE((*catalog_->clip(high))->purged) << "the hard limit held after one deletion";
  EXPECT_TRUE(r->over) << "still over the soft quota";
}

TEST_F(RetentionTest, PastTheHardLimitNoPackageMakesRoomForALowerOne) {
  // The case: a drive's new packages (0.40, 0.33) must not push out
  // the one in review at 0.45; the incoming one fails instead.
  const int64_t waiting = package("review", 0.45, 300 * kKiB);
  const int64_t lower = package("review", 0.30, 300 * kKiB);
  const int64_t used = measure(dir_).total;
  const Policy tight = quota(used - 400 * kKiB, used - 100 * kKiB);
  auto r = enforce(*catalog_, dir_, tight, 500 * kKiB, 0.40);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE((*catalog_->clip(lower))->purged) << "0.30 is below the incoming 0.40: it may go";
  EXPECT_FALSE((*catalog_->clip(waiting))->purged) << "0.45 is above the incoming 0.40: it stays";
  EXPECT_EQ((*catalog_->clip(waiting))->state, "review");
  EXPECT_TRUE(r->over) << "so the incoming package does not fit";
  EXPECT_EQ(r->protected_kept, 1);
  // a recording (no priority) may still displace it past the hard limit
  r = enforce(*catalog_, dir_, tight, 500 * kKiB);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*catalog_->clip(waiting))->purged);
}

}  // namespace
}  // namespace dashloop::firmware::retention
