// Haar/LBP cascades (Debian opencv-data) on the equalised grey frame: one
// class per cascade file, named after it (faces, Russian number plates).
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {
class CascadeDetector final : public Detector {
 public:
  CascadeDetector(std::vector<cv::CascadeClassifier> cascades, std::vector<std::string> labels, int min_size,
                  float min_score)
      : cascades_(std::move(cascades)), labels_(std::move(labels)), min_size_(min_size), min_score_(min_score) {}
  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, gray);
    std::vector<Detection> out;
    for (size_t c = 0; c < cascades_.size(); ++c) {
      std::vector<cv::Rect> rects;
      std::vector<int> neighbours;
      cascades_[c].detectMultiScale(gray, rects, neighbours, 1.1, 3, 0, {min_size_, min_size_});
      for (size_t i = 0; i < rects.size(); ++i) {
        // More agreeing neighbour windows, more confidence: 3 -> 0.6, 10 -> 0.83.
        const float score = static_cast<float>(neighbours[i]) / static_cast<float>(neighbours[i] + 2);
        if (score >= min_score_) out.push_back({cv::Rect2f(rects[i]), static_cast<int>(c), score});
      }
    }
    return out;
  }
  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override {
    std::string s = "cascade:";
    for (size_t i = 0; i < labels_.size(); ++i) s += (i ? "," : "") + labels_[i];
    return s;
  }

 private:
  std::vector<cv::CascadeClassifier> cascades_;
  std::vector<std::string> labels_;
  int min_size_;
  float min_score_;
};

}  // namespace

Result<std::unique_ptr<Detector>> make_cascade(const DetectorConfig& config) {
  namespace fs = std::filesystem;
  if (config.cascades.empty()) return Status::InvalidArgument("detector.cascades: name at least one cascade file");
  std::vector<cv::CascadeClassifier> cascades;
  std::vector<std::string> labels;
  for (const auto& file : config.cascades) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      return Status::NotFound(file.string() + ": cascade file not found (Debian: apt-get install opencv-data)");
    cv::CascadeClassifier c;
    try {
      c.load(file.string());
    } catch (const cv::Exception&) {
    }
    if (c.empty()) return Status::InvalidArgument(file.string() + ": not a Haar or LBP cascade");
    cascades.push_back(std::move(c));
    std::string name = file.stem().string();
    for (const char* prefix : {"haarcascade_", "lbpcascade_"})
      if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
    labels.push_back(name);
  }
  return std::unique_ptr<Detector>(
      std::make_unique<CascadeDetector>(std::move(cascades), std::move(labels), config.cascade_min_size, config.min_score));
}

}  // namespace dashloop::pipeline::vision::detectors
