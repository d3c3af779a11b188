// Sync's parts that need no server: the file:// store (the embedded
// default, laid out like a bucket), target parsing, and the catalog's
// resumable upload state. The S3 store is tested against a real RADOS
// Gateway in tests/e2e/sync_test.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "catalog/catalog.hpp"
#include "sync/store.hpp"
#include "sync/sync.hpp"

namespace dashloop::firmware::sync {
namespace {

namespace fs = std::filesystem;

StoreConfig target(const std::string& t, const std::string& endpoint = "", bool keys = true) {
  StoreConfig c;
  c.target = t;
  c.endpoint = endpoint;
  if (keys) {
    c.access_key = "a";
    c.secret_key = "s";
  }
  return c;
}

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-sync-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = open_store(target("file://" + (dir_ / "bucket").string()));
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(FileStoreTest, CreateOnlyWritesRefuseATakenKey) {
  ASSERT_TRUE(store_->put_bytes("claims/c1.json", "job-a", true).ok());
  Status second = store_->put_bytes("claims/c1.json", "job-b", true);
  EXPECT_EQ(second.kind(), Status::Kind::kAlreadyExists) << second.message();
  auto got = store_->get_bytes("claims/c1.json");
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ(**got, "job-a") << "the first claim stays";
  EXPECT_TRUE(store_->put_bytes("claims/c1.json", "job-c").ok()) << "a plain write replaces";
  auto none = store_->get_bytes("acks/none.json");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST_F(FileStoreTest, KeysNeverLeaveTheTarget) {
  for (const char* key : {"../outside", "/etc/passwd", "a/../../outside", ".multipart/x"}) {
    Status st = store_->put_bytes(key, "x");
    EXPECT_EQ(st.kind(), Status::Kind::kInvalidArgument) << key;
  }
  EXPECT_FALSE(fs::exists(dir_ / "outside"));
}

TEST_F(FileStoreTest, MultipartPartsJoinInOrderAndListingsHideThem) {
  const std::string bytes = "0123456789abcdefghij";
  const fs::path file = write("f.bin", bytes);
  auto id = store_->start_multipart("v/clip.mp4", "");
  ASSERT_TRUE(id.ok());
  // Parts may arrive out of order (a resumed upload); the object is in part order.
  auto p2 = store_->put_part("v/clip.mp4", *id, 2, file, 10, 10, sha256_hex(bytes.substr(10)));
  auto p1 = store_->put_part("v/clip.mp4", *id, 1, file, 0, 10, sha256_hex(bytes.substr(0, 10)));
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto listed = store_->list("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "no object until the upload is finished";
  ASSERT_TRUE(store_->finish_multipart("v/clip.mp4", *id, {{1, *p1}, {2, *p2}}).ok());
  auto info = store_->head("v/clip.mp4");
  ASSERT_TRUE(info.ok() && *info);
  EXPECT_EQ((*info)->size, 20);
  EXPECT_EQ((*info)->sha256, sha256_hex(bytes));
  EXPECT_EQ(store_->bytes_sent(), 20);
  listed = store_->list("v/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().key, "v/clip.mp4");
  EXPECT_FALSE(store_->put_part("v/clip.mp4", "no-such-upload", 1, file, 0, 10, "").ok());
}

TEST_F(FileStoreTest, NetworkPolicySaysWhyNot) {
  config::SyncConfig c;
  EXPECT_EQ(network_blocked(c, *store_), "") << "always";
  c.network = "command:true";
  EXPECT_EQ(network_blocked(c, *store_), "");
  c.network = "command:exit 3";
  EXPECT_NE(network_blocked(c, *store_).find("exited 3"), std::string::npos) << network_blocked(c, *store_);
  c.network = "interface:lo";
  EXPECT_EQ(network_blocked(c, *store_), "") << "loopback reports 'unknown': counted as up";
  c.network = "interface:dashloop-none0";
  EXPECT_NE(network_blocked(c, *store_).find("interface dashloop-none0 is missing"), std::string::npos);
  c.network = "probe";
  EXPECT_EQ(network_blocked(c, *store_), "") << "a directory always answers";
  // An hour window that excludes the current UTC hour, and one that holds it.
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  c.network = "always";
  c.hours = std::to_string((tm.tm_hour + 1) % 24) + "-" + std::to_string((tm.tm_hour + 2) % 24);
  EXPECT_NE(network_blocked(c, *store_).find("outside the allowed hours"), std::string::npos) << c.hours;
  c.hours = std::to_string(tm.tm_hour) + "-" + std::to_string((tm.tm_hour + 1) % 24);
  EXPECT_EQ(network_blocked(c, *store_), "") << c.hours;
}

TEST(StoreTargets, BadTargetsAreRefusedByName) {
  for (const char* t : {"ftp://x", "s3://", "s3://A_Bucket/p", "file://", "bucket/prefix"}) {
    auto store = open_store(target(t));
    ASSERT_FALSE(store.ok()) << t;
    EXPECT_NE(store.status().message().find(t), std::string::npos) << store.status().message();
  }
  auto no_keys = open_store(target("s3://fleet/p", "http://127.0.0.1:9", false));
  ASSERT_FALSE(no_keys.ok());
  EXPECT_NE(no_keys.status().message().find("no credentials"), std::string::npos);
  auto bad_url = open_store(target("s3://fleet", "htp//no host"));
  ASSERT_FALSE(bad_url.ok());
  EXPECT_NE(bad_url.status().message().find("htp//no host"), std::string::npos) << bad_url.status().message();
  auto ok = open_store(target("s3://fleet/depot/", "http://127.0.0.1:9"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ((*ok)->name("x/manifest.json"), "s3://fleet/depot/x/manifest.json");
}

TEST(SyncCatalog, UploadStateKeepsPartsUntilTheUploadIdChanges) {
  const fs::path file = fs::temp_directory_path() / ("dashloop-sync-catalog-" + std::to_string(getpid()) + ".sqlite");
  fs::remove(file);
  {
    auto c = catalog::Catalog::open(file);
    ASSERT_TRUE(c.ok());
    catalog::DriveRecord d;
    d.source = "x.mp4";
    d.vehicle = "v";
    d.camera = "front";
    d.mode = "full";
    d.fps = 30;
    auto drive = (*c)->add_drive(d, {});
    ASSERT_TRUE(drive.ok()) << drive.status().message();
    catalog::ClipRecord clip;
    clip.drive_id = *drive;
    clip.uid = "v_d1";
    clip.end_frame = 30;
    clip.planned_end = 30;
    clip.priority_parts = "{}";
    clip.reasons = "[]";
    auto id = (*c)->add_clip(clip, "test");
    ASSERT_TRUE(id.ok()) << id.status().message();
    catalog::UploadFileRecord rec{*id, "clip.mp4", "s3://b/clip.mp4", 100, "abc", "upload-1", false};
    ASSERT_TRUE((*c)->put_upload_file(rec).ok());
    ASSERT_TRUE((*c)->add_upload_part(*id, "clip.mp4", {1, 0, 50, "\"e1\"", "s1"}).ok());
    ASSERT_TRUE((*c)->put_upload_file(rec).ok()) << "the same upload again";
    auto parts = (*c)->upload_parts(*id, "clip.mp4");
    ASSERT_TRUE(parts.ok());
    EXPECT_EQ(parts->size(), 1u) << "writing the same upload id keeps its parts";
    rec.upload_id = "upload-2";
    ASSERT_TRUE((*c)->put_upload_file(rec).ok());
    parts = (*c)->upload_parts(*id, "clip.mp4");
    ASSERT_TRUE(parts.ok());
    EXPECT_TRUE(parts->empty()) << "parts of another upload id are dropped";
    ASSERT_TRUE((*c)->add_upload_part(*id, "clip.mp4", {1, 0, 50, "\"e1\"", "s1"}).ok());
  }
  {
    auto c = catalog::Catalog::open(file);
    ASSERT_TRUE(c.ok());
    auto files = (*c)->upload_files(1);
    ASSERT_TRUE(files.ok());
    ASSERT_EQ(files->size(), 1u) << "the state survives reopening (a restart resumes)";
    EXPECT_EQ(files->front().upload_id, "upload-2");
    ASSERT_TRUE((*c)->clear_upload(1).ok());
    EXPECT_TRUE((*c)->upload_files(1)->empty());
    EXPECT_TRUE((*c)->upload_parts(1, "clip.mp4")->empty()) << "parts go with their file";
  }
  fs::remove(file);
}

}  // namespace
}  // namespace dashloop::firmware::sync
