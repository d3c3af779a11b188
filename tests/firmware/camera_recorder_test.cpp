// A camera's recorder and its crash recovery, with a real catalog file and
// real segment files: a segment that cannot be read when it is closed is
// kept (never deleted for it) and read again at the camera's next start.
#include "station/camera_recorder.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "media/source.hpp"

namespace dashloop::app {
namespace {

namespace fs = std::filesystem;
namespace cat = firmware::catalog;

class CameraRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-camrec-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "recordings" / "road");
    auto c = cat::Catalog::open(dir_ / "catalog.sqlite");
    ASSERT_TRUE(c.ok()) << c.status().message();
    catalog_ = std::move(*c);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A segment the catalog holds as open (a crash left it so), its file `bytes`.
  int64_t left_open(const fs::path& file) {
    cat::SegmentRecord s;
    s.camera = "road";
    s.path = file.string();
    s.owned = true;
    s.state = "open";
    s.start_utc = "2026-12-06T10:00:00.000Z";
    auto id = catalog_->add_segment(s);
    EXPECT_TRUE(id.ok()) << id.status().message();
    return id.ok() ? *id : 0;
  }
  cat::SegmentRecord segment(int64_t id) {
    auto rows = catalog_->segments(0, "road");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    if (rows.ok())
      for (const auto& s : rows.value())
        if (s.id == id) return s;
    return {};
  }
  Status start_and_stop() {
    auto source = pipeline::media::parse_source("test://ball?width=160&height=120&fps=10");
    if (!source.ok()) return source.status();
    auto recorder = CameraRecorder::start(*catalog_, dir_, "road", *source, 2.0, 10.0);
    if (!recorder.ok()) return recorder.status();
    return (*recorder)->stop();
  }

  fs::path dir_;
  std::unique_ptr<cat::Catalog> catalog_;
};

TEST_F(CameraRecorderTest, ASegmentThatCannotBeReadNowIsKeptAndReadAgainLater) {
  const fs::path file = dir_ / "recordings" / "road" / "road-00001.ts";
  {
    std::ofstream garbage(file, std::ios::binary);
    for (int i = 0; i < 4096; ++i) garbage.put(char(i * 7919 % 251));
  }
  const int64_t id = left_open(file);
  ASSERT_TRUE(start_and_stop().ok());
  EXPECT_TRUE(fs::exists(file)) << "a recording is never deleted because it could not be read";
  auto s = segment(id);
  EXPECT_EQ(s.state, "unreadable");
  EXPECT_FALSE(s.reason.empty()) << "the reason is kept";
  EXPECT_EQ(s.bytes, 4096);

  // Readable now (the fault passed): the next start indexes it.
  fs::copy_file(DASHLOOP_TESTDATA "/drive_s3ts.ts", file, fs::copy_options::overwrite_existing);
  ASSERT_TRUE(start_and_stop().ok());
  s = segment(id);
  EXPECT_EQ(s.state, "closed");
  EXPECT_GT(s.frames, 0);
  EXPECT_EQ(s.reason, "");
}

TEST_F(CameraRecorderTest, ASegmentWhoseFileIsGoneIsMarkedSoNotRetriedForever) {
  const int64_t id = left_open(dir_ / "recordings" / "road" / "gone.ts");
  ASSERT_TRUE(start_and_stop().ok());
  EXPECT_EQ(segment(id).state, "deleted");
}

// Retention marks a row deleted, then unlinks the file: a stop between the
// two leaves the file, and the camera's next start removes it (it is not
// taken back in as a recording).
TEST_F(CameraRecorderTest, AFileRetentionMarkedDeletedIsRemovedAtTheNextStart) {
  const fs::path file = dir_ / "recordings" / "road" / "road-20261206T100000Z-00000.ts";
  fs::copy_file(DASHLOOP_TESTDATA "/drive_s3ts.ts", file);
  const int64_t id = left_open(file);
  ASSERT_TRUE(catalog_->mark_segment_deleted(id).ok());
  ASSERT_TRUE(start_and_stop().ok());
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(segment(id).state, "deleted");
}

}  // namespace
}  // namespace dashloop::app
