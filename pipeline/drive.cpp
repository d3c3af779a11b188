#include "drive.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/frame_scores.hpp"

namespace dashloop::pipeline {
namespace {

// Full-size copy of a decoded frame as one I420 image, kept while it is the
// best candidate of an open selection window.
struct HeldFrame {
  int64_t index = -1;
  cv::Mat i420;

  void take(const media::DecodedFrame& f) {
    i420 = media::copy_i420(f);
    index = f.index;
  }
};

// Encodes and writes keyframe JPEGs on a thread of its own: a 1080p JPEG
// takes ~20 ms, which would otherwise hold up the frame loop and, through the
// appsink queue, the decoder. At most kMaxPending frames wait (3 MB each).
class JpegWriter {
 public:
  explicit JpegWriter(int quality) : quality_(quality), thread_([this] { run(); }) {}
  ~JpegWriter() { (void)finish(); }
  JpegWriter(const JpegWriter&) = delete;
  JpegWriter& operator=(const JpegWriter&) = delete;

  // Takes the I420 pixels; blocks while kMaxPending frames wait.
  void write(cv::Mat i420, std::filesystem::path path) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return jobs_.size() < kMaxPending; });
    jobs_.emplace_back(std::move(i420), std::move(path));
    changed_.notify_all();
  }
  // Waits for every write; the first error, if any.
  Status finish() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
    return error_;
  }

 private:
  static constexpr size_t kMaxPending = 4;

  void run() {
    for (;;) {
      std::pair<cv::Mat, std::filesystem::path> job;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return done_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      changed_.notify_all();
      cv::Mat bgr;
      cv::cvtColor(job.first, bgr, cv::COLOR_YUV2BGR_I420);
      if (!cv::imwrite(job.second.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, quality_}) && error_.ok())
        error_ = Status::IOError(job.second.string() + ": cannot write keyframe");
    }
  }

  const int quality_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<cv::Mat, std::filesystem::path>> jobs_;
  bool done_ = false;
  Status error_;        // written by the worker only, read after join
  std::thread thread_;  // last: starts once the rest exists
};

std::filesystem::path keyframe_path(const DriveOptions& o, int64_t index) {
  char name[48];
  std::snprintf(name, sizeof name, "frame_%08lld.jpg", static_cast<long long>(index));
  return o.keyframe_dir / name;
}

}  // namespace

Result<DriveResult> analyze_drive(const media::Source& source, const DriveOptions& options,
                                  const ProgressFn& progress) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto opened = media::FrameReader::open(source, options.reader);
  if (!opened.ok()) return opened.status();
  media::FrameReader& reader = **opened;
  std::unique_ptr<TrackingWorker> tracking;
  if (options.tracking.detector.kind != "none") {
    TrackingOptions t = options.tracking;
    t.live = t.live || source.is_live();
    auto worker = TrackingWorker::start(std::move(t));
    if (!worker.ok()) return worker.status();
    tracking = std::move(*worker);
  }

  vision::FrameAnalyzer analyzer(options.analysis_width);
  vision::KeyframeSelector selector(options.selector);
  HeldFrame held;
  JpegWriter writer(options.jpeg_quality);
  DriveResult result;
  auto last_report = started;

  // A keyframe is the held frame, or the current one when the step that
  // makes it the best candidate also closes its window.
  auto apply = [&](const vision::SelectorStep& step, const media::DecodedFrame* current) -> Status {
    for (const auto& k : step.selected) {
      if (k.index != held.index && current && k.index == current->index) held.take(*current);
      if (k.index != held.index) return Status::Internal("selector chose a frame that was not held");
      const auto path = keyframe_path(options, k.index);
      writer.write(std::move(held.i420), path);  // the next take() allocates anew
      held.index = -1;
      result.keyframes.push_back({k, path});
    }
    return Status::Ok();
  };

  for (;;) {
    if (options.stop && options.stop->load()) {
      result.stopped = true;
      break;
    }
    auto next = reader.next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    const media::DecodedFrame& frame = **next;
    auto scores = analyzer.analyze(frame.index, frame.t_s, frame.y, frame.u, frame.v, /*with_sharpness=*/false);
    if (selector.needs_quality(scores)) scores.sharpness = analyzer.measure_sharpness(frame.y);
    if (options.on_scores) options.on_scores(scores);
    const auto step = selector.push(scores);
    if (Status st = apply(step, &frame); !st.ok()) return st;
    if (step.hold) held.take(frame);
    if (tracking) tracking->offer(frame);
    ++result.frames;
    result.media_s = frame.t_s;
    const auto now = Clock::now();
    if (progress && now - last_report > std::chrono::milliseconds(250)) {
      last_report = now;
      progress({result.frames, frame.t_s, reader.info().duration_s,
                std::chrono::duration<double>(now - started).count()});
    }
  }
  if (Status st = apply(selector.finish(), nullptr); !st.ok()) return st;
  if (Status st = writer.finish(); !st.ok()) return st;
  if (tracking) {
    auto objects = tracking->finish();
    if (!objects.ok()) return objects.status();
    result.objects = std::move(*objects);
  }

  result.stream = reader.info();
  if (result.stream.fps > 0 && !options.reader.keyframes_only) result.media_s += 1.0 / result.stream.fps;
  if (result.stream.duration_s > 0 && !result.stopped) result.media_s = std::max(result.media_s, result.stream.duration_s);
  result.dropped = reader.dropped();
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace dashloop::pipeline
