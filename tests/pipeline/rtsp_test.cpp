// Ingest from a simulated IP camera: gst-rtsp-server on loopback serves a
// generated drive, the FrameReader pulls it over RTSP like any camera.
#include <gst/rtsp-server/rtsp-server.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <ostream>
#include <thread>

#include "drive.hpp"
#include "media/gst.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"

namespace fs = std::filesystem;

namespace dashloop::pipeline {
namespace {

const fs::path kDrive = fs::path(DASHLOOP_TESTDATA) / "drive_short.mp4";

// A new, empty directory for one test's recordings, removed with it (also
// when an assertion returns early).
struct ScratchDir {
  explicit ScratchDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("dashloop-rtsp-" + tag + "-" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path path;
};

// The demuxer, parser and RTP payloader that send a drive file's video as
// a camera would: by its container and codec.
std::string camera_launch(const fs::path& drive, const std::string& codec) {
  const std::string ext = drive.extension().string();
  const std::string demux = ext == ".mkv" ? "matroskademux" : ext == ".avi" ? "avidemux" : "qtdemux";
  const std::string send = codec == "mjpeg" ? "jpegparse ! valve name=gate ! rtpjpegpay"
                                            : "h" + codec + "parse ! valve name=gate ! rtph" + codec + "pay";
  return "( filesrc location=" + drive.string() + " ! " + demux + " ! " + send + " name=pay0 pt=96 )";
}

// An RTSP server on 127.0.0.1 with its own main loop thread.
class Camera {
 public:
  // codec: "264", "265" or "mjpeg", as the drive file holds it.
  explicit Camera(bool tcp_only, const fs::path& drive = kDrive, const std::string& codec = "264") {
    media::ensure_gst_init();
    context_.reset(g_main_context_new());
    loop_.reset(g_main_loop_new(context_.get(), FALSE));
    server_.reset(gst_rtsp_server_new());
    gst_rtsp_server_set_address(server_.get(), "127.0.0.1");
    gst_rtsp_server_set_service(server_.get(), "0");  // any free port
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, camera_launch(drive, codec).c_str());
    g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure), this);
    if (tcp_only) gst_rtsp_media_factory_set_protocols(factory, GST_RTSP_LOWER_TRANS_TCP);
    Handle<GstRTSPMountPoints, g_object_unref> mounts(gst_rtsp_server_get_mount_points(server_.get()));
    gst_rtsp_mount_points_add_factory(mounts.get(), "/drive", factory);  // takes the factory
    source_id_ = gst_rtsp_server_attach(server_.get(), context_.get());
    port_ = gst_rtsp_server_get_bound_port(server_.get());
    thread_ = std::thread([this] { g_main_loop_run(loop_.get()); });
  }
  ~Camera() {
    g_main_loop_quit(loop_.get());
    thread_.join();
    if (GSource* src = g_main_context_find_source_by_id(context_.get(), source_id_)) g_source_destroy(src);
  }
  Camera(const Camera&) = delete;
  Camera& operator=(const Camera&) = delete;
  std::string uri() const { return "rtsp://127.0.0.1:" + std::to_string(port_) + "/drive"; }
  // The camera freezes: it stops sending (or, before a client, never starts),
  // its connection stays open, no error comes.
  void freeze() {
    std::lock_guard lock(mutex_);
    frozen_ = true;
    if (gate_) g_object_set(gate_.get(), "drop", TRUE, nullptr);
  }

 private:
  static void on_media_configure(GstRTSPMediaFactory* /*factory*/, GstRTSPMedia* media, gpointer self) {
    Handle<GstElement, gst_object_unref> bin(gst_rtsp_media_get_element(media));
    auto* camera = static_cast<Camera*>(self);
    std::lock_guard lock(camera->mutex_);
    camera->gate_.reset(gst_bin_get_by_name(GST_BIN(bin.get()), "gate"));
    if (camera->frozen_) g_object_set(camera->gate_.get(), "drop", TRUE, nullptr);
  }

  std::mutex mutex_;
  bool frozen_ = false;
  Handle<GstElement, gst_object_unref> gate_;  // the last media's valve
  Handle<GMainContext, g_main_context_unref> context_;  // declared first: released last
  Handle<GMainLoop, g_main_loop_unref> loop_;
  Handle<GstRTSPServer, g_object_unref> server_;
  guint source_id_ = 0;
  int port_ = 0;
  std::thread thread_;
};

class RtspTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!fs::exists(kDrive)) GTEST_SKIP() << kDrive << " missing: run the testdata.generate test first";
    dir_ = fs::temp_directory_path() / ("dashloop-rtsp-" + std::to_string(getpid()) + (GetParam() ? "-tcp" : "-udp"));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(RtspTest, IngestsALiveCameraStream) {
  Camera camera(/*tcp_only=*/GetParam());
  auto source = media::parse_source(camera.uri());
  ASSERT_TRUE(source.ok()) << source.status().message();
  DriveOptions o;
  o.keyframe_dir = dir_;
  auto r = analyze_drive(*source, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // 10 s at 30 fps; a live source may drop a few frames under load, and counts them
  EXPECT_GE(r->frames + r->dropped, 290);
  EXPECT_GE(r->frames, 240);
  EXPECT_EQ(r->stream.width, 640);
  bool cut_seen = false;
  for (const auto& k : r->keyframes)
    if (k.keyframe.reason == vision::Reason::kCut && std::abs(k.keyframe.trigger_t_s - 6.0) < 0.2) cut_seen = true;
  EXPECT_TRUE(cut_seen) << "the cut at 6 s of the served drive";
}

// Live and file analysis of the same frames choose the same keyframes: the
// selector works on the frames' own timestamps, never on arrival times.
TEST(RtspKeyframes, LiveAndFileChooseTheSameKeyframes) {
  if (!fs::exists(kDrive)) GTEST_SKIP() << kDrive << " missing: run the testdata.generate test first";
  const fs::path dir = fs::temp_directory_path() / ("dashloop-rtsp-same-" + std::to_string(getpid()));
  fs::create_directories(dir / "file");
  fs::create_directories(dir / "live");
  DriveOptions o;
  o.keyframe_dir = dir / "file";
  auto file = analyze_drive(*media::parse_source(kDrive.string()), o);
  Camera camera(/*tcp_only=*/true);  // TCP: the network loses nothing
  o.keyframe_dir = dir / "live";
  auto live = analyze_drive(*media::parse_source(camera.uri()), o);
  fs::remove_all(dir);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE(live.ok()) << live.status().message();
  if (live->dropped > 0 || live->frames != file->frames)
    GTEST_SKIP() << "the live reader dropped " << live->dropped << " frames under this machine's load ("
                 << live->frames << " of " << file->frames << " analysed): the comparison needs every frame";
  ASSERT_EQ(live->keyframes.size(), file->keyframes.size());
  for (size_t i = 0; i < file->keyframes.size(); ++i) {
    EXPECT_EQ(live->keyframes[i].keyframe.index, file->keyframes[i].keyframe.index) << "keyframe " << i;
    EXPECT_EQ(live->keyframes[i].keyframe.reason, file->keyframes[i].keyframe.reason) << "keyframe " << i;
  }
}

// A detector far slower than the camera (two cascades on every frame, about
// 9 frames/s here against 30) must not hold the camera back: the frames are
// all analysed, and the ones the detector could not take are counted.
TEST(RtspTracking, ASlowDetectorNeverStallsALiveCamera) {
  if (!fs::exists(kDrive)) GTEST_SKIP() << kDrive << " missing: run the testdata.generate test first";
  const fs::path dir = fs::temp_directory_path() / ("dashloop-rtsp-detect-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Camera camera(/*tcp_only=*/false);
  auto source = media::parse_source(camera.uri());
  ASSERT_TRUE(source.ok());
  DriveOptions o;
  o.keyframe_dir = dir;
  o.tracking.detector.kind = "cascade";
  o.tracking.detector.rate_hz = 0;  // every frame
  auto r = analyze_drive(*source, o);
  fs::remove_all(dir);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GE(r->frames + r->dropped, 290);
  EXPECT_GE(r->frames, 240) << "the frame loop kept up with the camera";
  ASSERT_TRUE(r->objects);
  std::printf("%lld frames, %lld dropped by the reader, %lld detected, %lld skipped by the detector\n",
              static_cast<long long>(r->frames), static_cast<long long>(r->dropped),
              static_cast<long long>(r->objects->detected_frames), static_cast<long long>(r->objects->skipped_frames));
  EXPECT_GT(r->objects->skipped_frames, 0);
  EXPECT_EQ(r->objects->detected_frames + r->objects->skipped_frames, r->frames);
}

INSTANTIATE_TEST_SUITE_P(Transport, RtspTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "TcpFallback" : "Udp"; });

// A camera that freezes posts no error: the recorder says it stalled once no
// frame came for stall_s, and stop() returns at once (the daemon rebuilds it).
TEST(RtspRecord, AFrozenCameraIsReportedStalledAndStopsAtOnce) {
  if (!fs::exists(kDrive)) GTEST_SKIP() << kDrive << " missing: run the testdata.generate test first";
  const ScratchDir scratch("stall");
  const fs::path& dir = scratch.path;
  Camera camera(/*tcp_only=*/true);
  auto source = media::parse_source(camera.uri());
  ASSERT_TRUE(source.ok());
  media::RecorderOptions options;
  options.dir = dir;
  options.segment_s = 2.0;
  options.stall_s = 1.5;
  auto recorder = media::Recorder::start(*source, options, {});
  ASSERT_TRUE(recorder.ok()) << recorder.status().message();
  Status error;
  for (int i = 0; i < 10 && error.ok(); ++i) error = (*recorder)->poll(0.2);  // 2 s of frames: not stalled
  ASSERT_TRUE(error.ok()) << error.message();
  camera.freeze();
  const auto frozen = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && error.ok(); ++i) error = (*recorder)->poll(0.2);
  const double seen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen).count();
  EXPECT_EQ(error.kind(), Status::Kind::kUnavailable) << error.message();
  EXPECT_NE(error.message().find("stalled: no frame for"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find(camera.uri()), std::string::npos) << "names the camera: " << error.message();
  EXPECT_GE(seen_s, 1.0);
  EXPECT_LE(seen_s, 8.0) << "stall_s is 1.5 s";
  const auto stopping = std::chrono::steady_clock::now();
  (void)(*recorder)->stop();
  EXPECT_LE(std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count(), 5.0);
}

