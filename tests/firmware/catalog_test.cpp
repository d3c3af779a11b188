// Catalog: a real SQLite file: migrations, reopening, refusing what is not ours.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "catalog/catalog.hpp"
#include "catalog/sqlite.hpp"

namespace fs = std::filesystem;

namespace dashloop::firmware::catalog {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dashloop-catalog-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = dir_ / "catalog.sqlite";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static DriveRecord drive(const std::string& source) {
    DriveRecord d;
    d.source = source;
    d.vehicle = "v";
    d.camera = "front";
    d.mode = "full";
    d.width = 640;
    d.height = 360;
    d.fps = 30;
    d.frames = 300;
    d.duration_s = 10;
    return d;
  }
  static KeyframeRecord keyframe(int64_t frame) {
    KeyframeRecord k;
    k.frame_index = frame;
    k.t_s = frame / 30.0;
    k.reason = "cut";
    k.dhash = "00000000000000ff";
    k.image_path = "frame.jpg";
    return k;
  }
  // The file opened with plain SQLite, as another program would.
  DbPtr raw_open() const {
    sqlite3* raw = nullptr;
    sqlite3_open(file_.c_str(), &raw);
    return DbPtr(raw);
  }
  fs::path dir_, file_;
};

TEST_F(CatalogTest, NewFileIsMigratedToTheCurrentSchema) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->schema_version(), Catalog::kSchemaVersion);
  EXPECT_TRUE((*c)->integrity_check().ok());
}

TEST_F(CatalogTest, DrivesAndKeyframesSurviveReopening) {
  int64_t id = 0;
  {
    auto c = Catalog::open(file_);
    ASSERT_TRUE(c.ok());
    auto added = (*c)->add_drive(drive("a.mp4"), {keyframe(0), keyframe(45)});
    ASSERT_TRUE(added.ok()) << added.status().message();
    id = *added;
  }
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto drives = (*c)->drives();
  ASSERT_TRUE(drives.ok());
  ASSERT_EQ(drives->size(), 1u);
  EXPECT_EQ((*drives)[0].id, id);
  EXPECT_EQ((*drives)[0].source, "a.mp4");
  EXPECT_FALSE((*drives)[0].ingested_utc.empty());
  auto kfs = (*c)->keyframes(id);
  ASSERT_TRUE(kfs.ok());
  ASSERT_EQ(kfs->size(), 2u);
  EXPECT_EQ((*kfs)[1].frame_index, 45);
  EXPECT_EQ((*kfs)[1].reason, "cut");
}

TEST_F(CatalogTest, UsesWalAndForeignKeys) {
  { ASSERT_TRUE(Catalog::open(file_).ok()); }
  DbPtr db = raw_open();
  Statement mode(db.get(), "PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
  Statement fk(db.get(), "PRAGMA foreign_key_list(keyframes)");
  ASSERT_TRUE(fk.step()) << "keyframes reference drives";
  EXPECT_EQ(fk.column_text(2), "drives");
}

TEST_F(CatalogTest, FailedBeforeCommitStoresNothing) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  auto added = (*c)->add_drive(drive("a.mp4"), {keyframe(1)}, [](int64_t, DriveRecord&, std::vector<KeyframeRecord>&) {
    return Status::IOError("disk full");
  });
  EXPECT_FALSE(added.ok());
  EXPECT_TRUE((*c)->drives()->empty());
  EXPECT_TRUE((*c)->keyframes(1)->empty());
}

TEST_F(CatalogTest, DuplicateKeyframeRollsBackTheWholeDrive) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->add_drive(drive("a.mp4"), {keyframe(5), keyframe(5)}).ok());
  EXPECT_TRUE((*c)->drives()->empty());
}

TEST_F(CatalogTest, RandomBytesAreRefusedAndKept) {
  std::mt19937 rng(1);
  std::string junk(64 * 1024, '\0');
  for (auto& ch : junk) ch = char(rng());
  std::ofstream(file_, std::ios::binary) << junk;
  auto c = Catalog::open(file_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(file_.string()), std::string::npos) << c.status().message();
  std::ifstream in(file_, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(after, junk) << "a refused file must not be touched";
}

TEST_F(CatalogTest, ForeignDatabaseIsRefused) {
  {
    DbPtr db = raw_open();
    ASSERT_TRUE(exec(db.get(), "CREATE TABLE invoices(id INTEGER); INSERT INTO invoices VALUES (7);").ok());
  }
  auto c = Catalog::open(file_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("another application"), std::string::npos) << c.status().message();
}

TEST_F(CatalogTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(Catalog::open(file_).ok()); }
  {
    DbPtr db = raw_open();
    ASSERT_TRUE(exec(db.get(), "PRAGMA user_version = 99").ok());
  }
  auto c = Catalog::open(file_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("newer"), std::string::npos) << c.status().message();
}

TEST_F(CatalogTest, CorruptPagesAreRefused) {
  {
    auto c = Catalog::open(file_);
    ASSERT_TRUE(c.ok());
    std::vector<KeyframeRecord> many;
    for (int i = 0; i < 500; ++i) many.push_back(keyframe(i));
    ASSERT_TRUE((*c)->add_drive(drive("a.mp4"), many).ok());
  }
  {
    // Checkpoint the WAL into the main file, then scribble over a page.
    DbPtr db = raw_open();
    ASSERT_TRUE(exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;").ok());
  }
  {
    std::fstream f(file_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096 * 2);  // the third page, from its b-tree header on
    const std::string garbage(3 * 4096, '\x5a');
    f.write(garbage.data(), std::streamsize(garbage.size()));
  }
  auto c = Catalog::open(file_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), Status::Kind::kCorruption) << c.status().message();
}

}  // namespace
}  // namespace dashloop::firmware::catalog
