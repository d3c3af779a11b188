// Object detection and tracking beside the frame loop: `rate_hz` analysed
// frames a second of video are downsized to the detector's width and handed to a worker thread
// that detects, estimates the camera's motion and steps the tracker. A file
// waits for the worker (back-pressure, nothing skipped); a live source never
// waits: a frame due while the worker is still busy is skipped and counted.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "media/frame_reader.hpp"
#include "status.hpp"
#include "vision/camera_motion.hpp"
#include "vision/detectors.hpp"
#include "vision/offline_tracker.hpp"
#include "vision/tracker.hpp"

namespace dashloop::pipeline {

struct TrackingOptions {
  vision::DetectorConfig detector;  // kind "none": no detection, no tracking
  vision::TrackerConfig tracker;
  bool camera_motion = true;        // vehicle camera: on; fixed camera: off
  bool live = false;                // skip rather than wait when the worker is busy
  // Set: the whole input is tracked at the end by the offline tracker (pre-labels),
  // and no track events are sent; unset: the live tracker, step by step.
  std::optional<vision::OfflineTrackerConfig> offline;
  // Called on the worker thread as tracks start and end; may be empty.
  std::function<void(const vision::TrackEvent&)> on_event;
  // Offline only: the steps a stopped pass already made on this input (boxes
  // in detector pixels, `resume_to_source` their scale). Their frames are not
  // detected again; the last one's image only primes the camera-motion
  // estimate, whose state after a frame depends on that frame alone, so the
  // tracks are the uninterrupted pass's.
  std::vector<vision::TrackStep> resume;
  double resume_to_source = 1.0;
  // Offline only: each new step as it is made (on the worker thread), so
  // that the caller can keep it for a resume; may be empty.
  std::function<void(const vision::TrackStep&, double to_source)> on_step;
};

struct TrackingResult {
  std::string detector;  // the detector's description
  std::vector<std::string> labels;
  std::vector<vision::Track> tracks;  // confirmed tracks, boxes in source pixels
  std::vector<vision::TrackEvent> events;
  int64_t detected_frames = 0;  // resumed ones included
  int64_t resumed_frames = 0;   // taken from TrackingOptions::resume, not detected again
  int64_t skipped_frames = 0;  // due for detection while a live source could not wait
  double detect_s = 0.0;       // worker time in the detector
  // Offline only: every detector step (resumed ones included), its boxes in
  // source pixels, as the detector gave them: what redaction reuses.
  std::vector<vision::TrackStep> steps;
};

class TrackingWorker {
 public:
  // Builds the detector first, so a bad model stops the ingest before decoding.
  static Result<std::unique_ptr<TrackingWorker>> start(TrackingOptions options);
  ~TrackingWorker();
  TrackingWorker(const TrackingWorker&) = delete;
  TrackingWorker& operator=(const TrackingWorker&) = delete;

  // Every analysed frame, in order; those due at `rate_hz` go to the detector.
  void offer(const media::DecodedFrame& frame);
  // Waits for the worker, ends every track; the first detector error, if any.
  Result<TrackingResult> finish();

 private:
  struct Job {
    int64_t index = 0;
    cv::Mat i420;       // at the detector's width
    double to_source = 1.0;  // detector pixels -> source pixels
    bool prime = false;      // a resumed step's frame: camera motion only
  };
  TrackingWorker(TrackingOptions options, std::unique_ptr<vision::Detector> detector, std::string model_sha256);
  void run();
  void process(Job& job);
  void join();          // ends the worker after the frame it has, if any
  void drain_events();  // the tracker's new events to the callback and the result
  bool due(double t_s);  // whether the frame at t_s goes to the detector ([detector] rate_hz)

  TrackingOptions options_;
  std::unique_ptr<vision::Detector> detector_;
  std::string model_sha256_;  // of an ONNX model file: which weights made the boxes
  vision::Tracker tracker_;
  std::vector<vision::TrackStep> steps_;  // offline: every detector step, tracked at the end
  vision::CameraMotion motion_;
  std::optional<double> next_due_s_;  // video time of the next detection
  int64_t skipped_ = 0;
  double to_source_ = 1.0;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Job> pending_;  // one slot: the worker is at most one frame behind
  bool done_ = false;

  // Written by the worker; read after join.
  TrackingResult result_;
  Status error_;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace dashloop::pipeline
