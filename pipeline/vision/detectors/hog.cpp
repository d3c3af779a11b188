// OpenCV's HOG + linear SVM pedestrian detector (Dalal-Triggs): person only,
// upright and at least 64x128 px at the detector's width.
#include <cmath>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {
float squash(double margin) { return static_cast<float>(1.0 / (1.0 + std::exp(-2.0 * margin))); }

class HogPeopleDetector final : public Detector {
 public:
  HogPeopleDetector(float min_score) : min_score_(min_score) {
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }
  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    std::vector<cv::Rect> rects;
    std::vector<double> weights;
    hog_.detectMultiScale(bgr, rects, weights, 0.0, {8, 8}, {8, 8}, 1.05, 2.0);
    std::vector<Detection> out;
    for (size_t i = 0; i < rects.size(); ++i) {
      // SVM margin to [0,1]: 0 -> 0.5, 1 -> 0.88.
      const float score = squash(weights[i]);
      if (score >= min_score_) out.push_back({cv::Rect2f(rects[i]), 0, score});
    }
    return out;
  }
  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override { return "hog-people"; }

 private:
  cv::HOGDescriptor hog_;
  float min_score_;
  std::vector<std::string> labels_ = {"person"};
};

}  // namespace

Result<std::unique_ptr<Detector>> make_hog(const DetectorConfig& config) {
  return std::unique_ptr<Detector>(std::make_unique<HogPeopleDetector>(config.min_score));
}

}  // namespace dashloop::pipeline::vision::detectors
