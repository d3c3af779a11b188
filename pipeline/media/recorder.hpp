// Recorder: writes a live source's encoded stream, without re-encoding, into
// fixed-length MPEG-TS segments (parse -> splitmuxsink -> mpegtsmux). TS has
// no index to finish: a segment cut off by a power loss or kill -9 still
// plays up to its last complete packet. Segments start on keyframes and
// carry SPS/PPS, so each one decodes alone.
//
// Threads: GStreamer records on its own threads; poll() is called from one
// caller thread and reports segments opened and closed through callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "media/gst.hpp"
#include "media/source.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

// The time recordings are stamped with. A box with no RTC may boot in 1970
// and set its clock (NTP, GPS) only later: while the system clock is before
// `not_before` (the newest time known true, e.g. the camera's last stamp),
// the time counts on from not_before at the steady clock's rate instead, so
// no segment is stamped 1970 and stamps stay in order. Once the system clock
// passes that estimate, it is the system clock.
class WallClock {
 public:
  explicit WallClock(std::chrono::system_clock::time_point not_before = {})
      : not_before_(not_before), started_(std::chrono::steady_clock::now()) {}
  std::chrono::system_clock::time_point now() const;
  // The system clock is before not_before: it has not been set.
  bool behind() const { return std::chrono::system_clock::now() < not_before_; }
  std::chrono::system_clock::time_point not_before() const { return not_before_; }

 private:
  std::chrono::system_clock::time_point not_before_;
  std::chrono::steady_clock::time_point started_;
};

struct RecorderOptions {
  std::filesystem::path dir;  // must exist
  std::string prefix = "front";
  double segment_s = 60.0;
  // Flushes the open segment to the storage this often (kill -9 loses
  // nothing written; a power cut loses at most this much more).
  double sync_s = 1.0;
  // No buffer out of the parser for this long since the last one (for the
  // first, at least 20 s from the start): poll() returns kUnavailable,
  // "stalled". A frozen camera or a half dead link posts no error; 0 never
  // says it.
  double stall_s = 0.0;
  WallClock clock;  // segment names and their open/close times
};

struct SegmentEvent {
  std::filesystem::path path;
  std::string utc;  // when its first (or after its last) frame was captured, ISO 8601
};

struct RecorderCallbacks {
  std::function<void(const SegmentEvent&)> opened;
  std::function<void(const SegmentEvent&)> closed;
};

// The launch description of a recording pipeline, with the elements `has`
// allows (the Jetson's where installed). A camera that encodes is recorded
// as it sends; one that gives raw or MJPEG frames is encoded once
// (raw_to_h264). An RTSP camera's is rtspsrc alone, completed by
// rtsp_depayloader once the camera's SDP names its codec; a V4L2 camera's
// follows the formats the device offers (it is opened to ask).
Result<std::string> recorder_description(const Source& source, const ElementSet& has = installed_elements());
// A V4L2 camera's recording pipeline for the formats it offers (a caps
// string): H.264 as sent, else MJPEG (decoded) or raw frames, encoded.
Result<std::string> v4l2_description(const std::string& offered, const ElementSet& has);
// What follows rtspsrc for an RTP encoding name ("H264", "H265"), up to the
// parser named "parse"; kUnsupported for any other.
Result<std::string> rtsp_depayloader(const std::string& encoding_name);

// What `dashloop doctor` says of a camera: the recording pipeline up to its
// parser, run until the parser knows the stream (its caps, e.g.
// "video/x-h264, width=(int)1920, ..."), the camera's error, or timeout_s.
Result<std::string> probe_camera(const Source& source, double timeout_s);

class Recorder {
 public:
  static Result<std::unique_ptr<Recorder>> start(const Source& source, const RecorderOptions& options,
                                                 RecorderCallbacks callbacks);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Handles what happened since the last call (up to `wait_s` for news);
  // an error stops the recording and names the source (kUnavailable: stalled).
  Status poll(double wait_s);
  // Ends the stream and closes the open segment.
  // Closes the open segment at the next keyframe (asked for at once): a
  // moment just marked reaches analysis without waiting for the segment's end.
  void split();
  Status stop();
  // Seconds since the last frame came out of the parser; -1 before the
  // first. A camera is up only while frames flow, never because its
  // pipeline is merely still there (a frozen camera posts no error).
  double seconds_since_frame() const;
  // When the last frame came (its wall time); "" before the first. A gap in
  // the recording starts there, not when the stall was noticed.
  std::string last_frame_utc() const;

 private:
  struct Impl;
  explicit Recorder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Now (or a given time) as ISO 8601 UTC with milliseconds.
std::string utc_now();
std::string utc_at(std::chrono::system_clock::time_point t);
// The time such a string names; nullopt for anything else (an empty string).
std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& utc);

}  // namespace dashloop::pipeline::media
