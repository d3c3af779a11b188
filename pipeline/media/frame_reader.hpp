// FrameReader: decodes a Source with GStreamer and hands out frames, in
// order, with their timestamps, to the calling thread.
//
// Threads: GStreamer decodes on its own streaming threads; next() is called
// from one thread of the caller's and blocks until a frame, the end or an
// error. Between them sits appsink's bounded queue: for a file it applies
// back-pressure (no frame is dropped), for a live source it drops the oldest
// frame and the drop is counted.
// Errors: every error names the source as the user wrote it.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <opencv2/core.hpp>

#include "media/source.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

struct ReaderOptions {
  // Drop delta frames before the decoder: only the stream's own I-frames
  // are decoded (files and recordings).
  bool keyframes_only = false;
  // Frames queued between decoder and caller.
  int max_queued = 4;
  // A live source that yields no frame for this long is an error.
  double live_timeout_s = 20.0;
};

struct StreamInfo {
  int width = 0;
  int height = 0;
  double fps = 0.0;          // 0 when the stream does not say
  double duration_s = -1.0;  // -1 when unknown (live)
  std::string decoder;       // the decoder element that was chosen
};

// One decoded I420 frame at the source's resolution. The planes are views of
// the decoder's buffer, valid while this object lives: copy what you keep.
class DecodedFrame {
 public:
  DecodedFrame();
  DecodedFrame(DecodedFrame&&) noexcept;
  DecodedFrame& operator=(DecodedFrame&&) noexcept;
  ~DecodedFrame();

  int64_t index = 0;  // frame number from the start of the stream (from PTS and fps)
  double t_s = 0.0;   // seconds from the first frame
  int64_t pts_ns = -1;  // the buffer's own timestamp (-1: none), for a re-encode that keeps it
  cv::Mat y, u, v;    // I420 planes: y is WxH, u and v are W/2 x H/2

 private:
  friend class FrameReader;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
};

// The frame's pixels as one contiguous I420 image (cropped to even width and
// height), owned: it outlives the frame and the decoder's buffer.
cv::Mat copy_i420(const DecodedFrame& f);
// The frame scaled to width x height (both even) as one contiguous I420
// image, each plane resized on its own (INTER_AREA): a third of the pixels
// of scaling the BGR picture.
cv::Mat resized_i420(const DecodedFrame& f, int width, int height);

class FrameReader {
 public:
  static Result<std::unique_ptr<FrameReader>> open(const Source& source, const ReaderOptions& options);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // The next frame; std::nullopt at the end of the stream.
  Result<std::optional<DecodedFrame>> next();

  // Valid once the first frame has been returned.
  const StreamInfo& info() const;
  // Frames a live source skipped because we were behind (from PTS gaps).
  int64_t dropped() const;
  // The GStreamer launch description, for logs and docs.
  const std::string& description() const;

 private:
  struct Impl;
  explicit FrameReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::pipeline::media