// A camera that has sent nothing yet (booting, slow to answer) gets longer
// than stall_s for its first frame: it is not rebuilt over and over.
TEST(RtspRecord, AStallBeforeTheFirstFrameIsGivenLonger) {
  if (!fs::exists(kDrive)) GTEST_SKIP() << kDrive << " missing: run the testdata.generate test first";
  const ScratchDir scratch("first");
  const fs::path& dir = scratch.path;
  Camera camera(/*tcp_only=*/true);
  camera.freeze();  // before any client: the stream never starts
  auto source = media::parse_source(camera.uri());
  ASSERT_TRUE(source.ok());
  media::RecorderOptions options;
  options.dir = dir;
  options.stall_s = 1.0;
  auto recorder = media::Recorder::start(*source, options, {});
  ASSERT_TRUE(recorder.ok()) << recorder.status().message();
  Status error;
  for (int i = 0; i < 20 && error.ok(); ++i) error = (*recorder)->poll(0.2);  // 4 s: four times stall_s
  EXPECT_TRUE(error.ok()) << error.message();
  // Nothing recorded yet: stop() has no segment to close and no EOS to wait
  // for, so a station stopping now keeps its 3-s deadline.
  const auto stopping = std::chrono::steady_clock::now();
  EXPECT_TRUE((*recorder)->stop().ok());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count(), 3.0);
}

// A box with no RTC boots in 1970: the stamps count on from the newest time
// known true instead, and are the system clock's again once it passes them.
TEST(WallClock, CountsOnFromNotBeforeWhileTheSystemClockIsBehindIt) {
  using namespace std::chrono;
  const auto ahead = system_clock::now() + hours(24 * 365);  // the system clock is a year behind
  const media::WallClock behind(ahead);
  EXPECT_TRUE(behind.behind());
  const auto first = behind.now();
  std::this_thread::sleep_for(milliseconds(200));
  const auto second = behind.now();
  EXPECT_GE(first, ahead);
  EXPECT_GE(duration<double>(second - first).count(), 0.19) << "counts on at the steady clock's rate";
  EXPECT_LT(duration<double>(second - ahead).count(), 5.0) << "from not_before, not from the system clock";

  const media::WallClock set(system_clock::now() - hours(1));
  EXPECT_FALSE(set.behind());
  EXPECT_LT(std::abs(duration<double>(set.now() - system_clock::now()).count()), 1.0) << "the system clock itself";
  EXPECT_FALSE(media::WallClock().behind()) << "no floor: the system clock";
}

}  // namespace
}  // namespace dashloop::pipeline

