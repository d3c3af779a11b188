// Catalog: a real SQLite file: migrations, reopening, refusing what is not ours.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

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

// Units of one station (--only record, --only analysis) start together on a
// new data directory: each makes or finds the catalog, neither is refused.
TEST_F(CatalogTest, ANewCatalogOpenedByManyAtOnceIsMadeOnce) {
  for (int round = 0; round < 20; ++round) {
    fs::remove(file_);
    fs::remove(file_.string() + "-wal");
    fs::remove(file_.string() + "-shm");
    std::vector<Status> results(4, Status::Ok());
    std::vector<std::thread> openers;
    for (size_t i = 0; i < results.size(); ++i)
      openers.emplace_back([&, i] {
        auto c = Catalog::open(file_);
        results[i] = c.ok() ? (*c)->integrity_check() : c.status();
      });
    for (auto& t : openers) t.join();
    for (const auto& st : results) ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.message();
  }
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->schema_version(), Catalog::kSchemaVersion);
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
  auto one = (*c)->drive(id);
  ASSERT_TRUE(one.ok() && *one);
  EXPECT_EQ((*one)->source, "a.mp4");
  EXPECT_EQ((*one)->fps, 30);
  auto none = (*c)->drive(id + 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto kfs = (*c)->keyframes(id);
  ASSERT_TRUE(kfs.ok());
  ASSERT_EQ(kfs->size(), 2u);
  EXPECT_EQ((*kfs)[1].frame_index, 45);
  EXPECT_EQ((*kfs)[1].reason, "cut");
}

TEST_F(CatalogTest, TracksBoxesAndEventsStoredWithTheDrive) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  DriveObjects objects;
  TrackRecord t;
  t.track_no = 1;
  t.label = "person";
  t.first_frame = 10;
  t.last_frame = 20;
  t.first_s = 0.33;
  t.last_s = 0.67;
  t.detections = 2;
  t.mean_score = 0.8;
  t.class_votes = R"({"person":2})";
  t.boxes = {{10, 1, 2, 3, 4, 0.9, false}, {15, 2, 2, 3, 4, 0.0, true}, {20, 3, 2, 3, 4, 0.7, false}};
  objects.tracks.push_back(t);
  objects.events = {{0, 10, 0.33, "track.started", 1, "person"}, {0, 20, 0.67, "track.ended", 1, "person"}};
  auto id = (*c)->add_drive(drive("a.mp4"), {keyframe(0)}, objects);
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto tracks = (*c)->tracks(*id);
  ASSERT_TRUE(tracks.ok());
  ASSERT_EQ(tracks->size(), 1u);
  EXPECT_EQ((*tracks)[0].label, "person");
  EXPECT_EQ((*tracks)[0].class_votes, R"({"person":2})");
  auto boxes = (*c)->track_boxes((*tracks)[0].id);
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->size(), 3u);
  EXPECT_TRUE((*boxes)[1].predicted);
  EXPECT_DOUBLE_EQ((*boxes)[2].x, 3.0);
  auto events = (*c)->track_events(*id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].kind, "track.ended");

  // A bad event kind rolls back the drive, its keyframes and its tracks.
  objects.events[0].kind = "track.exploded";
  EXPECT_FALSE((*c)->add_drive(drive("b.mp4"), {keyframe(0)}, objects).ok());
  EXPECT_EQ((*c)->drives()->size(), 1u);
  DbPtr db = raw_open();
  Statement n(db.get(), "SELECT count(*) FROM tracks");
  ASSERT_TRUE(n.step());
  EXPECT_EQ(n.column_int(0), 1);
}

