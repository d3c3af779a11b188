// Drive analysis on real GStreamer pipelines over real video files: the
// generated drives (with ground truth) and Debian's opencv-doc footage.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <mutex>
#include <set>

#include "drive.hpp"
#include "media/gst.hpp"
#include "media/packets.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::pipeline {
namespace {

const fs::path kData = DASHLOOP_TESTDATA;
const fs::path kOpencvData = "/usr/share/doc/opencv-doc/examples/data";

struct Scores {
  int true_pos = 0, false_pos = 0, false_neg = 0;
  double precision() const { return true_pos + false_pos ? double(true_pos) / (true_pos + false_pos) : 1.0; }
  double recall() const { return true_pos + false_neg ? double(true_pos) / (true_pos + false_neg) : 1.0; }
};

// A detected transition matches a true one when its trigger lies within
// `slack` frames of it (a dissolve: of its span). Each truth matches once.
Scores match(const std::vector<std::pair<int64_t, int64_t>>& truth, const std::vector<int64_t>& found, int slack) {
  Scores s;
  std::vector<bool> used(truth.size(), false);
  for (int64_t f : found) {
    bool hit = false;
    for (size_t i = 0; i < truth.size() && !hit; ++i)
      if (!used[i] && f >= truth[i].first - slack && f <= truth[i].second + slack) used[i] = hit = true;
    hit ? ++s.true_pos : ++s.false_pos;
  }
  for (bool u : used) s.false_neg += u ? 0 : 1;
  return s;
}

class DriveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-drive-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<DriveResult> analyze(const std::string& arg, bool triage = false) {
    auto source = media::parse_source(arg);
    if (!source.ok()) return source.status();
    DriveOptions o;
    o.keyframe_dir = dir_;
    o.reader.keyframes_only = triage;
    return analyze_drive(*source, o);
  }
  static json truth(const std::string& name) {
    std::ifstream in(kData / name);
    return json::parse(in);
  }
  static std::vector<int64_t> transitions(const DriveResult& r) {
    std::vector<int64_t> out;
    for (const auto& k : r.keyframes)
      if (k.keyframe.reason == vision::Reason::kCut || k.keyframe.reason == vision::Reason::kDissolve)
        out.push_back(k.keyframe.trigger_index);
    return out;
  }
  static std::vector<std::pair<int64_t, int64_t>> truth_transitions(const json& t) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (int64_t c : t["cuts"]) out.emplace_back(c, c);
    for (const auto& d : t["dissolves"]) out.emplace_back(d[0].get<int64_t>(), d[1].get<int64_t>());
    return out;
  }
  fs::path dir_;
};

TEST_F(DriveTest, ReadsEveryContainerAndCodec) {
  // H.264 in MP4, MKV and TS; H.265 in MKV; MJPEG in AVI: the same drive
  for (const char* name :
       {"drive_s3.mp4", "drive_s3mkv.mkv", "drive_s3ts.ts", "drive_s3h265.mkv", "drive_s3mjpeg.avi"}) {
    SCOPED_TRACE(name);
    auto r = analyze((kData / name).string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->frames, 600);
    EXPECT_EQ(r->stream.width, 640);
    EXPECT_EQ(r->stream.height, 360);
    EXPECT_NEAR(r->stream.fps, 30.0, 0.01);
    EXPECT_EQ(r->dropped, 0);
    EXPECT_EQ(transitions(*r), (std::vector<int64_t>{180, 450})) << "same cuts whatever the container";
  }
}

