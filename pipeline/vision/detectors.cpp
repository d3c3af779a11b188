#include "vision/detectors.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/video/background_segm.hpp>

namespace dashloop::pipeline::vision {
namespace {

namespace fs = std::filesystem;

std::string shape_of(const cv::Mat& m) {
  std::ostringstream s;  // not string + to_string: GCC 12 -O3 warns falsely (-Wrestrict, PR 105329)
  s << '[';
  for (int i = 0; i < m.dims; ++i) s << (i ? "," : "") << m.size[i];
  s << ']';
  return s.str();
}

Result<std::vector<std::string>> read_labels(const fs::path& path) {
  if (path.empty()) return Status::InvalidArgument("detector.labels: the onnx detector needs a labels file (one class name per line)");
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + ": cannot read labels file");
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) labels.push_back(line);
  }
  if (labels.empty()) return Status::InvalidArgument(path.string() + ": labels file has no class names");
  return labels;
}

// Class-wise non-maximum suppression (OpenCV 4.6 has no NMSBoxesBatched).
std::vector<Detection> nms_by_class(const std::vector<Detection>& in, float score, float iou_limit) {
  struct ClassBoxes {
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    std::vector<size_t> index;  // into `in`
  };
  std::map<int, ClassBoxes> by_class;
  for (size_t i = 0; i < in.size(); ++i) {
    auto& c = by_class[in[i].class_id];
    c.boxes.emplace_back(in[i].box);
    c.scores.push_back(in[i].score);
    c.index.push_back(i);
  }
  std::vector<Detection> out;
  for (const auto& [cls, c] : by_class) {
    std::vector<int> keep;
    cv::dnn::NMSBoxes(c.boxes, c.scores, score, iou_limit, keep);
    for (int k : keep) out.push_back(in[c.index[k]]);
  }
  std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  return out;
}

class OnnxDetector final : public Detector {
 public:
  OnnxDetector(cv::dnn::Net net, std::vector<std::string> labels, DetectorConfig config, std::string device)
      : net_(std::move(net)), labels_(std::move(labels)), config_(std::move(config)), device_(std::move(device)) {}

  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    const int size = config_.input_size;
    const double scale = std::min(static_cast<double>(size) / bgr.cols, static_cast<double>(size) / bgr.rows);
    const int w = static_cast<int>(std::round(bgr.cols * scale)), h = static_cast<int>(std::round(bgr.rows * scale));
    const int pad_x = (size - w) / 2, pad_y = (size - h) / 2;
    cv::Mat letterbox(size, size, CV_8UC3, cv::Scalar(114, 114, 114));
    cv::resize(bgr, letterbox(cv::Rect(pad_x, pad_y, w, h)), {w, h}, 0, 0, cv::INTER_LINEAR);
    net_.setInput(cv::dnn::blobFromImage(letterbox, 1.0 / 255.0, {}, {}, /*swapRB=*/true, false));
    cv::Mat out;
    try {
      out = net_.forward();
    } catch (const cv::Exception& e) {
      return Status::Internal(describe() + ": inference failed: " + e.what());
    }
    auto layout = check_output(out);
    if (!layout.ok()) return layout.status();
    const bool v8 = *layout;
    const int classes = static_cast<int>(labels_.size());
    const int n = v8 ? out.size[2] : out.size[1];
    const int stride = v8 ? 1 : out.size[2];  // from one candidate to the next
    const int step = v8 ? out.size[2] : 1;    // from one field of a candidate to the next
    const int first_class = v8 ? 4 : 5;
    const float* data = out.ptr<float>();
    std::vector<Detection> found;
    for (int i = 0; i < n; ++i) {
      const float* c = data + static_cast<size_t>(i) * stride;
      auto field = [&](int k) { return c[static_cast<size_t>(k) * step]; };
      const float objectness = v8 ? 1.0f : field(4);
      int best = 0;
      for (int k = 1; k < classes; ++k)
        if (field(first_class + k) > field(first_class + best)) best = k;
      const float score = objectness * field(first_class + best);
      if (score < config_.min_score) continue;
      const float cx = field(0), cy = field(1), bw = field(2), bh = field(3);
      cv::Rect2f box((cx - bw / 2 - pad_x) / scale, (cy - bh / 2 - pad_y) / scale, bw / scale, bh / scale);
      box &= cv::Rect2f(0, 0, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
      if (box.area() <= 0) continue;
      found.push_back({box, best, score});
    }
    return nms_by_class(found, config_.min_score, config_.nms_iou);
  }

  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override { return "onnx:" + config_.model.string() + " on " + device_; }