TEST_F(CatalogTest, SchemaOneFileIsMigratedAndKeepsItsDrives) {
  {
    // A catalog as the first release wrote it: schema 1, one drive.
    DbPtr db = raw_open();
    ASSERT_TRUE(exec(db.get(), R"sql(
CREATE TABLE drives (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, vehicle TEXT NOT NULL,
  camera TEXT NOT NULL, mode TEXT NOT NULL, ingested_utc TEXT NOT NULL DEFAULT 'x', width INTEGER NOT NULL,
  height INTEGER NOT NULL, fps REAL NOT NULL, frames INTEGER NOT NULL, duration_s REAL NOT NULL,
  elapsed_s REAL NOT NULL, keyframe_dir TEXT NOT NULL);
CREATE TABLE keyframes (id INTEGER PRIMARY KEY AUTOINCREMENT, drive_id INTEGER NOT NULL REFERENCES drives(id),
  frame_index INTEGER NOT NULL, t_s REAL NOT NULL, reason TEXT NOT NULL, trigger_index INTEGER NOT NULL,
  change REAL NOT NULL, content REAL NOT NULL, sharpness REAL NOT NULL, brightness REAL NOT NULL,
  quality REAL NOT NULL, dhash TEXT NOT NULL, image_path TEXT NOT NULL, UNIQUE (drive_id, frame_index));
INSERT INTO drives (source, vehicle, camera, mode, width, height, fps, frames, duration_s, elapsed_s, keyframe_dir)
  VALUES ('old.mp4', 'v', 'c', 'full', 640, 480, 30, 300, 10, 2, 'keyframes/1');
PRAGMA user_version = 1;
PRAGMA application_id = 1145851728;
)sql").ok());
  }
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->schema_version(), Catalog::kSchemaVersion);
  auto drives = (*c)->drives();
  ASSERT_TRUE(drives.ok()) << drives.status().message();
  ASSERT_EQ(drives->size(), 1u);
  EXPECT_EQ((*drives)[0].source, "old.mp4");
  EXPECT_EQ((*drives)[0].detector, "");
  EXPECT_TRUE((*c)->tracks(1)->empty());
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
  auto added = (*c)->add_drive(drive("a.mp4"), {keyframe(1)}, {}, [](int64_t, DriveRecord&, std::vector<KeyframeRecord>&) {
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

ClipRecord planned_clip(int64_t drive_id) {
  ClipRecord c;
  c.uid = "v_d" + std::to_string(drive_id);
  c.drive_id = drive_id;
  c.planned_start = 10;
  c.planned_end = 200;
  c.start_frame = 0;
  c.end_frame = 210;
  c.end_s = 7;
  c.priority = 0.4;
  c.priority_parts = R"({"trigger":0.4})";
  c.reasons = R"([{"rule":"trigger","frame":40,"detail":""}])";
  c.state_reason = "trigger";
  return c;
}

TEST_F(CatalogTest, QueueMovesOnlyAlongTheTableAndAuditsEachOne) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  auto drive_id = (*c)->add_drive(drive("a.mp4"), {});
  ASSERT_TRUE(drive_id.ok());
  auto id = (*c)->add_clip(planned_clip(*drive_id), "planner");
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto clip = (*c)->clip(*id);
  ASSERT_TRUE(clip.ok() && *clip);
  EXPECT_EQ((*clip)->uid, "v_d" + std::to_string(*drive_id) + "_c" + std::to_string(*id));
  EXPECT_EQ((*clip)->state, "planned");

  // illegal: skipping packaging, and no actor
  Status st = (*c)->move_clip(*id, "review", "ingest", "");
  EXPECT_EQ(st.kind(), Status::Kind::kInvalidArgument);
  EXPECT_EQ(st.message(), "clip " + (*clip)->uid + ": cannot move from 'planned' to 'review'");
  EXPECT_FALSE((*c)->move_clip(*id, "packaged", "", "").ok());
  EXPECT_FALSE((*c)->move_clip(*id, "shipped", "ingest", "").ok());
  EXPECT_EQ((*c)->move_clip(*id + 100, "packaged", "ingest", "").kind(), Status::Kind::kNotFound);

  PackageFacts facts;
  facts.dir = "/data/packages/x";
  facts.frames = 210;
  facts.bytes = 12345;
  facts.effort_minutes = 3.5;
  facts.classes = {"car", "person"};
  ASSERT_TRUE((*c)->move_clip(*id, "packaged", "ingest", "package written", &facts).ok());
  ASSERT_TRUE((*c)->move_clip(*id, "review", "ingest", "ready").ok());
  EXPECT_EQ((*(*c)->clip(*id))->classes, R"(["car","person"])");
  EXPECT_FALSE((*c)->move_clip(*id, "review", "operator:ana", "").ok()) << "a self-move only with a rebuilt package";
  PackageFacts edited = facts;
  edited.classes = {"truck"};
  edited.edits = R"({"relabel":{"1":"truck"}})";
  edited.span = PackageFacts::Span{30, 150, 1.0, 5.0};
  ASSERT_TRUE((*c)->move_clip(*id, "review", "operator:ana", "edited", &edited).ok());
  {
    auto e = (*c)->clip(*id);
    EXPECT_EQ((*e)->classes, R"(["truck"])");
    EXPECT_EQ((*e)->edits, edited.edits);
    EXPECT_EQ((*e)->start_frame, 30);
    EXPECT_EQ((*e)->end_frame, 150);
    EXPECT_EQ((*e)->camera, "front");
  }
  ASSERT_TRUE((*c)->set_clip_priority(*id, 0.9, "operator:ana").ok());
  EXPECT_DOUBLE_EQ((*(*c)->clip(*id))->priority, 0.9);
  ASSERT_TRUE((*c)->move_clip(*id, "approved", "operator:ana", "clear pedestrian").ok());
  // An edit built while the clip was approved must not move it back to review.
  st = (*c)->move_clip(*id, "review", "operator:bo", "edited", &edited, "review");
  EXPECT_EQ(st.kind(), Status::Kind::kInvalidArgument);
  EXPECT_EQ(st.message(), "clip " + (*clip)->uid + " is 'approved', no longer 'review': it was moved meanwhile");
  EXPECT_EQ((*(*c)->clip(*id))->state, "approved");
  EXPECT_FALSE((*c)->move_clip(*id, "acked", "sync", "").ok()) << "acked only after uploaded";
  ASSERT_TRUE((*c)->move_clip(*id, "uploading", "sync", "").ok());
  ASSERT_TRUE((*c)->move_clip(*id, "uploaded", "sync", "").ok());
  ASSERT_TRUE((*c)->move_clip(*id, "acked", "cloud", "job 17").ok());
  EXPECT_FALSE((*c)->move_clip(*id, "review", "operator:ana", "").ok()) << "acked is final";

  clip = (*c)->clip(*id);
  EXPECT_EQ((*clip)->state, "acked");
  EXPECT_EQ((*clip)->package_dir, "/data/packages/x");
  EXPECT_EQ((*clip)->bytes, 12345);
  auto audit = (*c)->clip_audit(*id);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 9u) << "planned, six moves, an edit and a priority; refused moves leave no row";
  EXPECT_EQ((*audit)[0].to_state, "planned");
  EXPECT_EQ((*audit)[3].reason, "edited");
  EXPECT_EQ((*audit)[4].reason, "priority 0.40 -> 0.90");
  EXPECT_EQ((*audit)[5].from_state, "review");
  EXPECT_EQ((*audit)[5].actor, "operator:ana");
  EXPECT_EQ((*audit)[5].reason, "clear pedestrian");

  // every pair outside the table is refused
  int allowed = 0;
  for (const char* from : kClipStates)
    for (const char* to : kClipStates) allowed += clip_move_allowed(from, to);
  EXPECT_EQ(allowed, 18);
  EXPECT_TRUE(clip_move_allowed("review", "review")) << "an operator's edit rebuilt the package";
  EXPECT_TRUE(clip_move_allowed("failed", "planned")) << "a failed clip can be retried";
  EXPECT_TRUE(clip_move_allowed("failed", "approved")) << "a failed upload can be retried";
  EXPECT_TRUE(clip_move_allowed("uploaded", "approved")) << "a damaged upload is sent again";
  EXPECT_FALSE(clip_move_allowed("acked", "approved")) << "what the cloud has taken stays taken";
}

TEST_F(CatalogTest, QueuePagesFilterByStateCameraClassAndDateAndOfferTheirFacets) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  auto drive_id = (*c)->add_drive(drive("a.mp4"), {});
  ASSERT_TRUE(drive_id.ok());
  for (int i = 0; i < 5; ++i) {
    auto clip = planned_clip(*drive_id);
    clip.priority = 0.1 * i;
    auto id = (*c)->add_clip(clip, "planner");
    ASSERT_TRUE(id.ok());
    PackageFacts facts;
    facts.dir = "/p";
    facts.classes = {i % 2 ? "person" : "car"};
    ASSERT_TRUE((*c)->move_clip(*id, "packaged", "ingest", "", &facts).ok());
    if (i < 4) {
      ASSERT_TRUE((*c)->move_clip(*id, "review", "ingest", "").ok());
    }
  }
  ClipQuery q;
  q.state = "review";
  q.limit = 3;
  auto page = (*c)->clip_page(q);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->total, 4);
  ASSERT_EQ(page->clips.size(), 3u);
  EXPECT_DOUBLE_EQ(page->clips[0].priority, 0.3) << "highest priority first";
  q.offset = 3;
  EXPECT_EQ((*c)->clip_page(q)->clips.size(), 1u);
  q = {};
  q.label = "person";
  EXPECT_EQ((*c)->clip_page(q)->total, 2);
  q.camera = "rear";
  EXPECT_EQ((*c)->clip_page(q)->total, 0);
  q = {};
  q.newest_first = true;
  auto newest = (*c)->clip_page(q);
  EXPECT_EQ(newest->total, 5);
  EXPECT_GT(newest->clips[0].id, newest->clips[1].id);
  auto counts = (*c)->clip_counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::vector<std::pair<std::string, int64_t>>{{"packaged", 1}, {"review", 4}}));
  auto facets = (*c)->clip_facets();
  ASSERT_TRUE(facets.ok()) << facets.status().message();
  EXPECT_EQ(facets->cameras, (std::vector<std::string>{"front"})) << "the cameras clips come from, not the config's";
  EXPECT_EQ(facets->classes, (std::vector<std::string>{"car", "person"}));
  EXPECT_EQ(facets->counts, *counts);
  q = {};
  q.from_utc = "2000-01-01";
  EXPECT_EQ((*c)->clip_page(q)->total, 5);
  q.to_utc = "2000-01-02";
  EXPECT_EQ((*c)->clip_page(q)->total, 0) << "made today, not in 2000";
  q = {};
  q.from_utc = "2999-01-01";
  EXPECT_EQ((*c)->clip_page(q)->total, 0);
}