namespace dashloop::pipeline {
namespace {

// Records `seconds` of a camera in 2-s segments: the segments closed, or
// the recorder's error.
Result<std::vector<fs::path>> record_camera(const Camera& camera, const fs::path& dir, int seconds) {
  auto source = media::parse_source(camera.uri());
  if (!source.ok()) return source.status();
  media::RecorderOptions options;
  options.dir = dir;
  options.segment_s = 2.0;
  std::vector<fs::path> closed;
  media::RecorderCallbacks callbacks;
  callbacks.closed = [&](const media::SegmentEvent& e) { closed.push_back(e.path); };
  auto recorder = media::Recorder::start(*source, options, callbacks);
  if (!recorder.ok()) return recorder.status();
  Status error;
  for (int i = 0; i < seconds * 5 && error.ok(); ++i) error = (*recorder)->poll(0.2);
  Status stopped = (*recorder)->stop();
  if (!error.ok()) return error;
  if (!stopped.ok()) return stopped;
  return closed;
}

// Every segment indexed alone (each starts on its own keyframe): their frames, in all.
int64_t frames_in(const std::vector<fs::path>& segments, const std::string& codec) {
  int64_t frames = 0;
  for (const auto& segment : segments) {
    auto index = media::index_stream(segment);
    EXPECT_TRUE(index.ok()) << segment << ": " << index.status().message();
    if (!index.ok()) continue;
    EXPECT_EQ(index->codec, codec) << segment;
    EXPECT_FALSE(index->keyframes.empty()) << segment << " has no keyframe";
    frames += index->frames;
  }
  return frames;
}

// A camera is recorded in the codec its SDP names, as it sends it, in
// segments that each decode alone. High B-frames: RTP carries no DTS, and
// mpegtsmux refused the stream ("Timestamping error on input streams")
// until the recorder restored the DTS (h264timestamper). H.265: recorded
// since its depayloader follows the SDP.
struct SentCamera {
  const char* name;
  const char* drive;  // in the test data
  const char* codec;  // as Camera takes it
  const char* caps;   // what the segments hold
};
// How ctest names each case (GetParam() = ...), instead of the struct's bytes.
void PrintTo(const SentCamera& camera, std::ostream* os) { *os << camera.drive; }
class RtspRecordSent : public ::testing::TestWithParam<SentCamera> {};

TEST_P(RtspRecordSent, RecordsTheCameraAsItSends) {
  const fs::path drive = fs::path(DASHLOOP_TESTDATA) / GetParam().drive;
  if (!fs::exists(drive)) GTEST_SKIP() << drive << " missing: run the testdata.generate test first";
  const ScratchDir scratch(GetParam().name);
  Camera camera(/*tcp_only=*/true, drive, GetParam().codec);
  auto closed = record_camera(camera, scratch.path, 5);
  ASSERT_TRUE(closed.ok()) << closed.status().message();
  ASSERT_GE(closed->size(), 2u);
  EXPECT_GE(frames_in(*closed, GetParam().caps), 100) << "about 5 s at 30 fps";
}

INSTANTIATE_TEST_SUITE_P(Cameras, RtspRecordSent,
                         ::testing::Values(SentCamera{"HighBFrames", "camera_high_bframes.mp4", "264", "video/x-h264"},
                                           SentCamera{"H265", "drive_s3h265.mkv", "265", "video/x-h265"}),
                         [](const auto& info) { return std::string(info.param.name); });

// A camera whose codec cannot be recorded as sent ends the recording at
// once with an error that names the codec and the camera: never a hang.
TEST(RtspRecord, ACodecThatCannotBeRecordedEndsItWithTheReason) {
  const fs::path drive = fs::path(DASHLOOP_TESTDATA) / "drive_s3mjpeg.avi";
  if (!fs::exists(drive)) GTEST_SKIP() << drive << " missing: run the testdata.generate test first";
  const ScratchDir scratch("mjpeg");
  Camera camera(/*tcp_only=*/true, drive, "mjpeg");
  const auto start = std::chrono::steady_clock::now();
  auto closed = record_camera(camera, scratch.path, 15);
  ASSERT_FALSE(closed.ok()) << "recorded " << closed->size() << " segments of an MJPEG camera";
  EXPECT_NE(closed.status().message().find("JPEG"), std::string::npos) << closed.status().message();
  EXPECT_NE(closed.status().message().find(camera.uri()), std::string::npos) << closed.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(14)) << "it waited out the whole run";
}

}  // namespace
}  // namespace dashloop::pipeline
