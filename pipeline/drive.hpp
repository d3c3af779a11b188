// Drive analysis: the small driver that joins media (decode) and vision
// (scores, selection) for one drive, and writes the chosen keyframes as
// full-resolution JPEGs into a directory the caller names.
//
// Blocking; runs in the calling thread while GStreamer decodes on its own.
// Errors name the source. No catalog, no bus: the caller stores the result.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "media/frame_reader.hpp"
#include "media/source.hpp"
#include "status.hpp"
#include "tracking_worker.hpp"
#include "vision/keyframe_selector.hpp"

namespace dashloop::pipeline {

struct DriveOptions {
  media::ReaderOptions reader;
  int analysis_width = 640;
  vision::SelectorConfig selector;
  std::filesystem::path keyframe_dir;  // must exist
  int jpeg_quality = 90;
  // Set from another thread to end the drive early: what was analysed so far
  // is the result (a live camera's recording ends when the operator says so).
  const std::atomic<bool>* stop = nullptr;
  // Detection and tracking; detector.kind "none" turns both off.
  TrackingOptions tracking;
  // Sees every frame's scores (diagnostics, tests); may be empty.
  std::function<void(const vision::FrameScores&)> on_scores;
};

struct DriveProgress {
  int64_t frames = 0;
  double position_s = 0.0;
  double duration_s = -1.0;
  double elapsed_s = 0.0;
};

struct SelectedKeyframe {
  vision::Keyframe keyframe;
  std::filesystem::path image;  // inside keyframe_dir
};

struct DriveResult {
  media::StreamInfo stream;
  int64_t frames = 0;       // analysed
  int64_t dropped = 0;      // skipped by a live source while we were behind
  double media_s = 0.0;     // seconds of video covered
  double elapsed_s = 0.0;   // wall time
  bool stopped = false;     // ended by DriveOptions::stop, not by the stream
  std::vector<SelectedKeyframe> keyframes;
  std::optional<TrackingResult> objects;  // when a detector ran
};

using ProgressFn = std::function<void(const DriveProgress&)>;

Result<DriveResult> analyze_drive(const media::Source& source, const DriveOptions& options,
                                  const ProgressFn& progress = {});

}  // namespace dashloop::pipeline
