// Background subtraction (MOG2 or KNN) and blob filtering: fixed cameras
// only, since a moving camera moves the whole background.
#include <opencv2/video/background_segm.hpp>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {
class MotionDetector final : public Detector {
 public:
  MotionDetector(cv::Ptr<cv::BackgroundSubtractor> model, const DetectorConfig& config)
      : model_(std::move(model)), min_area_(config.motion_min_area), warmup_(config.motion_warmup),
        method_(config.motion_method) {}
  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    cv::Mat mask;
    model_->apply(bgr, mask);
    if (++frames_ <= warmup_) return std::vector<Detection>{};
    // 255 = foreground, 127 = shadow (MOG2/KNN): shadows are not objects.
    cv::threshold(mask, mask, 200, 255, cv::THRESH_BINARY);
    const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5});
    cv::morphologyEx(mask, mask, cv::MORPH_OPEN, kernel);
    cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, kernel, {-1, -1}, 2);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    const double min_area = min_area_ * bgr.cols * bgr.rows;
    std::vector<Detection> out;
    for (const auto& c : contours) {
      const cv::Rect r = cv::boundingRect(c);
      if (r.area() < min_area) continue;
      // Score: how solidly the blob fills its box (a person, a car) vs. noise.
      const float fill = static_cast<float>(cv::countNonZero(mask(r))) / static_cast<float>(r.area());
      out.push_back({cv::Rect2f(r), 0, std::clamp(0.4f + 0.6f * fill, 0.0f, 1.0f)});
    }
    return out;
  }
  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override { return "motion:" + method_; }

 private:
  cv::Ptr<cv::BackgroundSubtractor> model_;
  double min_area_;
  int warmup_;
  std::string method_;
  int frames_ = 0;
  std::vector<std::string> labels_ = {"moving"};
};

}  // namespace

Result<std::unique_ptr<Detector>> make_motion(const DetectorConfig& config) {
  cv::Ptr<cv::BackgroundSubtractor> model;
  if (config.motion_method == "mog2") model = cv::createBackgroundSubtractorMOG2(500, 16, true);
  else if (config.motion_method == "knn") model = cv::createBackgroundSubtractorKNN(500, 400, true);
  else return Status::InvalidArgument("detector.motion_method must be mog2 or knn, got '" + config.motion_method + "'");
  return std::unique_ptr<Detector>(std::make_unique<MotionDetector>(std::move(model), config));
}

}  // namespace dashloop::pipeline::vision::detectors
