// Which elements record a camera: the Jetson's where they are installed
// (element availability injected, so the choice is checked without the
// hardware), software ones elsewhere; a V4L2 camera by the formats it
// offers; every software chain run for real on a test source standing in
// for the device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include <filesystem>
#include <opencv2/core.hpp>
#include <set>
#include <string>

#include "media/encoder.hpp"
#include "media/frame_reader.hpp"
#include "media/gst.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"
#include "media/source.hpp"

namespace dashloop::pipeline {
namespace {

media::ElementSet only(std::set<std::string> names) {
  return [names = std::move(names)](const std::string& factory) { return names.contains(factory); };
}
const media::ElementSet kJetson = only({"nvv4l2h264enc", "nvvidconv", "nvv4l2decoder", "nvarguscamerasrc", "x264enc"});
const media::ElementSet kDepotPc = only({"x264enc"});

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Encoded {
  int buffers = 0;
  std::string caps;  // the parser's output
};

// Runs `description` with the device's source replaced by `stand_in` to
// EOS: what reached the parser, or the pipeline's error.
Result<Encoded> run_with(std::string description, const std::string& device_source, const std::string& stand_in) {
  media::ensure_gst_init();
  description.replace(description.find(device_source), device_source.size(), stand_in);
  GError* raw_err = nullptr;
  media::ElementPtr element(gst_parse_launch((description + " ! fakesink").c_str(), &raw_err));
  media::ErrorPtr err(raw_err);
  if (!element || err) return Status::Unsupported(description + ": " + (err ? err->message : "?"));
  gst_object_ref_sink(element.get());
  media::Pipeline pipeline(std::move(element));
  Encoded encoded;
  media::PadPtr out(gst_element_get_static_pad(pipeline.child("parse").get(), "src"));
  gst_pad_add_probe(
      out.get(), GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo*, gpointer n) {
        ++*static_cast<int*>(n);
        return GST_PAD_PROBE_OK;
      },
      &encoded.buffers, nullptr);
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  media::BusPtr bus = pipeline.bus();
  if (Status st = media::wait_for_eos(bus.get(), description, 30, "no end of stream in 30 s"); !st.ok()) return st;
  media::CapsPtr caps(gst_pad_get_current_caps(out.get()));
  media::GCharPtr text(caps ? gst_caps_to_string(caps.get()) : nullptr);
  encoded.caps = text ? text.get() : "";
  pipeline.stop();
  return encoded;
}

TEST(RecorderElements, ARawCameraIsEncodedOnceByTheJetsonEncoderWherePresent) {
  auto source = media::parse_source("test://ball?width=640&height=360&fps=25");
  ASSERT_TRUE(source.ok());
  auto jetson = media::recorder_description(*source, kJetson);
  ASSERT_TRUE(jetson.ok()) << jetson.status().message();
  EXPECT_TRUE(has(*jetson, "nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! nvv4l2h264enc iframeinterval=25"))
      << *jetson;
  EXPECT_FALSE(has(*jetson, "x264enc")) << *jetson;
  auto pc = media::recorder_description(*source, kDepotPc);
  ASSERT_TRUE(pc.ok());
  EXPECT_TRUE(has(*pc, "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25")) << *pc << ": a 1 s GOP";
  EXPECT_FALSE(has(*pc, "nvv4l2") || has(*pc, "nvvidconv")) << *pc;
  auto open = media::recorder_description(*source, only({"openh264enc"}));
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(has(*open, "openh264enc gop-size=25")) << *open;
  auto none = media::recorder_description(*source, only({}));
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(has(none.status().message(), "x264enc")) << "names what to install: " << none.status().message();
}

TEST(RecorderElements, AV4l2CameraIsRecordedByWhatItOffers) {
  const std::string h264 = "video/x-h264, stream-format=(string)byte-stream, width=(int)1920, height=(int)1080";
  const std::string mjpeg = "image/jpeg, width=(int)1280, height=(int)720, framerate=(fraction)30/1";
  const std::string raw = "video/x-raw, format=(string)YUY2, width=(int)640, height=(int)480, framerate=(fraction)30/1";
  auto sent = media::v4l2_description(h264 + "; " + mjpeg + "; " + raw, kDepotPc);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, "v4l2src name=src ! video/x-h264 ! h264parse config-interval=-1 name=parse")
      << "a camera that encodes is recorded as it sends, never decoded";

