#include "vision/camera_motion.hpp"

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

namespace dashloop::pipeline::vision {

CameraMotion::CameraMotion(CameraMotionConfig config) : config_(config) {}

cv::Matx23f CameraMotion::estimate(const cv::Mat& gray, std::span<const cv::Rect2f> exclude) {
  const cv::Matx23f identity(1, 0, 0, 0, 1, 0);
  cv::Mat small;
  const double scale = gray.cols > config_.work_width ? static_cast<double>(config_.work_width) / gray.cols : 1.0;
  if (scale < 1.0) cv::resize(gray, small, {}, scale, scale, cv::INTER_AREA);
  else small = gray.clone();

  cv::Matx23f result = identity;
  if (!prev_.empty() && prev_.size() == small.size() && prev_points_.size() >= 4) {
    std::vector<cv::Point2f> next;
    std::vector<unsigned char> found;
    std::vector<float> error;
    cv::calcOpticalFlowPyrLK(prev_, small, prev_points_, next, found, error, cv::Size(21, 21), 3);
    std::vector<cv::Point2f> from, to;
    for (size_t i = 0; i < found.size(); ++i)
      if (found[i]) from.push_back(prev_points_[i]), to.push_back(next[i]);
    if (static_cast<int>(from.size()) >= config_.min_inliers) {
      std::vector<unsigned char> inliers;
      cv::Mat m = cv::estimateAffinePartial2D(from, to, inliers, cv::RANSAC, 3.0);
      const int count = cv::countNonZero(inliers);
      if (!m.empty() && count >= config_.min_inliers) {
        result = cv::Matx23f(m);
        result(0, 2) = static_cast<float>(result(0, 2) / scale);  // back to full-size pixels
        result(1, 2) = static_cast<float>(result(1, 2) / scale);
      }
    }
  }

  cv::Mat mask(small.size(), CV_8U, cv::Scalar(255));
  for (const auto& r : exclude) {
    const cv::Rect box(cv::Point(cvRound(r.x * scale), cvRound(r.y * scale)),
                       cv::Size(cvRound(r.width * scale), cvRound(r.height * scale)));
    mask(box & cv::Rect(0, 0, mask.cols, mask.rows)).setTo(0);
  }
  cv::goodFeaturesToTrack(small, prev_points_, config_.max_corners, 0.01, 8, mask, 3);
  prev_ = std::move(small);
  return result;
}

}  // namespace dashloop::pipeline::vision
