// Source: what `dashloop ingest` is pointed at, parsed once from a path or URI.
//   /path/to/drive.mp4 | file:///path   a recorded file (MP4, MKV, TS, AVI, ...)
//   rtsp://host:port/path                an IP camera (rtspsrc, UDP with TCP fallback)
//   v4l2:///dev/videoN                   a local camera (H.264, MJPEG or raw frames)
//   csi://N?width=W&height=H&fps=F       a Jetson's CSI sensor N (nvarguscamerasrc)
//   test://PATTERN?frames=N&width=W&height=H&fps=F   videotestsrc, for demos
//   recording://CAMERA                   segments `dashloop record` wrote, played as one
//                                        stream (the caller fills `parts` from the catalog)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::pipeline::media {

struct Source {
  enum class Kind { kFile, kRtsp, kV4l2, kCsi, kTest, kSegments };
  Kind kind = Kind::kFile;
  std::string original;  // as the user wrote it, for messages
  std::string location;  // file path, rtsp URI or device path
  // test:// only
  std::string pattern = "smpte";
  int frames = 300;
  // test:// and csi:// (location: the sensor id)
  int width = 1280;
  int height = 720;
  int fps = 30;
  // recording:// only: the segment files, in recording order, and each
  // one's frame count as the catalog holds it (so frames are numbered as the
  // recording is; needed for triage, which decodes only the I-frames)
  std::vector<std::string> parts;
  std::vector<int64_t> part_frames;

  bool is_live() const { return kind == Kind::kRtsp || kind == Kind::kV4l2 || kind == Kind::kCsi; }
};

// Parses a path or URI; a file must exist and be readable.
Result<Source> parse_source(const std::string& arg);

}  // namespace dashloop::pipeline::media
