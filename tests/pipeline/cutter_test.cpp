// Recorder and cutter on real pipelines: segments recorded from a live
// source, cut across a segment boundary without re-encoding, and clips whose
// every frame is checked against the source frame it came from.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "media/cutter.hpp"
#include "media/frame_reader.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"

namespace dashloop::pipeline::media {
namespace {
namespace fs = std::filesystem;

fs::path testdata(const char* name) { return fs::path(DASHLOOP_TESTDATA) / name; }

// The frame number make-drive --stamp drew into the top row (16 bits).
int read_stamp(const cv::Mat& y) {
  int v = 0;
  for (int b = 0; b < 16; ++b)
    if (y.at<uint8_t>(8, b * 16 + 8) > 128) v |= 1 << b;
  return v;
}

// Decodes a file and returns each frame's stamp.
std::vector<int> stamps(const fs::path& file) {
  auto source = parse_source(file.string());
  EXPECT_TRUE(source.ok());
  auto reader = FrameReader::open(*source, {});
  EXPECT_TRUE(reader.ok()) << reader.status().message();
  std::vector<int> out;
  for (;;) {
    auto f = (*reader)->next();
    EXPECT_TRUE(f.ok()) << f.status().message();
    if (!f.ok() || !*f) break;
    out.push_back(read_stamp((*f)->y));
  }
  return out;
}

class CutterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-cutter-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CutterTest, EveryFrameOfAStampedClipIsTheSourceFrameItClaims) {
  for (const char* name : {"drive_stamped.mp4", "drive_stamped_bframes.mp4", "drive_stamped_h265.mkv"}) {
    SCOPED_TRACE(name);
    auto index = index_stream(testdata(name));
    ASSERT_TRUE(index.ok()) << index.status().message();
    ASSERT_GE(index->keyframes.size(), 10u);
    const auto& from = index->keyframes[3];
    const auto& to = index->keyframes[9];
    CutRequest req{{testdata(name)}, from.pts, to.pts};
    auto cut = cut_clip(req, dir_ / "clip.mp4");
    ASSERT_TRUE(cut.ok()) << cut.status().message();
    EXPECT_EQ(int64_t(cut->frames.size()), to.frame - from.frame);
    // the clip's own first packet is a keyframe
    auto reader = PacketReader::open(dir_ / "clip.mp4");
    ASSERT_TRUE(reader.ok());
    auto first = (*reader)->next();
    ASSERT_TRUE(first.ok() && *first);
    EXPECT_TRUE((*first)->keyframe);
    // decoded, frame j shows source frame from + j; the cut's list says the same
    const auto got = stamps(dir_ / "clip.mp4");
    ASSERT_EQ(got.size(), cut->frames.size());
    for (size_t j = 0; j < got.size(); ++j) {
      ASSERT_EQ(got[j], from.frame + int64_t(j)) << "clip frame " << j;
      ASSERT_EQ(frame_at(cut->frames[j].pts, *index), from.frame + int64_t(j));
    }
    fs::remove(dir_ / "clip.mp4");
  }
}

TEST_F(CutterTest, RecordedSegmentsCutAcrossTheirBoundary) {
  auto source = parse_source("test://smpte?width=320&height=240&fps=30");
  ASSERT_TRUE(source.ok());
  RecorderOptions options;
  options.dir = dir_;
  options.prefix = "cam";
  options.segment_s = 2.0;
  std::vector<fs::path> closed;
  RecorderCallbacks callbacks;
  callbacks.closed = [&](const SegmentEvent& e) { closed.push_back(e.path); };
  auto recorder = Recorder::start(*source, options, callbacks);
  ASSERT_TRUE(recorder.ok()) << recorder.status().message();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (closed.size() < 2 && std::chrono::steady_clock::now() < until) ASSERT_TRUE((*recorder)->poll(0.2).ok());
  ASSERT_TRUE((*recorder)->stop().ok());
  ASSERT_GE(closed.size(), 3u) << "two full segments and the one open at stop";

  {
    std::ifstream in(closed[0], std::ios::binary);
    ASSERT_EQ(in.get(), 0x47) << "an MPEG-TS segment (sync byte), not an MP4 whose index comes last";
  }
  auto a = index_stream(closed[0]);
  auto b = index_stream(closed[1]);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->codec, "video/x-h264");
  EXPECT_EQ(a->frames, 60) << "2 s at 30 fps";
  EXPECT_EQ(a->keyframes.front().frame, 0) << "a segment starts on a keyframe";
  ASSERT_GE(a->keyframes.size(), 2u);
  ASSERT_GE(b->keyframes.size(), 2u);
  // from the second keyframe of the first segment to the second of the next
  const auto& from = a->keyframes[1];
  const auto& to = b->keyframes[1];
  auto cut = cut_clip({{closed[0], closed[1]}, from.pts, to.pts}, dir_ / "across.mp4");
  ASSERT_TRUE(cut.ok()) << cut.status().message();
  const int64_t planned = (a->frames - from.frame) + to.frame;
  EXPECT_EQ(int64_t(cut->frames.size()), planned);
  EXPECT_EQ(cut->frames.front().segment, 0);
  EXPECT_EQ(cut->frames.back().segment, 1);
  auto out = index_stream(dir_ / "across.mp4");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->frames, planned);
  EXPECT_EQ(out->keyframes.front().frame, 0);
  // continuous timestamps: the clip lasts as many frames as it holds
  EXPECT_NEAR(double(out->duration_ns) / 1e9, double(planned) / 30.0, 1.0 / 30.0);
  const auto decoded = FrameReader::open(*parse_source((dir_ / "across.mp4").string()), {});
  ASSERT_TRUE(decoded.ok());
  int64_t n = 0;
  for (;;) {
    auto f = (*decoded)->next();
    ASSERT_TRUE(f.ok()) << f.status().message();
    if (!*f) break;
    ++n;
  }
  EXPECT_EQ(n, planned) << "every frame decodes";
}