TEST_F(DriveTest, CutsAndDissolvesOnGeneratedDrivesPrecisionAndRecall) {
  Scores total;
  for (const char* name : {"drive_s1", "drive_s2"}) {
    auto r = analyze((kData / (std::string(name) + ".mp4")).string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    const auto s = match(truth_transitions(truth(std::string(name) + ".json")), transitions(*r), 2);
    total.true_pos += s.true_pos;
    total.false_pos += s.false_pos;
    total.false_neg += s.false_neg;
  }
  RecordProperty("precision", std::to_string(total.precision()));
  RecordProperty("recall", std::to_string(total.recall()));
  EXPECT_GE(total.true_pos, 8);
  EXPECT_GE(total.precision(), 0.95);
  EXPECT_GE(total.recall(), 0.95);
}

TEST_F(DriveTest, FlashBlurAndBlackFramesAreNotCutsAndNeverChosen) {
  auto r = analyze((kData / "drive_s2.mp4").string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const json t = truth("drive_s2.json");
  std::set<int64_t> bad;
  for (const auto& f : t["flashes"])
    for (int64_t i = f[0]; i <= f[1].get<int64_t>(); ++i) bad.insert(i);
  for (int64_t i : t["blurred"]) bad.insert(i);
  for (int64_t i : t["black"]) bad.insert(i);
  for (const auto& k : r->keyframes) {
    EXPECT_FALSE(bad.count(k.keyframe.index)) << "frame " << k.keyframe.index << " is flashed, blurred or black";
    if (k.keyframe.reason == vision::Reason::kCut) {
      EXPECT_FALSE(bad.count(k.keyframe.trigger_index)) << "a transient was taken for a cut at "
                                                         << k.keyframe.trigger_index;
      EXPECT_FALSE(bad.count(k.keyframe.trigger_index - 1)) << "a transient's end was taken for a cut";
    }
  }
}

TEST_F(DriveTest, StationaryStretchYieldsAtMostTwoKeyframes) {
  auto r = analyze((kData / "drive_s2.mp4").string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const json t = truth("drive_s2.json");
  ASSERT_FALSE(t["stationary"].empty());
  for (const auto& st : t["stationary"]) {
    const int64_t a = st[0], b = st[1];
    const auto n = std::count_if(r->keyframes.begin(), r->keyframes.end(), [&](const SelectedKeyframe& k) {
      return k.keyframe.index >= a && k.keyframe.index <= b;
    });
    EXPECT_LE(n, 2) << "stationary " << a << ".." << b << " (" << (b - a + 1) / 30 << " s)";
  }
}

TEST_F(DriveTest, KeyframesAreFullResolutionJpegs) {
  auto r = analyze((kData / "drive_s3.mp4").string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->keyframes.empty());
  for (const auto& k : r->keyframes) {
    const cv::Mat img = cv::imread(k.image.string());
    ASSERT_FALSE(img.empty()) << k.image;
    EXPECT_EQ(img.cols, 640);
    EXPECT_EQ(img.rows, 360);
  }
}

TEST_F(DriveTest, AnalysisWidthDoesNotChangeTheJpegSize) {
  auto source = media::parse_source((kData / "drive_short.mp4").string());
  ASSERT_TRUE(source.ok());
  DriveOptions o;
  o.keyframe_dir = dir_;
  o.analysis_width = 160;
  auto r = analyze_drive(*source, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->keyframes.empty());
  EXPECT_EQ(cv::imread(r->keyframes[0].image.string()).cols, 640);
}

TEST_F(DriveTest, RealFootageHandCheckedCuts) {
  const fs::path megamind = kOpencvData / "Megamind.avi";
  if (!fs::exists(megamind)) GTEST_SKIP() << megamind << " missing: install opencv-doc (scripts/setup.sh does)";
  // Checked by eye on a contact sheet of every frame: frame 0 is a black
  // leader, then shots start at frames 1, 98, 154 and 200. No dissolves.
  auto r = analyze(megamind.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto s = match({{1, 1}, {98, 98}, {154, 154}, {200, 200}}, transitions(*r), 1);
  EXPECT_GE(s.precision(), 0.95);
  EXPECT_GE(s.recall(), 0.95);
  for (const auto& k : r->keyframes) EXPECT_NE(k.keyframe.index, 0) << "the black leader was chosen";
}

TEST_F(DriveTest, RealFootageWithoutCutsYieldsNone) {
  // vtest.avi: one fixed camera, people walking, 79.5 s; tree.avi: one shot.
  for (const char* name : {"vtest.avi", "tree.avi"}) {
    const fs::path file = kOpencvData / name;
    if (!fs::exists(file)) GTEST_SKIP() << file << " missing: install opencv-doc (scripts/setup.sh does)";
    auto r = analyze(file.string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(transitions(*r).empty()) << name;
    EXPECT_GE(r->keyframes.size(), 1u);
  }
}

TEST_F(DriveTest, TriageDecodesOnlyTheStreamsIFrames) {
  auto full = analyze((kData / "drive_s1.mp4").string());
  auto triage = analyze((kData / "drive_s1.mp4").string(), true);
  ASSERT_TRUE(full.ok() && triage.ok()) << triage.status().message();
  EXPECT_EQ(triage->frames, 60) << "one I-frame a second for 60 s";
  EXPECT_GE(triage->keyframes.size(), 2u);
  for (const auto& k : triage->keyframes) EXPECT_EQ(k.keyframe.index % 30, 0) << "only I-frames can be chosen";
}

// A camera's recording is MPEG-TS segments, whose demuxer marks no frame a
// keyframe: triage must still find the I-frames (once it decoded them all).
TEST_F(DriveTest, TriageOfRecordedSegmentsDecodesOnlyTheirIFrames) {
  media::ensure_gst_init();
  const std::string pattern = (dir_ / "cam-%05d.ts").string();
  GError* raw_err = nullptr;
  media::ElementPtr element(gst_parse_launch(
      ("filesrc location=" + (kData / "drive_s1.mp4").string() +
       " ! qtdemux ! h264parse ! splitmuxsink muxer=mpegtsmux max-size-time=20000000000 location=" + pattern)
          .c_str(),
      &raw_err));
  media::ErrorPtr err(raw_err);
  ASSERT_TRUE(element && !err) << (err ? err->message : "?");
  gst_object_ref_sink(element.get());
  media::Pipeline split(std::move(element));
  gst_element_set_state(split.get(), GST_STATE_PLAYING);
  media::BusPtr bus = split.bus();
  ASSERT_TRUE(media::wait_for_eos(bus.get(), "split", 60, "no end of stream").ok());
  split.stop();
  auto source = media::parse_source("recording://cam");
  ASSERT_TRUE(source.ok());
  for (const auto& f : fs::directory_iterator(dir_))
    if (f.path().extension() == ".ts") source->parts.push_back(f.path().string());
  std::sort(source->parts.begin(), source->parts.end());
  ASSERT_GE(source->parts.size(), 3u);
  for (const auto& part : source->parts) {
    auto index = media::index_stream(part);
    ASSERT_TRUE(index.ok()) << index.status().message();
    source->part_frames.push_back(index->frames);
  }
  DriveOptions o;
  o.keyframe_dir = dir_;
  o.reader.keyframes_only = true;
  auto triage = analyze_drive(*source, o);
  ASSERT_TRUE(triage.ok()) << triage.status().message();
  EXPECT_EQ(triage->frames, 60) << "one I-frame a second for 60 s, across the segments";
  for (const auto& k : triage->keyframes) EXPECT_EQ(k.keyframe.index % 30, 0) << "only I-frames can be chosen";
  // Every frame decoded: numbered as in the file the segments were cut from
  // (splitmuxsrc's seams had shifted them by about 3 frames a segment). A
  // segment a power cut left without a frame (the catalog's count: 0) is
  // passed over.
  o.reader.keyframes_only = false;
  std::ofstream(dir_ / "cam-cut-off.ts").put('G');
  source->parts.insert(source->parts.begin() + 1, (dir_ / "cam-cut-off.ts").string());
  source->part_frames.insert(source->part_frames.begin() + 1, 0);
  auto full = analyze_drive(*source, o);
  auto file = analyze((kData / "drive_s1.mp4").string());
  ASSERT_TRUE(full.ok() && file.ok()) << full.status().message();
  EXPECT_EQ(full->frames, 1800);
  std::vector<int64_t> from_segments, from_file;
  for (const auto& k : full->keyframes) from_segments.push_back(k.keyframe.index);
  for (const auto& k : file->keyframes) from_file.push_back(k.keyframe.index);
  EXPECT_EQ(from_segments, from_file);
}

TEST_F(DriveTest, TruncatedFileIsAnErrorNamingIt) {
  const std::string file = (kData / "truncated.mp4").string();
  auto r = analyze(file);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().message();
}

TEST_F(DriveTest, RandomBytesAreAnErrorNamingTheFile) {
  const std::string file = (kData / "garbage.mp4").string();
  auto r = analyze(file);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().message();
}

TEST_F(DriveTest, MissingFileAndUnknownSchemeAreErrors) {
  EXPECT_EQ(media::parse_source("/no/such/drive.mp4").status().kind(), Status::Kind::kNotFound);
  EXPECT_EQ(media::parse_source("ftp://x/y.mp4").status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_FALSE(media::parse_source("test://ball?frames=x").ok());
}

TEST_F(DriveTest, StopFlagEndsTheDriveWithWhatWasAnalysed) {
  auto source = media::parse_source("test://smpte?frames=100000&width=320&height=240");
  ASSERT_TRUE(source.ok());
  std::atomic<bool> stop{false};
  DriveOptions o;
  o.keyframe_dir = dir_;
  o.stop = &stop;
  o.on_scores = [&](const vision::FrameScores& s) {
    if (s.index == 99) stop = true;
  };
  auto r = analyze_drive(*source, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->stopped);
  EXPECT_EQ(r->frames, 100);
  EXPECT_NEAR(r->media_s, 100 / 30.0, 0.01);
  EXPECT_GE(r->keyframes.size(), 1u) << "the open window is closed and its keyframe written";
}

TEST_F(DriveTest, UnwritableKeyframeDirIsAnErrorNamingIt) {
  auto source = media::parse_source((kData / "drive_short.mp4").string());
  ASSERT_TRUE(source.ok());
  DriveOptions o;
  o.keyframe_dir = dir_ / "no" / "such" / "dir";
  auto r = analyze_drive(*source, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(o.keyframe_dir.string()), std::string::npos) << r.status().message();
}

TEST_F(DriveTest, TestSourceGivesItsFrames) {
  auto r = analyze("test://ball?frames=45&width=320&height=240");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->frames, 45);
  EXPECT_EQ(r->stream.width, 320);
}

}  // namespace
}  // namespace dashloop::pipeline

namespace dashloop::pipeline {
namespace {

class TrackingDriveTest : public DriveTest {
 protected:
  Result<DriveResult> analyze_with(const std::string& arg, const TrackingOptions& tracking) {
    auto source = media::parse_source(arg);
    if (!source.ok()) return source.status();
    DriveOptions o;
    o.keyframe_dir = dir_;
    o.tracking = tracking;
    return analyze_drive(*source, o);
  }
};

TEST_F(TrackingDriveTest, MotionDetectorTracksThePedestriansOfAFixedCamera) {
  TrackingOptions t;
  t.detector.kind = "motion";
  t.detector.rate_hz = 5;  // vtest.avi is 10 fps: every 2nd frame
  t.camera_motion = false;
  std::vector<vision::TrackEvent> seen;
  std::mutex seen_mutex;
  t.on_event = [&](const vision::TrackEvent& e) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(e);
  };
  auto r = analyze_with((kOpencvData / "vtest.avi").string(), t);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->objects);
  const auto& o = *r->objects;
  EXPECT_EQ(o.detected_frames, (r->frames + 1) / 2);
  EXPECT_EQ(o.skipped_frames, 0) << "a file waits for the detector";
  EXPECT_GE(o.tracks.size(), 5u);
  EXPECT_EQ(seen.size(), o.events.size()) << "every event reached the callback";
  std::set<int> ids;
  for (const auto& track : o.tracks) {
    ids.insert(track.id);
    for (const auto& b : track.boxes) {
      EXPECT_EQ(b.frame % 2, 0) << "boxes only on detector frames";
      EXPECT_TRUE(cv::Rect2f(0, 0, 768.5f, 576.5f).contains(b.box.br())) << "source pixels, not detector pixels";
    }
    EXPECT_FALSE(track.boxes.back().predicted);
  }
  EXPECT_EQ(ids.size(), o.tracks.size());
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), static_cast<int>(o.tracks.size()));
}

TEST_F(TrackingDriveTest, TheDetectionRateIsPerSecondOfVideoWhateverTheFrameRate) {
  // 5 Hz on a 10 fps and on a 30 fps file: 5 detections a second of each,
  // every 2nd and every 6th frame, evenly spaced.
  for (const auto& [file, step] : {std::pair{kOpencvData / "vtest.avi", 2}, std::pair{kData / "drive_short.mp4", 6}}) {
    TrackingOptions t;
    t.detector.kind = "motion";
    t.detector.rate_hz = 5;
    t.camera_motion = false;
    auto r = analyze_with(file.string(), t);
    ASSERT_TRUE(r.ok()) << file << ": " << r.status().message();
    EXPECT_NEAR(static_cast<double>(r->objects->detected_frames), 5 * r->media_s, 1.0) << file;
    EXPECT_EQ(r->objects->detected_frames, (r->frames + step - 1) / step) << file;
    for (const auto& track : r->objects->tracks)
      for (const auto& b : track.boxes) EXPECT_EQ(b.frame % step, 0) << file << ": a box off the detector's frames";
  }
}

TEST_F(TrackingDriveTest, LiveSourceSkipsAndCountsFramesTheDetectorCannotTake) {
  // A detector far slower than the frames arrive: HOG on every full 1280-px
  // frame, read as fast as the file decodes. Marked live, the drive must not wait.
  TrackingOptions t;
  t.detector.kind = "hog-people";
  t.detector.rate_hz = 0;  // every frame
  t.detector.width = 1280;
  t.live = true;
  auto r = analyze_with((kData / "drive_short.mp4").string(), t);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& o = *r->objects;
  EXPECT_GT(o.skipped_frames, 0);
  EXPECT_EQ(o.detected_frames + o.skipped_frames, r->frames) << "every due frame is detected or counted";
}

// The pre-label pass keeps its detector steps as it goes; a stopped pass
// resumes from them. HOG keeps no state between frames, so the steps of a
// whole pass are what a resumed one would have detected.
TEST_F(TrackingDriveTest, AResumedOfflinePassDetectsOnlyTheFramesLeftAndEndsWithTheSameTracks) {
  using Made = std::vector<std::pair<vision::TrackStep, double>>;
  auto pass = [](TrackingOptions o, Made& made) -> Result<TrackingResult> {
    o.on_step = [&made](const vision::TrackStep& s, double to_source) { made.push_back({s, to_source}); };
    auto worker = TrackingWorker::start(o);
    if (!worker.ok()) return worker.status();
    media::Source source;
    source.original = source.location = (kOpencvData / "vtest.avi").string();
    auto reader = media::FrameReader::open(source, {});
    if (!reader.ok()) return reader.status();
    for (int i = 0; i < 80; ++i) {  // 8 s: 40 steps
      auto next = (*reader)->next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) break;
      (*worker)->offer(**next);
    }
    return (*worker)->finish();
  };
  TrackingOptions t;
  t.detector.kind = "hog-people";
  t.detector.width = 384;
  t.detector.rate_hz = 5;
  t.offline = vision::OfflineTrackerConfig{};
  t.camera_motion = true;
  Made whole_steps;
  auto whole = pass(t, whole_steps);
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  ASSERT_EQ(whole_steps.size(), 40u);
  ASSERT_FALSE(whole->tracks.empty());

  // Stopped after 17 steps: those are kept, the rest is detected.
  const size_t kept = 17;
  TrackingOptions resumed_options = t;
  for (size_t i = 0; i < kept; ++i) resumed_options.resume.push_back(whole_steps[i].first);
  resumed_options.resume_to_source = whole_steps[kept - 1].second;
  Made new_steps;
  auto resumed = pass(resumed_options, new_steps);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ(resumed->resumed_frames, int64_t(kept));
  EXPECT_EQ(resumed->detected_frames, whole->detected_frames);
  ASSERT_EQ(new_steps.size(), whole_steps.size() - kept) << "only the frames after the kept steps detected";
  for (size_t i = 0; i < new_steps.size(); ++i) {
    const auto& [a, b] = std::pair{whole_steps[kept + i].first, new_steps[i].first};
    EXPECT_EQ(a.frame, b.frame);
    ASSERT_EQ(a.motion.has_value(), b.motion.has_value()) << "frame " << a.frame;
    // The first new step's motion is from the kept last frame's image: primed, not identity.
    if (a.motion) {
      EXPECT_EQ(cv::norm(cv::Mat(*a.motion), cv::Mat(*b.motion), cv::NORM_INF), 0.0) << "frame " << a.frame;
    }
  }
  ASSERT_EQ(resumed->tracks.size(), whole->tracks.size());
  for (size_t i = 0; i < whole->tracks.size(); ++i) {
    const auto &a = whole->tracks[i], &b = resumed->tracks[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.class_id(), b.class_id());
    ASSERT_EQ(a.boxes.size(), b.boxes.size()) << "track " << a.id;
    for (size_t k = 0; k < a.boxes.size(); ++k) {
      EXPECT_EQ(a.boxes[k].frame, b.boxes[k].frame);
      EXPECT_EQ(a.boxes[k].box, b.boxes[k].box) << "track " << a.id << " frame " << a.boxes[k].frame;
      EXPECT_EQ(a.boxes[k].predicted, b.boxes[k].predicted);
    }
  }
}

TEST_F(TrackingDriveTest, NoDetectorNoObjects) {
  auto r = analyze_with((kData / "drive_short.mp4").string(), TrackingOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->objects);
}

}  // namespace
}  // namespace dashloop::pipeline
