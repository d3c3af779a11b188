// Encoded video packets of a file, without decoding: filesrc ! parsebin !
// appsink. The cutter remuxes them; index_stream() lists a file's frames and
// keyframes (a recording segment's index, an ingested file's GOPs).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "media/gst.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

struct Packet {
  SamplePtr sample;  // buffer and caps (codec_data for avc/hvc1)
  int64_t pts = -1;  // ns in the file's own timeline; -1 when the container has none
  int64_t dts = -1;
  bool keyframe = false;
};

// What a packet's caps say of its stream.
struct VideoFormat {
  std::string codec;  // caps name: video/x-h264, video/x-h265, ...
  int width = 0;
  int height = 0;
  double fps = 0;          // 0 when the container does not say
  int64_t frame_ns = 0;    // one frame's duration, when fps is known
};
VideoFormat video_format(const Packet& packet);

class PacketReader {
 public:
  // H.264 and H.265 come out length-prefixed with codec_data (what MP4 takes).
  // `any_codec`: every video stream as parsed (MJPEG, DivX), for an index of
  // what only a re-encode can cut; else a codec MP4 cannot take is an error.
  static Result<std::unique_ptr<PacketReader>> open(const std::filesystem::path& file, bool any_codec = false);
  ~PacketReader();
  PacketReader(const PacketReader&) = delete;
  PacketReader& operator=(const PacketReader&) = delete;

  // Seeks to the keyframe at or before `pts` (ns, the file's timeline).
  // Best effort: containers without an index may land earlier.
  Status seek(int64_t pts);
  // Packets in decode order; std::nullopt at the end of the file.
  Result<std::optional<Packet>> next();

 private:
  struct Impl;
  explicit PacketReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct KeyframePos {
  int64_t frame = 0;  // frame number in the file, as the frame reader counts it
  int64_t pts = 0;    // ns
};

struct StreamIndex {
  std::string codec;  // caps name: video/x-h264, video/x-h265, ...
  double fps = 0;     // from caps; 0 when the container does not say
  int64_t frames = 0;
  int64_t first_pts = 0;  // ns, the first frame in presentation order
  int64_t duration_ns = 0;  // last - first + one frame
  std::vector<KeyframePos> keyframes;
  bool remuxable = true;
};

// The frame number of a timestamp, counted as the frame reader does (fps > 0).
int64_t frame_at(int64_t pts, const StreamIndex& index);

// Reads every packet header of a file (no decoding), of any video codec:
// `remuxable` says whether the cutter can copy it (H.264, H.265, ...) or a
// clip of it must be re-encoded (MJPEG, DivX).
Result<StreamIndex> index_stream(const std::filesystem::path& file);

}  // namespace dashloop::pipeline::media