TEST_F(CutterTest, BadSegmentsAreNamedAndNothingIsLeftBehind) {
  auto index = index_stream(testdata("drive_s3.mp4"));
  ASSERT_TRUE(index.ok());
  const fs::path out = dir_ / "clip.mp4";
  auto missing = cut_clip({{dir_ / "gone.ts"}, 0, std::nullopt}, out);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), Status::Kind::kNotFound);
  EXPECT_NE(missing.status().message().find("gone.ts"), std::string::npos);

  auto garbage = cut_clip({{testdata("garbage.mp4")}, 0, std::nullopt}, out);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("garbage.mp4"), std::string::npos) << garbage.status().message();

  auto no_key = cut_clip({{testdata("drive_s3.mp4")}, index->keyframes[2].pts + 5000000, std::nullopt}, out);
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find("no keyframe"), std::string::npos) << no_key.status().message();
  EXPECT_FALSE(fs::exists(out)) << "a failed cut leaves no file";

  auto mjpeg = cut_clip({{testdata("drive_s3mjpeg.avi")}, 0, std::nullopt}, out);
  ASSERT_FALSE(mjpeg.ok());
  EXPECT_EQ(mjpeg.status().kind(), Status::Kind::kUnsupported) << "what tells the caller to re-encode instead";
  EXPECT_NE(mjpeg.status().message().find("H.264 or H.265"), std::string::npos) << mjpeg.status().message();
}

