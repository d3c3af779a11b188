// H264Writer: raw I420 frames in, an H.264 MP4 out (moov first), each frame
// with the timestamp it is given and a keyframe exactly where asked, so a
// re-encoded clip keeps its source's frame count, timestamps and GOP (labels
// land on the same frames). nvv4l2h264enc where it exists (Jetson), else
// x264enc, else openh264enc; chosen at run time from the elements installed
// (injectable, as for the recorder).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "media/gst.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

struct EncoderOptions {
  int width = 0;    // even
  int height = 0;   // even
  double fps = 30;
  int quality = 21;  // x264's constant-quality value (lower: better, larger)
  ElementSet elements = installed_elements();
};

// The encoder part of H264Writer's pipeline for the elements `has` allows,
// every keyframe its caller's (the encoder's own GOP and scene cuts off).
struct KeyedEncoder {
  std::string description;
  std::string element;
};
Result<KeyedEncoder> keyed_h264_encoder(const ElementSet& has, int quality);

class H264Writer {
 public:
  static Result<std::unique_ptr<H264Writer>> open(const std::filesystem::path& out, const EncoderOptions& options);
  ~H264Writer();
  H264Writer(const H264Writer&) = delete;
  H264Writer& operator=(const H264Writer&) = delete;

  // `i420` is one contiguous I420 image (height * 3 / 2 rows of width bytes).
  Status push(const cv::Mat& i420, int64_t pts_ns, int64_t duration_ns, bool keyframe);
  // Ends the stream and waits until the file is complete.
  Status finish();
  const std::string& encoder() const { return encoder_; }

 private:
  H264Writer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string encoder_;
};

}  // namespace dashloop::pipeline::media
