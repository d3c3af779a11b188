// Per-frame measurements for keyframe selection, from I420 planes.
//
// FrameAnalyzer downsizes a frame once to the analysis width and measures:
//   content    mean absolute change of Y, U and V against the previous frame,
//              0..255, on a small copy (the PySceneDetect "content" idea in
//              the decoder's own colour space: no colour conversion)
//   sharpness  variance of the Laplacian of the luma at analysis size (only
//              when asked for: the selector needs it in its windows alone)
//   exposure   mean luma and the fractions of near-black and blown-out pixels
//   dhash      64-bit difference hash of the luma (near-duplicate checks)
// No I/O, no GStreamer. One analyzer per stream; not thread-safe.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>

namespace dashloop::pipeline::vision {

struct FrameScores {
  int64_t index = 0;
  double t_s = 0.0;
  double content = 0.0;
  double sharpness = -1.0;  // -1: not measured
  double brightness = 0.0;
  double dark_fraction = 0.0;
  double bright_fraction = 0.0;
  uint64_t dhash = 0;
  cv::Mat thumb;  // small Y|U|V image: compared across frames for transients

  // Picture quality for choosing among neighbours: sharp and well exposed.
  double quality() const;
  // Nearly all black or blown out, or without any detail.
  bool unusable() const { return dark_fraction > 0.9 || bright_fraction > 0.9 || sharpness < 1.0; }
};

// Mean absolute difference of two thumbnails, on the same scale as content.
double thumb_distance(const cv::Mat& a, const cv::Mat& b);

// Luma distance of two thumbnails after undoing the global shift between them
// (phase correlation): what changed besides the camera panning.
double aligned_distance(const cv::Mat& a, const cv::Mat& b);

// How much the picture's structure changed: the luma distance of two
// thumbnails after undoing the global shift between them (phase correlation)
// and each one's gain and offset (zero mean, a spread of 40 grey levels).
// An exposure step, a tunnel exit's gain change or a shaken, re-settled
// camera leave it near the noise; a new shot moves it to about 45.
double structure_distance(const cv::Mat& a, const cv::Mat& b);

// `moving` shifted by the global translation that best lays it onto `fixed`
// (the luma part decides; edges are replicated).
cv::Mat align_to(const cv::Mat& moving, const cv::Mat& fixed);

int hamming(uint64_t a, uint64_t b);

class FrameAnalyzer {
 public:
  explicit FrameAnalyzer(int analysis_width = 640) : analysis_width_(analysis_width) {}

  // y is WxH, u and v are ceil(W/2) x ceil(H/2). Without sharpness, the
  // score is -1 until measure_sharpness() fills it in.
  FrameScores analyze(int64_t index, double t_s, const cv::Mat& y, const cv::Mat& u, const cv::Mat& v,
                      bool with_sharpness = true);
  double measure_sharpness(const cv::Mat& y);

 private:
  void shrink(const cv::Mat& src, cv::Mat& dst);

  int analysis_width_;
  cv::Mat small_y_, mid_, lap_;
  cv::Mat prev_thumb_;
};

}  // namespace dashloop::pipeline::vision
