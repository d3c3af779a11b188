// Global (camera) motion between consecutive frames, as BoT-SORT's sparse
// GMC does: corners in the previous frame, pyramidal Lucas-Kanade flow into
// the current one, and a RANSAC similarity fit (rotation, scale,
// translation), so moving objects count as outliers. Boxes of detected
// objects can be masked out too.
//
// Feed every frame the tracker steps on, in order, as 8-bit grey.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/matx.hpp>
#include <opencv2/core/types.hpp>

namespace dashloop::pipeline::vision {

struct CameraMotionConfig {
  int work_width = 480;  // the estimate is made at this width (speed), then scaled back
  int max_corners = 300;
  int min_inliers = 12;  // fewer and the frame is taken as unmoved
};

class CameraMotion {
 public:
  explicit CameraMotion(CameraMotionConfig config = {});
  // Maps the previous frame's pixels onto `gray`'s: x' = A x + t. Identity
  // on the first frame or when too few points agree (a blank sky, a cut).
  cv::Matx23f estimate(const cv::Mat& gray, std::span<const cv::Rect2f> exclude = {});

 private:
  CameraMotionConfig config_;
  cv::Mat prev_;
  std::vector<cv::Point2f> prev_points_;
};

}  // namespace dashloop::pipeline::vision