  auto jpeg = media::v4l2_description(mjpeg + "; " + raw, kDepotPc);
  ASSERT_TRUE(jpeg.ok());
  EXPECT_TRUE(has(*jpeg, "image/jpeg ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! x264enc"))
      << *jpeg << ": MJPEG before raw";
  auto jpeg_jetson = media::v4l2_description(mjpeg, kJetson);
  ASSERT_TRUE(jpeg_jetson.ok());
  EXPECT_TRUE(has(*jpeg_jetson, "nvv4l2decoder mjpeg=true") && has(*jpeg_jetson, "nvv4l2h264enc")) << *jpeg_jetson;

  auto yuyv = media::v4l2_description(raw, kDepotPc);
  ASSERT_TRUE(yuyv.ok());
  EXPECT_TRUE(has(*yuyv, "video/x-raw ! videoconvert ! video/x-raw,format=I420 ! x264enc")) << *yuyv;

  auto other = media::v4l2_description("video/x-bayer, format=(string)rggb", kDepotPc);
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(has(other.status().message(), "video/x-bayer")) << other.status().message();

  // The software chains really run: a test source in the device's formats.
  auto from_jpeg = run_with(*jpeg, "v4l2src name=src ! image/jpeg",
                            "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240,framerate=30/1 ! jpegenc");
  ASSERT_TRUE(from_jpeg.ok()) << from_jpeg.status().message();
  EXPECT_EQ(from_jpeg->buffers, 30) << "every MJPEG frame encoded once";
  // What any decoder plays, a browser's included: 4:2:0 at 8 bits (x264enc
  // left to choose takes High 4:4:4 at 10 bits).
  EXPECT_TRUE(has(from_jpeg->caps, "chroma-format=(string)4:2:0") && has(from_jpeg->caps, "bit-depth-luma=(uint)8"))
      << from_jpeg->caps;
  auto from_raw = run_with(*yuyv, "v4l2src name=src ! video/x-raw",
                           "videotestsrc num-buffers=30 ! video/x-raw,format=YUY2,width=320,height=240,framerate=30/1");
  ASSERT_TRUE(from_raw.ok()) << from_raw.status().message();
  EXPECT_EQ(from_raw->buffers, 30);
  EXPECT_TRUE(has(from_raw->caps, "chroma-format=(string)4:2:0") && has(from_raw->caps, "bit-depth-luma=(uint)8"))
      << from_raw->caps;
}

TEST(RecorderElements, ACsiSensorNeedsTheJetsonsCameraStack) {
  auto source = media::parse_source("csi://1?width=1280&height=720&fps=60");
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_TRUE(source->is_live());
  auto jetson = media::recorder_description(*source, kJetson);
  ASSERT_TRUE(jetson.ok()) << jetson.status().message();
  EXPECT_TRUE(has(*jetson,
                  "nvarguscamerasrc name=src sensor-id=1 ! video/x-raw(memory:NVMM),width=1280,height=720,"
                  "framerate=60/1 ! nvv4l2h264enc iframeinterval=60"))
      << *jetson << ": frames stay in NVMM from sensor to encoder";
  auto pc = media::recorder_description(*source, kDepotPc);
  ASSERT_FALSE(pc.ok());
  EXPECT_TRUE(has(pc.status().message(), "nvarguscamerasrc")) << pc.status().message();
  EXPECT_FALSE(media::parse_source("csi://front").ok()) << "the sensor is a number";
  EXPECT_FALSE(media::parse_source("csi://0?frames=10").ok()) << "frames is test:// only";
  auto defaults = media::parse_source("csi://");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->location, "0");
  EXPECT_EQ(defaults->width, 1920);
}

TEST(RecorderElements, AnRtspCameraIsDepayloadedByItsCodec) {
  auto h264 = media::rtsp_depayloader("H264");
  ASSERT_TRUE(h264.ok());
  EXPECT_TRUE(has(*h264, "rtph264depay") && has(*h264, "h264timestamper")) << *h264;
  auto h265 = media::rtsp_depayloader("H265");
  ASSERT_TRUE(h265.ok());
  EXPECT_TRUE(has(*h265, "rtph265depay") && has(*h265, "h265timestamper")) << *h265;
  auto jpeg = media::rtsp_depayloader("JPEG");
  ASSERT_FALSE(jpeg.ok());
  EXPECT_TRUE(has(jpeg.status().message(), "JPEG")) << jpeg.status().message();
}