TEST_F(CatalogTest, OperatorsLockAfterFailuresUnlockAndSpendAOneTimePasswordAndReadersByTokenHash) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->add_operator({"ana", "operator", "scrypt$x", 0, "", "", true, "read"}).ok());
  EXPECT_EQ((*c)->add_operator({"ana", "operator", "scrypt$y", 0, "", "", false, "read"}).kind(), Status::Kind::kInvalidArgument);
  ASSERT_TRUE((*c)->add_operator({"job", "reader", "abc123", 0, "", "", false, "ack"}).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE((*c)->record_login("ana", false, 3, "2030-01-01T00:00:00Z").ok());
  EXPECT_EQ((*(*c)->operator_named("ana"))->locked_until_utc, "") << "two failures of three: not locked";
  ASSERT_TRUE((*c)->record_login("ana", false, 3, "2030-01-01T00:00:00Z").ok());
  auto ana = (*c)->operator_named("ana");
  EXPECT_EQ((*ana)->failures, 3);
  EXPECT_EQ((*ana)->locked_until_utc, "2030-01-01T00:00:00Z");
  ASSERT_TRUE((*c)->unlock_operator("ana").ok());
  EXPECT_EQ((*(*c)->operator_named("ana"))->locked_until_utc, "") << "dashloop user unlock";
  EXPECT_EQ((*(*c)->operator_named("ana"))->failures, 0);
  EXPECT_EQ((*c)->unlock_operator("nobody").kind(), Status::Kind::kNotFound);
  EXPECT_EQ((*c)->unlock_operator("job").kind(), Status::Kind::kNotFound) << "a reader has no password to lock";
  ASSERT_TRUE((*c)->record_login("ana", false, 3, "").ok());
  ASSERT_TRUE((*c)->record_login("ana", true, 3, "").ok());
  EXPECT_EQ((*(*c)->operator_named("ana"))->failures, 0);
  EXPECT_TRUE((*(*c)->operator_named("ana"))->one_time);
  ASSERT_TRUE((*c)->set_operator_secret("ana", "scrypt$new").ok());
  auto replaced = (*c)->operator_named("ana");
  EXPECT_FALSE((*replaced)->one_time) << "the one-time password is spent once replaced";
  EXPECT_EQ((*replaced)->secret_hash, "scrypt$new");
  EXPECT_EQ((*c)->set_operator_secret("job", "scrypt$z").kind(), Status::Kind::kNotFound);
  EXPECT_EQ((*(*c)->reader_with_token_hash("abc123"))->name, "job");
  EXPECT_EQ((*(*c)->reader_with_token_hash("abc123"))->scope, "ack");
  EXPECT_FALSE((*c)->add_operator({"bad", "reader", "def456", 0, "", "", false, "write"}).ok()) << "no such scope";
  EXPECT_FALSE(*(*c)->reader_with_token_hash("scrypt$x")) << "an operator's hash is no token";
  EXPECT_EQ((*c)->operators()->size(), 2u);
  ASSERT_TRUE((*c)->remove_operator("job").ok());
  EXPECT_EQ((*c)->remove_operator("job").kind(), Status::Kind::kNotFound);
}