// MJPEG (every frame a keyframe) cannot go into MP4 as it is: the span is
// decoded and encoded to H.264, each frame keeping its source timestamp.
TEST_F(CutterTest, AVideoMp4CannotCarryIsReEncodedFrameForFrame) {
  auto index = index_stream(testdata("drive_s3mjpeg.avi"));
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_FALSE(index->remuxable);
  EXPECT_EQ(index->codec, "image/jpeg");
  EXPECT_EQ(index->frames, 600);
  ASSERT_EQ(index->keyframes.size(), 600u) << "every JPEG is a keyframe";
  const fs::path out = dir_ / "clip.mp4";
  auto clip = reencode_clip({{testdata("drive_s3mjpeg.avi")}, index->keyframes[90].pts, index->keyframes[240].pts}, out);
  ASSERT_TRUE(clip.ok()) << clip.status().message();
  EXPECT_EQ(clip->codec, "video/x-h264");
  ASSERT_EQ(clip->frames.size(), 150u);
  EXPECT_EQ(clip->frames.front().pts, index->keyframes[90].pts);
  EXPECT_EQ(clip->frames.back().pts, index->keyframes[239].pts);
  auto written = index_stream(out);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(written->remuxable);
  EXPECT_EQ(written->frames, 150);
  std::vector<int64_t> keys;
  for (const auto& k : written->keyframes) keys.push_back(k.frame);
  EXPECT_EQ(keys, (std::vector<int64_t>{0, 30, 60, 90, 120})) << "a keyframe a second, as recordings have";

  auto none = reencode_clip({{testdata("drive_s3mjpeg.avi")}, index->keyframes[90].pts, index->keyframes[240].pts},
                            dir_ / "none.mp4", [](const std::string&) { return false; });
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("x264enc"), std::string::npos) << none.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "none.mp4")) << "a failed re-encode leaves no file";
}

// Encodes joined end to end (a new SPS/PPS at 6 s; in the second file a new
// size too): a clip across the join failed with mp4mux's "Could not
// multiplex stream" and the drive lost every package. The remux says it
// cannot, and the re-encode makes the clip, every frame in order.
TEST_F(CutterTest, AClipAcrossAStreamChangeIsReEncodedNeverLost) {
  for (const char* name : {"joined_sps.ts", "joined_size.ts", "joined_bframes.ts"}) {
    SCOPED_TRACE(name);
    auto index = index_stream(testdata(name));
    ASSERT_TRUE(index.ok()) << index.status().message();
    ASSERT_GE(index->keyframes.size(), 12u);
    // From 4 s to 9 s: across the join at 6 s.
    const auto& from = index->keyframes[4];
    const auto& to = index->keyframes[9];
    const fs::path out = dir_ / "clip.mp4";
    auto remux = cut_clip({{testdata(name)}, from.pts, to.pts}, out);
    ASSERT_FALSE(remux.ok());
    EXPECT_EQ(remux.status().kind(), Status::Kind::kUnsupported) << remux.status().message();
    EXPECT_FALSE(fs::exists(out));
    auto clip = reencode_clip({{testdata(name)}, from.pts, to.pts}, out);
    ASSERT_TRUE(clip.ok()) << clip.status().message();
    // Where the two encodes overlap in time (3 frames), the span between
    // two keyframes is ambiguous by those frames; elsewhere it is exact.
    const int64_t slack = std::string(name) == "joined_bframes.ts" ? 3 : 0;
    EXPECT_NEAR(double(clip->frames.size()), double(to.frame - from.frame), double(slack));
    EXPECT_EQ(clip->width, 640);
    EXPECT_EQ(clip->height, 360);
    auto written = index_stream(out);
    ASSERT_TRUE(written.ok()) << written.status().message();
    EXPECT_EQ(written->frames, int64_t(clip->frames.size())) << "every frame of the clip in its file";
  }
}

TEST_F(CutterTest, TruncatedFileIndexesWhatItHolds) {
  auto full = index_stream(testdata("drive_s3.mp4"));
  auto cut_off = index_stream(testdata("drive_s3ts.ts"));
  ASSERT_TRUE(full.ok() && cut_off.ok());
  EXPECT_EQ(full->frames, cut_off->frames) << "MP4 and TS of the same drive";
  EXPECT_EQ(full->keyframes.size(), cut_off->keyframes.size());
  // a TS file cut at an arbitrary byte still indexes up to there
  const fs::path half = dir_ / "half.ts";
  {
    std::ifstream in(testdata("drive_s3ts.ts"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(half, std::ios::binary) << bytes.substr(0, bytes.size() / 2 + 77);
  }
  auto partial = index_stream(half);
  ASSERT_TRUE(partial.ok()) << partial.status().message();
  EXPECT_GT(partial->frames, full->frames / 3);
  EXPECT_LT(partial->frames, full->frames);
}

}  // namespace
}  // namespace dashloop::pipeline::media
