#include "drive.hpp"

#include <chrono>
#include <cstdio>
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
    const int w = f.y.cols & ~1, h = f.y.rows & ~1;
    i420.create(h * 3 / 2, w, CV_8UC1);
    f.y(cv::Rect(0, 0, w, h)).copyTo(i420.rowRange(0, h));
    const size_t quarter = size_t(w / 2) * size_t(h / 2);
    cv::Mat u(h / 2, w / 2, CV_8UC1, i420.ptr(h));
    cv::Mat v(h / 2, w / 2, CV_8UC1, i420.ptr(h) + quarter);
    f.u(cv::Rect(0, 0, w / 2, h / 2)).copyTo(u);
    f.v(cv::Rect(0, 0, w / 2, h / 2)).copyTo(v);
    index = f.index;
  }
};

Result<std::filesystem::path> write_keyframe(const HeldFrame& held, const DriveOptions& o) {
  char name[48];
  std::snprintf(name, sizeof name, "frame_%08lld.jpg", static_cast<long long>(held.index));
  const auto path = o.keyframe_dir / name;
  cv::Mat bgr;
  cv::cvtColor(held.i420, bgr, cv::COLOR_YUV2BGR_I420);
  if (!cv::imwrite(path.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, o.jpeg_quality}))
    return Status::IOError(path.string() + ": cannot write keyframe");
  return path;
}

}  // namespace

Result<DriveResult> analyze_drive(const media::Source& source, const DriveOptions& options,
                                  const ProgressFn& progress) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto opened = media::FrameReader::open(source, options.reader);
  if (!opened.ok()) return opened.status();
  media::FrameReader& reader = **opened;

  vision::FrameAnalyzer analyzer(options.analysis_width);
  vision::KeyframeSelector selector(options.selector);
  HeldFrame held;
  DriveResult result;
  auto last_report = started;

  // A keyframe is the held frame, or the current one when the step that
  // makes it the best candidate also closes its window.
  auto apply = [&](const vision::SelectorStep& step, const media::DecodedFrame* current) -> Status {
    for (const auto& k : step.selected) {
      if (k.index != held.index && current && k.index == current->index) held.take(*current);
      if (k.index != held.index) return Status::Internal("selector chose a frame that was not held");
      auto path = write_keyframe(held, options);
      if (!path.ok()) return path.status();
      result.keyframes.push_back({k, path.value()});
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
    if (step.hold && held.index != frame.index) held.take(frame);
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

  result.stream = reader.info();
  if (result.stream.fps > 0 && !options.reader.keyframes_only) result.media_s += 1.0 / result.stream.fps;
  if (result.stream.duration_s > 0 && !result.stopped) result.media_s = std::max(result.media_s, result.stream.duration_s);
  result.dropped = reader.dropped();
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace dashloop::pipeline
