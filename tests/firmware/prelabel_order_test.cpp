// The order in which packaged clips reach the pre-label pass (and review):
// a trigger's or a mark's clip first, then by priority, then oldest. The
// pass is off here, so each clip moves on as it is, in that order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "station/clip_maker.hpp"
#include "catalog/catalog.hpp"

namespace fs = std::filesystem;
namespace cat = dashloop::firmware::catalog;
using dashloop::app::Context;

namespace {

cat::ClipRecord packaged_clip(int64_t drive_id, double priority, const std::string& rule) {
  cat::ClipRecord c;
  c.uid = "v_d" + std::to_string(drive_id);
  c.drive_id = drive_id;
  c.planned_end = 100;
  c.end_frame = 100;
  c.end_s = 4;
  c.priority = priority;
  c.priority_parts = "{}";
  c.reasons = R"([{"rule":")" + rule + R"(","frame":40,"detail":""}])";
  c.state_reason = rule;
  return c;
}

TEST(PrelabelOrder, ATriggersClipFirstThenByPriorityThenOldest) {
  const fs::path file = fs::temp_directory_path() / ("dashloop-order-" + std::to_string(getpid()) + ".sqlite");
  fs::remove(file);
  Context ctx;
  ctx.config.prelabel.redetect = false;
  auto opened = cat::Catalog::open(file);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  ctx.catalog = std::move(*opened);
  cat::DriveRecord d;  // the clips' drive: only its id matters here
  d.source = "a.mp4";
  d.mode = "full";
  auto drive = ctx.catalog->add_drive(d, {});
  ASSERT_TRUE(drive.ok()) << drive.status().message();
  std::vector<int64_t> ids;  // oldest first
  for (const auto& [priority, rule] : std::vector<std::pair<double, std::string>>{
           {0.2, "sample"}, {0.7, "person"}, {0.2, "sample"}, {0.1, "trigger"}, {0.3, "mark"}}) {
    auto id = ctx.catalog->add_clip(packaged_clip(*drive, priority, rule), "planner");
    ASSERT_TRUE(id.ok()) << id.status().message();
    cat::PackageFacts facts;
    facts.dir = "/nowhere";
    ASSERT_TRUE(ctx.catalog->move_clip(*id, "packaged", "test", "package written", &facts).ok());
    ids.push_back(*id);
  }
  auto run = dashloop::app::prelabel_packaged(ctx, "test", {}, 0);
  ASSERT_TRUE(run.ok()) << run.status().message();
  // mark (0.3) and trigger (0.1) first, by priority; then person 0.7; then the two 0.2 samples, oldest first.
  EXPECT_EQ(run->ready, (std::vector<int64_t>{ids[4], ids[3], ids[1], ids[0], ids[2]}));
  for (int64_t id : ids) EXPECT_EQ((*ctx.catalog->clip(id))->state, "review");
  ctx.catalog.reset();
  fs::remove(file);
}

}  // namespace