// A re-encode (a redacted clip) keeps its keyframes where the source had
// them, with whichever encoder the box has: each software one run for real.
TEST(EncoderElements, AReEncodeKeepsTheKeyframesItIsGivenWithEachEncoder) {
  auto jetson = media::keyed_h264_encoder(kJetson, 21);
  ASSERT_TRUE(jetson.ok());
  EXPECT_EQ(jetson->element, "nvv4l2h264enc");
  EXPECT_TRUE(has(jetson->description, "nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! nvv4l2h264enc"))
      << jetson->description;
  auto none = media::keyed_h264_encoder(only({}), 21);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(has(none.status().message(), "x264enc")) << none.status().message();

  const auto dir = std::filesystem::temp_directory_path() / ("dashloop-encoder-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  for (const char* encoder : {"x264enc", "openh264enc"}) {
    if (!media::has_element(encoder)) {
      std::printf("[  SKIPPED ] %s is not installed here\n", encoder);
      continue;
    }
    media::EncoderOptions o;
    o.width = 320;
    o.height = 240;
    o.fps = 25;
    o.elements = only({encoder});
    const auto out = dir / (std::string(encoder) + ".mp4");
    auto writer = media::H264Writer::open(out, o);
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    EXPECT_EQ((*writer)->encoder(), encoder);
    cv::Mat frame(240 * 3 / 2, 320, CV_8UC1);
    const std::set<int> keys = {0, 7, 30};
    for (int i = 0; i < 40; ++i) {
      cv::randu(frame, 0, 255);  // nothing alike from frame to frame: an encoder left to itself would cut anywhere
      ASSERT_TRUE((*writer)->push(frame, i * 40'000'000LL, 40'000'000LL, keys.contains(i)).ok());
    }
    ASSERT_TRUE((*writer)->finish().ok());
    auto index = media::index_stream(out);
    ASSERT_TRUE(index.ok()) << index.status().message();
    EXPECT_EQ(index->frames, 40) << encoder;
    std::set<int> found;
    for (const auto& k : index->keyframes) found.insert(int(k.frame));
    EXPECT_EQ(found, keys) << encoder;
  }
  std::filesystem::remove_all(dir);
}

// GStreamer lays I420 rows out on 4-byte strides: a 1242-px frame's chroma
// rows are 624 bytes, not 621. Frames of such widths (KITTI's 1242x375,
// cropped to even) once failed every clip ("Internal data stream error");
// each size here is encoded and decoded back to the pixels it was given.
TEST(EncoderSizes, FramesOfAnyEvenSizeAreEncodedAsTheyLook) {
  if (!media::has_element("x264enc")) GTEST_SKIP() << "x264enc is not installed here";
  const auto dir = std::filesystem::temp_directory_path() / ("dashloop-sizes-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  for (auto [w, h] : {std::pair{1242, 374}, {1244, 376}, {1278, 718}, {854, 480}, {322, 182}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    media::EncoderOptions o;
    o.width = w;
    o.height = h;
    o.fps = 10;
    o.quality = 10;
    o.elements = [](const std::string& f) { return f == "x264enc"; };
    const auto out = dir / (std::to_string(w) + "x" + std::to_string(h) + ".mp4");
    auto writer = media::H264Writer::open(out, o);
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    // Luma: a ramp across the row, so a wrong stride shears it; chroma: a
    // different flat value in each plane, so swapped or shifted planes show.
    cv::Mat frame(h * 3 / 2, w, CV_8UC1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) frame.at<uint8_t>(y, x) = uint8_t(16 + (x * 200) / w);
    std::fill(frame.data + size_t(w) * h, frame.data + size_t(w) * h * 5 / 4, uint8_t(90));
    std::fill(frame.data + size_t(w) * h * 5 / 4, frame.data + size_t(w) * h * 3 / 2, uint8_t(170));
    for (int i = 0; i < 3; ++i) {
      Status pushed = (*writer)->push(frame, i * 100'000'000LL, 100'000'000LL, i == 0);
      ASSERT_TRUE(pushed.ok()) << pushed.message();
    }
    Status finished = (*writer)->finish();
    ASSERT_TRUE(finished.ok()) << finished.message();
    auto source = media::parse_source(out.string());
    ASSERT_TRUE(source.ok()) << source.status().message();
    auto reader = media::FrameReader::open(*source, {});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    auto first = (*reader)->next();
    ASSERT_TRUE(first.ok() && *first) << (first.ok() ? "no frame" : first.status().message());
    const auto& f = **first;
    ASSERT_EQ(f.y.cols, w);
    ASSERT_EQ(f.y.rows, h);
    double luma_error = 0;
    for (int y = 0; y < h; y += 7)
      for (int x = 0; x < w; x += 5) luma_error = std::max(luma_error, std::abs(double(f.y.at<uint8_t>(y, x)) - double(frame.at<uint8_t>(y, x))));
    EXPECT_LT(luma_error, 12) << "the ramp came back sheared";
    EXPECT_NEAR(cv::mean(f.u)[0], 90, 3);
    EXPECT_NEAR(cv::mean(f.v)[0], 170, 3);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dashloop::pipeline