// A recorded segment of camera "front" as it opens.
SegmentRecord opened_segment() {
  SegmentRecord s;
  s.camera = "front";
  s.path = "/rec/front-1.ts";
  s.owned = true;
  s.start_utc = "2026-11-22T10:00:00.000Z";
  return s;
}

TEST_F(CatalogTest, SegmentsOpenCloseAndKeepKeyframes) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  SegmentRecord s = opened_segment();
  auto id = (*c)->add_segment(s);
  ASSERT_TRUE(id.ok()) << id.status().message();
  s.id = *id;
  s.end_utc = "2026-11-22T10:01:00.000Z";
  s.frames = 1800;
  s.fps = 30;
  s.bytes = 1000;
  ASSERT_TRUE((*c)->close_segment(s, {{0, 0}, {30, 1000000000}}).ok());
  auto rows = (*c)->segments(0, "front");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].state, "closed");
  EXPECT_EQ((*rows)[0].frames, 1800);
  EXPECT_EQ((*rows)[0].drive_id, 0);
  auto keys = (*c)->segment_keyframes(*id);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1].pts, 1000000000);
  s.id = *id + 7;
  EXPECT_EQ((*c)->close_segment(s, {}).kind(), Status::Kind::kNotFound);
  ASSERT_TRUE((*c)->mark_segment_deleted(*id).ok());
  EXPECT_EQ((*(*c)->segments(0, "front"))[0].state, "deleted");
  EXPECT_TRUE((*(*c)->segments(0, "rear")).empty());
  // A segment retention deleted while a recovery indexed it again stays
  // deleted: it never comes back 'closed' with its file gone.
  s.id = *id;
  EXPECT_EQ((*c)->close_segment(s, {}).kind(), Status::Kind::kNotFound);
  EXPECT_EQ((*(*c)->segments(0, "front"))[0].state, "deleted");
}


