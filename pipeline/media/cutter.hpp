// Cutter: copies a keyframe-aligned span of recorded segments into one MP4
// (moov first, so it plays while downloading), without re-encoding.
//
// The span starts at a keyframe of the first segment and ends before a
// keyframe of the last one (or at its end), so the clip's first frame is a
// keyframe and every frame in it decodes. Timestamps are made continuous
// across segment boundaries. The result lists each clip frame's source
// (segment and PTS), which is how labels are mapped onto the clip's frames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "media/gst.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

struct CutRequest {
  std::vector<std::filesystem::path> segments;  // in recording order
  int64_t start_pts = 0;                        // ns: a keyframe of segments.front()
  std::optional<int64_t> end_pts;               // ns: a keyframe of segments.back(), excluded; none: to its end
};

struct CutFrame {
  int segment = 0;  // index into CutRequest::segments
  int64_t pts = 0;  // ns, that segment's own timeline
};

struct CutResult {
  std::string codec;  // caps name, e.g. video/x-h264
  int width = 0;
  int height = 0;
  double fps = 0;
  std::vector<CutFrame> frames;  // the clip's frames in presentation order
  int64_t bytes = 0;
};

Result<CutResult> cut_clip(const CutRequest& request, const std::filesystem::path& out_mp4);

// The same span decoded and encoded to H.264 (H264Writer, a keyframe a
// second), for a video MP4 cannot carry as it is (MJPEG, DivX): chosen only
// where cut_clip cannot remux. Frames keep their source timestamps in the
// result, so labels map onto them as onto a cut's.
Result<CutResult> reencode_clip(const CutRequest& request, const std::filesystem::path& out_mp4,
                                const ElementSet& has = installed_elements());

}  // namespace dashloop::pipeline::media
