#include "tracking_worker.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "clips/package.hpp"

namespace dashloop::pipeline {

Result<std::unique_ptr<TrackingWorker>> TrackingWorker::start(TrackingOptions options) {
  auto detector = vision::make_detector(options.detector);
  if (!detector.ok()) return detector.status();
  std::string sha256;
  if (options.detector.kind == "onnx") {
    auto sum = clips::sha256_file(options.detector.model);
    if (!sum.ok()) return sum.status();
    sha256 = *sum;
  }
  return std::unique_ptr<TrackingWorker>(new TrackingWorker(std::move(options), std::move(*detector), std::move(sha256)));
}

TrackingWorker::TrackingWorker(TrackingOptions options, std::unique_ptr<vision::Detector> detector, std::string model_sha256)
    : options_(std::move(options)), detector_(std::move(detector)), model_sha256_(std::move(model_sha256)),
      tracker_(options_.tracker) {
  if (options_.offline && !options_.resume.empty()) {
    steps_ = options_.resume;
    result_.detected_frames = result_.resumed_frames = static_cast<int64_t>(steps_.size());
    to_source_ = options_.resume_to_source;
  }
  thread_ = std::thread([this] { run(); });
}

TrackingWorker::~TrackingWorker() { join(); }

void TrackingWorker::join() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TrackingWorker::drain_events() {
  for (auto& e : tracker_.take_events()) {
    if (options_.on_event) options_.on_event(e);
    result_.events.push_back(e);
  }
}

bool TrackingWorker::due(double t_s) {
  const double rate = options_.detector.rate_hz;
  if (rate <= 0) return true;
  // 1 ms of slack: 30 fps at 6 Hz is every 5th frame despite rounding.
  if (next_due_s_ && t_s < *next_due_s_ - 1e-3) return false;
  // Due times step by the period (6 Hz at 25 fps is 6 a second, not 25/4);
  // after a gap (triage's I-frames, frames a live source lost) they restart
  // from this frame instead of bursting to catch up.
  const double period = 1.0 / rate;
  next_due_s_ = next_due_s_ && *next_due_s_ + period > t_s ? *next_due_s_ + period : t_s + period;
  return true;
}

void TrackingWorker::offer(const media::DecodedFrame& frame) {
  if (!due(frame.t_s)) return;
  // Frames a resumed pass already detected: skipped, but for the last one.
  const bool resumed = options_.offline && !options_.resume.empty() && frame.index <= options_.resume.back().frame;
  if (resumed && frame.index != options_.resume.back().frame) return;
  {
    std::unique_lock lock(mutex_);
    if (options_.live && pending_) {  // the worker is busy and a frame already waits
      ++skipped_;
      return;
    }
    changed_.wait(lock, [&] { return !pending_; });
  }
  // Downsize the I420 planes (not the BGR picture): a third of the pixels.
  const int width = std::min(options_.detector.width, frame.y.cols) & ~1;
  const int height = static_cast<int>(std::lround(static_cast<double>(frame.y.rows) * width / frame.y.cols)) & ~1;
  Job job;
  job.index = frame.index;
  job.to_source = static_cast<double>(frame.y.cols) / width;
  job.i420 = media::resized_i420(frame, width, height);
  job.prime = resumed;
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(job);
  }
  changed_.notify_all();
}

void TrackingWorker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return done_ || pending_; });
      if (!pending_) return;
      job = std::move(*pending_);
      pending_.reset();
    }
    changed_.notify_all();
    if (error_.ok()) process(job);
  }
}

void TrackingWorker::process(Job& job) {
  const int height = job.i420.rows * 2 / 3;
  if (job.prime) {
    if (options_.camera_motion) {
      std::vector<cv::Rect2f> boxes;
      for (const auto& d : options_.resume.back().detections) boxes.push_back(d.box);
      motion_.estimate(job.i420.rowRange(0, height), boxes);
    }
    return;
  }
  cv::Mat bgr;
  cv::cvtColor(job.i420, bgr, cv::COLOR_YUV2BGR_I420);
  const auto t0 = std::chrono::steady_clock::now();
  auto found = detector_->detect(bgr);
  result_.detect_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!found.ok()) {
    error_ = found.status();
    return;
  }
  ++result_.detected_frames;
  to_source_ = job.to_source;
  std::optional<cv::Matx23f> motion;
  if (options_.camera_motion) {
    std::vector<cv::Rect2f> boxes;
    for (const auto& d : *found) boxes.push_back(d.box);
    motion = motion_.estimate(job.i420.rowRange(0, height), boxes);  // the Y plane is the grey image
  }
  if (options_.offline) {
    steps_.push_back({job.index, std::move(*found), motion});
    if (options_.on_step) options_.on_step(steps_.back(), to_source_);
    return;
  }
  tracker_.update(job.index, *found, motion);
  drain_events();
}

Result<TrackingResult> TrackingWorker::finish() {
  join();
  if (!error_.ok()) return error_;
  if (options_.offline) {
    result_.tracks = vision::track_offline(steps_, options_.tracker, *options_.offline);
  } else {
    tracker_.finish();
    drain_events();
    result_.tracks = tracker_.take_finished();  // every track that ended, in the order they ended
  }
  const auto scale = static_cast<float>(to_source_);
  auto to_source = [scale](cv::Rect2f& r) { r = {r.x * scale, r.y * scale, r.width * scale, r.height * scale}; };
  for (auto& t : result_.tracks)
    for (auto& b : t.boxes) to_source(b.box);
  if (options_.offline) {
    result_.steps = std::move(steps_);
    for (auto& s : result_.steps)
      for (auto& d : s.detections) to_source(d.box);
  }
  std::sort(result_.tracks.begin(), result_.tracks.end(),
            [](const vision::Track& a, const vision::Track& b) { return a.id < b.id; });
  result_.skipped_frames = skipped_;
  result_.detector = detector_->describe() + (model_sha256_.empty() ? "" : " sha256:" + model_sha256_);
  result_.labels = detector_->labels();
  return std::move(result_);
}

}  // namespace dashloop::pipeline