// A segment that could not be indexed is kept with why, and closes later
// like any other once it can be read.
TEST_F(CatalogTest, AnUnreadableSegmentIsKeptWithItsReasonAndCanCloseLater) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  SegmentRecord s = opened_segment();
  auto id = (*c)->add_segment(s);
  ASSERT_TRUE(id.ok()) << id.status().message();
  ASSERT_TRUE((*c)->mark_segment_unreadable(*id, "2026-11-22T10:01:00.000Z", 1400000, "no element \"filesrc\"").ok());
  auto rows = (*c)->segments(0, "front");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].state, "unreadable");
  EXPECT_EQ((*rows)[0].reason, "no element \"filesrc\"");
  EXPECT_EQ((*rows)[0].bytes, 1400000);
  EXPECT_EQ((*rows)[0].end_utc, "2026-11-22T10:01:00.000Z");
  s = (*rows)[0];
  s.frames = 90;
  ASSERT_TRUE((*c)->close_segment(s, {{0, 0}}).ok());
  rows = (*c)->segments(0, "front");
  EXPECT_EQ((*rows)[0].state, "closed");
  EXPECT_EQ((*rows)[0].reason, "");
  EXPECT_EQ((*rows)[0].frames, 90);
  EXPECT_EQ((*c)->segment_keyframes(*id)->size(), 1u);
}

