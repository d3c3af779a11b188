// One camera's recording, indexed in the catalog as it goes: segments are
// added when they open and closed with what the file holds (frames,
// keyframes, size), frame numbers running on across them; segments a crash
// left open are indexed first. `dashloop record` runs one; the station runs
// one per camera and rebuilds it when its pipeline fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "catalog/catalog.hpp"
#include "media/recorder.hpp"
#include "media/source.hpp"
#include "status.hpp"

namespace dashloop::app {

// The newest time known to be true for the stamps of `camera`'s segments
// ("": every camera's) in `catalog` (null: none yet): their latest start or
// end, and never before this release was made. A system clock before it has
// not been set (1970 on a box with no RTC); the recorder then counts on from
// it (media::WallClock).
std::chrono::system_clock::time_point clock_not_before(firmware::catalog::Catalog* catalog,
                                                       const std::string& camera = "");

class CameraRecorder {
 public:
  // Called with each segment once it is closed in the catalog.
  using ClosedFn = std::function<void(const firmware::catalog::SegmentRecord&)>;

  // Recordings go to data_dir/recordings/CAMERA. Errors name the source;
  // the data directory's or the catalog's (recovering open segments) are kInternal.
  static Result<std::unique_ptr<CameraRecorder>> start(firmware::catalog::Catalog& catalog,
                                                        const std::filesystem::path& data_dir,
                                                        const std::string& camera, const pipeline::media::Source& source,
                                                        double segment_s, double stall_s, ClosedFn on_closed = {});
  ~CameraRecorder();
  CameraRecorder(const CameraRecorder&) = delete;
  CameraRecorder& operator=(const CameraRecorder&) = delete;

  // Handles the pipeline's messages for up to wait_s; a pipeline or catalog
  // error (kUnavailable: no frame for stall_s) is returned (the recording is then over: stop() and start anew).
  Status poll(double wait_s);
  // Closes the open segment at the next keyframe.
  void split() { recorder_->split(); }
  // Ends the recording, closing the open segment.
  Status stop();
  const std::filesystem::path& dir() const { return dir_; }
  double seconds_since_frame() const { return recorder_ ? recorder_->seconds_since_frame() : -1.0; }
  std::string last_frame_utc() const { return recorder_ ? recorder_->last_frame_utc() : ""; }
  // The catalog, not the camera, failed (the station's storage is at fault).
  bool catalog_failed() const { return !failure_.ok(); }

 private:
  CameraRecorder(firmware::catalog::Catalog& catalog, std::string camera, ClosedFn on_closed);

  firmware::catalog::Catalog& catalog_;
  std::string camera_;
  ClosedFn on_closed_;
  std::filesystem::path dir_;
  int64_t next_frame_ = 0;  // frame numbers continue across a camera's segments
  std::map<std::string, firmware::catalog::SegmentRecord> open_;
  Status failure_;
  std::unique_ptr<pipeline::media::Recorder> recorder_;  // last: its callbacks use the rest
};

}  // namespace dashloop::app