  // true: YOLOv8 layout [1, 4+C, N]; false: YOLOv5 [1, N, 5+C].
  Result<bool> check_output(const cv::Mat& out) const {
    const int c = static_cast<int>(labels_.size());
    if (out.dims == 3 && out.size[0] == 1 && out.size[2] == 5 + c) return false;
    if (out.dims == 3 && out.size[0] == 1 && out.size[1] == 4 + c) return true;
    return Status::InvalidArgument(config_.model.string() + ": model output is " + shape_of(out) + "; expected [1,N," +
                                   std::to_string(5 + c) + "] (YOLOv5) or [1," + std::to_string(4 + c) +
                                   ",N] (YOLOv8) for the " + std::to_string(c) + " classes in " +
                                   config_.labels.string());
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> labels_;
  DetectorConfig config_;
  std::string device_;
};

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

Result<std::unique_ptr<Detector>> make_onnx(const DetectorConfig& config) {
  if (config.model.empty()) return Status::InvalidArgument("detector.model: the onnx detector needs a model file");
  std::error_code ec;
  if (!fs::is_regular_file(config.model, ec))
    return Status::NotFound(config.model.string() + ": model file not found");
  auto labels = read_labels(config.labels);
  if (!labels.ok()) return labels.status();
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(config.model.string());
  } catch (const cv::Exception& e) {
    return Status::InvalidArgument(config.model.string() + ": not a loadable ONNX model (" + e.err + ")");
  }
  if (net.empty()) return Status::InvalidArgument(config.model.string() + ": not a loadable ONNX model");

  std::string device = "cpu";
  if (config.backend == "cuda") {
    const auto targets = cv::dnn::getAvailableTargets(cv::dnn::DNN_BACKEND_CUDA);
    const auto want = config.target == "cuda_fp16" ? cv::dnn::DNN_TARGET_CUDA_FP16 : cv::dnn::DNN_TARGET_CUDA;
    if (std::find(targets.begin(), targets.end(), want) != targets.end()) {
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_CUDA);
      net.setPreferableTarget(want);
      device = config.target;
    } else {
      device = "cpu (this OpenCV has no CUDA backend)";
    }
  }
  auto detector = std::make_unique<OnnxDetector>(std::move(net), std::move(*labels), config, device);
  // Run once on a blank frame: a wrong-shaped model fails here, at start, not mid-drive.
  const cv::Mat probe(config.input_size, config.input_size, CV_8UC3, cv::Scalar(0, 0, 0));
  auto first = detector->detect(probe);
  if (!first.ok()) return first.status();
  return std::unique_ptr<Detector>(std::move(detector));
}

Result<std::unique_ptr<Detector>> make_cascade(const DetectorConfig& config) {
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

}  // namespace

std::string score_scale_of(const std::string& d) {
  if (d.starts_with("onnx")) return "probability: objectness x class score (YOLOv5) or class score (YOLOv8)";
  if (d.starts_with("hog-people")) return "1 / (1 + e^(-2m)) of the HOG SVM margin m: 0.5 at the SVM's boundary";
  if (d.starts_with("cascade")) return "n / (n + 2), n = agreeing neighbour windows of the cascade";
  if (d.starts_with("motion")) return "0.4 + 0.6 x the share of its box the moving blob fills";
  return "none";
}

Result<std::unique_ptr<Detector>> make_detector(const DetectorConfig& config) {
  if (config.kind == "onnx") return make_onnx(config);
  if (config.kind == "hog-people")
    return std::unique_ptr<Detector>(std::make_unique<HogPeopleDetector>(config.min_score));
  if (config.kind == "cascade") return make_cascade(config);
  if (config.kind == "motion") {
    cv::Ptr<cv::BackgroundSubtractor> model;
    if (config.motion_method == "mog2") model = cv::createBackgroundSubtractorMOG2(500, 16, true);
    else if (config.motion_method == "knn") model = cv::createBackgroundSubtractorKNN(500, 400, true);
    else return Status::InvalidArgument("detector.motion_method must be mog2 or knn, got '" + config.motion_method + "'");
    return std::unique_ptr<Detector>(std::make_unique<MotionDetector>(std::move(model), config));
  }
  return Status::InvalidArgument("detector.kind must be onnx, hog-people, cascade or motion, got '" + config.kind + "'");
}

}  // namespace dashloop::pipeline::vision