// Schema 7 makes the segments table anew: the migration must keep every
// row and the keyframes that refer to them (a DROP under foreign keys would
// have cascaded into segment_keyframes).
TEST_F(CatalogTest, SegmentsAndTheirKeyframesSurviveTheSchemaSevenMigration) {
  {
    auto c = Catalog::open(file_);
    ASSERT_TRUE(c.ok());
    SegmentRecord s = opened_segment();
    s.state = "closed";
    s.frames = 60;
    ASSERT_TRUE((*c)->add_segment(s, {{0, 0}, {30, 1000}}).ok());
  }
  {
    // Back to schema 6's tables, as a catalog from before this release has them.
    DbPtr db = raw_open();
    ASSERT_TRUE(exec(db.get(), R"sql(
PRAGMA foreign_keys = OFF;
CREATE TABLE old AS SELECT id, drive_id, camera, path, owned, state, start_utc, end_utc, first_frame, frames,
  first_pts, duration_s, fps, codec, bytes FROM segments;
DROP TABLE segments;
ALTER TABLE old RENAME TO segments;
DROP INDEX drives_by_fingerprint;
ALTER TABLE drives DROP COLUMN fingerprint;
ALTER TABLE operators DROP COLUMN one_time;
ALTER TABLE operators DROP COLUMN scope;
PRAGMA user_version = 6;
)sql").ok());
  }
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto rows = (*c)->segments(0, "front");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].frames, 60);
  EXPECT_EQ((*c)->segment_keyframes((*rows)[0].id)->size(), 2u);
  DbPtr db = raw_open();
  Statement fk(db.get(), "PRAGMA foreign_key_check");
  EXPECT_FALSE(fk.step()) << "no row refers to a missing segment";
}

TEST_F(CatalogTest, CameraGapsAreKeptPerCameraAndAGapCannotEndBeforeItStarts) {
  auto c = Catalog::open(file_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->add_gap({0, "road", "2026-11-22T10:01:00.000Z", "2026-11-22T10:01:12.500Z", "connection refused"}).ok());
  ASSERT_TRUE((*c)->add_gap({0, "side", "2026-11-22T10:00:30.000Z", "2026-11-22T10:00:31.000Z", "stalled"}).ok());
  auto bad = (*c)->add_gap({0, "road", "2026-11-22T10:05:00.000Z", "2026-11-22T10:04:00.000Z", "clock"});
  EXPECT_FALSE(bad.ok());
  auto all = (*c)->gaps();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].camera, "side");  // by start
  auto road = (*c)->gaps("road");
  ASSERT_EQ(road->size(), 1u);
  EXPECT_EQ((*road)[0].end_utc, "2026-11-22T10:01:12.500Z");
  EXPECT_EQ((*road)[0].reason, "connection refused");
}

}  // namespace
}  // namespace dashloop::firmware::catalog
