// Sync's parts that need no server: the file:// store (the embedded
// default, laid out like a bucket), target parsing, and the catalog's
// resumable upload state. The S3 store is tested against a real RADOS
// Gateway in tests/e2e/sync_test.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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

// A drive with one planned clip (uid v_d1_c<id>) in `c`; the clip's id.
Result<int64_t> add_planned_clip(catalog::Catalog& c) {
  catalog::DriveRecord d;
  d.source = "x.mp4";
  d.vehicle = "v";
  d.camera = "front";
  d.mode = "full";
  d.fps = 30;
  auto drive = c.add_drive(d, {});
  if (!drive.ok()) return drive.status();
  catalog::ClipRecord clip;
  clip.drive_id = *drive;
  clip.uid = "v_d1";
  clip.end_frame = 30;
  clip.planned_end = 30;
  clip.priority_parts = "{}";
  clip.reasons = "[]";
  return c.add_clip(clip, "test");
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

// An approved package (a 12 MiB clip in 5 MiB parts and a small file)
// whose upload a kill interrupted: the catalog holds the upload id, the
// store whatever the test puts there.
class SyncResumeTest : public FileStoreTest {
 protected:
  static constexpr int64_t kMiB = 1024 * 1024;
  void SetUp() override {
    FileStoreTest::SetUp();
    video_.resize(12 * kMiB + 123);
    for (size_t i = 0; i < video_.size(); ++i) video_[i] = static_cast<char>((i * 2654435761u) >> 13);
    pkg_ = dir_ / "pkg";
    fs::create_directories(pkg_);
    std::ofstream(pkg_ / "clip.mp4", std::ios::binary) << video_;
    std::ofstream(pkg_ / "labels.json") << "{\"tracks\": []}";
    nlohmann::json manifest = {{"utc_start", "2026-12-04T10:00:00Z"}, {"files", nlohmann::json::array()}};
    for (const char* name : {"clip.mp4", "labels.json"}) {
      auto sum = sha256_range(pkg_ / name, 0, static_cast<int64_t>(fs::file_size(pkg_ / name)));
      ASSERT_TRUE(sum.ok());
      manifest["files"].push_back({{"path", name}, {"bytes", fs::file_size(pkg_ / name)}, {"sha256", *sum}});
    }
    sha_ = manifest["files"][0]["sha256"];
    std::ofstream(pkg_ / "manifest.json") << manifest.dump();

    auto c = catalog::Catalog::open(dir_ / "catalog.sqlite");
    ASSERT_TRUE(c.ok()) << c.status().message();
    catalog_ = std::move(*c);
    auto id = add_planned_clip(*catalog_);
    ASSERT_TRUE(id.ok()) << id.status().message();
    id_ = *id;
    catalog::PackageFacts facts;
    facts.dir = pkg_.string();
    facts.bytes = static_cast<int64_t>(video_.size());
    for (const char* to : {"packaged", "review", "approved", "uploading"})
      ASSERT_TRUE(catalog_->move_clip(id_, to, "test", "", std::string(to) == "packaged" ? &facts : nullptr).ok()) << to;
    auto rec = catalog_->clip(id_);
    ASSERT_TRUE(rec.ok() && *rec);
    key_ = package_prefix("v", "2026-12-04", (*rec)->uid) + "clip.mp4";
    auto upload = store_->start_multipart(key_, sha_);
    ASSERT_TRUE(upload.ok());
    upload_ = *upload;
    ASSERT_TRUE(catalog_->put_upload_file({id_, "clip.mp4", store_->name(key_), int64_t(video_.size()), sha_, upload_, false}).ok());
  }
  Status put_part(int number) {
    const int64_t offset = (number - 1) * 5 * kMiB, bytes = std::min<int64_t>(5 * kMiB, int64_t(video_.size()) - offset);
    auto sum = sha256_range(pkg_ / "clip.mp4", offset, bytes);
    if (!sum.ok()) return sum.status();
    return store_->put_part(key_, upload_, number, pkg_ / "clip.mp4", offset, bytes, *sum).status();
  }
  // The restart: a pass on a new connection to the same target.
  SyncReport restart(Syncer::Progress progress = {}) {
    auto again = open_store(target("file://" + (dir_ / "bucket").string()));
    EXPECT_TRUE(again.ok());
    config::SyncConfig config;
    config.multipart_threshold_mib = 5;
    config.part_mib = 5;
    config.concurrency = 2;
    Syncer syncer(*catalog_, **again, config, "v", std::move(progress));
    return syncer.pass();
  }
  int64_t small_files() const {
    return int64_t(fs::file_size(pkg_ / "labels.json") + fs::file_size(pkg_ / "manifest.json"));
  }
  std::string stored() const {
    std::ifstream in(dir_ / "bucket" / key_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  std::string video_, sha_, key_, upload_;
  fs::path pkg_;
  std::unique_ptr<catalog::Catalog> catalog_;
  int64_t id_ = 0;
};

// A kill can land after the store took a part and before the catalog
// recorded it (or while its answer was on the way): the restart asks the
// store which parts it holds and sends none of them again.
TEST_F(SyncResumeTest, APartTheStoreHoldsIsNotSentAgain) {
  ASSERT_TRUE(put_part(2).ok());
  std::vector<int64_t> done;  // bytes_done of each sync.progress event while uploading
  SyncReport report = restart([&](const nlohmann::json& e) {
    if (e.value("state", "") == "uploading") done.push_back(e.value("bytes_done", int64_t(-1)));
  });
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  EXPECT_EQ(report.uploaded, 1);
  EXPECT_EQ(report.bytes_resumed, 5 * kMiB) << "part 2, found in the store";
  EXPECT_EQ(report.bytes_sent, int64_t(video_.size()) - 5 * kMiB + small_files())
      << "every byte not yet stored, once; part 2 not again";
  EXPECT_TRUE(stored() == video_) << "the object is the file, parts in order";
  auto parts = catalog_->upload_parts(id_, "clip.mp4");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->size(), 3u) << "the part found in the store is recorded too";
  ASSERT_FALSE(done.empty());
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end())) << "progress never goes back";
  EXPECT_EQ(done.back(), int64_t(video_.size()) + small_files()) << "the manifest, last, ends at the package's size";
}

// A kill during the complete (the store finished it, the catalog never
// heard): the upload is gone from the store, the object is there whole;
// the restart takes it as sent instead of starting the file over.
TEST_F(SyncResumeTest, AnUploadCompletedBeforeTheKillIsNotSentAgain) {
  for (int n : {1, 2, 3}) ASSERT_TRUE(put_part(n).ok());
  ASSERT_TRUE(store_->finish_multipart(key_, upload_, {{1, ""}, {2, ""}, {3, ""}}).ok());
  SyncReport report = restart();
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  EXPECT_EQ(report.uploaded, 1);
  EXPECT_EQ(report.bytes_resumed, int64_t(video_.size()));
  EXPECT_EQ(report.bytes_sent, small_files()) << "the clip not sent again";
  EXPECT_TRUE(stored() == video_);
}

TEST(SyncCatalog, UploadStateKeepsPartsUntilTheUploadIdChanges) {
  const fs::path file = fs::temp_directory_path() / ("dashloop-sync-catalog-" + std::to_string(getpid()) + ".sqlite");
  fs::remove(file);
  {
    auto c = catalog::Catalog::open(file);
    ASSERT_TRUE(c.ok());
    auto id = add_planned_clip(**c);
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
