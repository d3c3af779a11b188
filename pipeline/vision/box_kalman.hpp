// Constant-velocity Kalman filter over a box: state (cx, cy, w, h) and their
// velocities per step, with ByteTrack's noise model (standard deviations in
// proportion to the box size, so near and far objects are treated alike).
//
// The same equations as cv::KalmanFilter, on fixed-size cv::Matx: the
// tracker runs one per object per frame, and cv::KalmanFilter's dynamic
// cv::Mat arithmetic costs 3.4 us per predict+correct here against a budget
// of 2 us per object at 10,000 frames/s with 50 objects (vision_bench
// BM_CvKalmanFilter / BM_BoxKalman measure both).
#pragma once

#include <opencv2/core/matx.hpp>
#include <opencv2/core/types.hpp>

namespace dashloop::pipeline::vision {

class BoxKalman {
 public:
  using State = cv::Matx<float, 8, 1>;
  using Cov = cv::Matx<float, 8, 8>;

  explicit BoxKalman(const cv::Rect2f& box);

  void predict();
  void correct(const cv::Rect2f& measured);
  // Camera motion compensation: the previous image maps to the current one
  // by x' = A x + t; move the state (and its uncertainty) with it.
  void warp(const cv::Matx23f& motion);

  cv::Rect2f box() const;
  const State& state() const { return x_; }

 private:
  State x_;
  Cov p_;
};

}  // namespace dashloop::pipeline::vision
