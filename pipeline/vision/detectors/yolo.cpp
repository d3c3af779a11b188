// YOLO-family models through OpenCV DNN, three output layouts:
//  * YOLOv5 [1, N, 5 + C]: cx, cy, w, h in input pixels, objectness, class
//    scores; input RGB / 255, letterboxed in the centre.
//  * YOLOv8 [1, 4 + C, N]: the same without objectness, transposed.
//  * YOLOX  [1, N, 5 + C] with N = sum of (S / s)^2 for strides s = 8, 16, 32
//    (anchor-free, one candidate a cell; each grid row by row, x fastest):
//    centre = (tx + cell x, ty + cell y) * s, size = exp(tw, th) * s;
//    objectness and classes already sigmoid; input BGR 0-255 as it is,
//    letterboxed into the top-left corner (Megvii's preprocessing).
// "auto" tells v8 by its transposed shape and YOLOX from v5 by N: YOLOv5 has
// three anchors a cell, so 3x as many candidates for the same input size.
#include <cmath>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {

enum class Layout { kV5, kV8, kX };

int yolox_cells(int size) {
  int n = 0;
  for (int s : {8, 16, 32}) n += (size / s) * (size / s);
  return n;
}

class YoloDetector final : public Detector {
 public:
  YoloDetector(cv::dnn::Net net, std::vector<std::string> labels, ClassFilter filter, DetectorConfig config,
               std::string device)
      : net_(std::move(net)), labels_(std::move(labels)), filter_(std::move(filter)), config_(std::move(config)),
        device_(std::move(device)) {}

  // Decides the layout from the first output ("auto") and checks it fits.
  Status probe() {
    const cv::Mat blank(config_.input_size, config_.input_size, CV_8UC3, cv::Scalar(0, 0, 0));
    auto out = forward(blank, nullptr);
    if (!out.ok()) return out.status();
    auto layout = layout_of(*out);
    if (!layout.ok()) return layout.status();
    layout_ = *layout;
    return Status::Ok();
  }

  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    Letterbox lb;
    auto out = forward(bgr, &lb);
    if (!out.ok()) return out.status();
    if (auto layout = layout_of(*out); !layout.ok() || *layout != layout_)
      return layout.ok() ? Status::Internal(describe() + ": output layout changed") : layout.status();
    std::vector<Detection> found = layout_ == Layout::kX ? decode_yolox(*out) : decode_v5_v8(*out);
    std::vector<Detection> kept;
    for (auto& d : found) {
      d.box = cv::Rect2f((d.box.x - lb.pad_x) / lb.scale, (d.box.y - lb.pad_y) / lb.scale, d.box.width / lb.scale,
                         d.box.height / lb.scale);
      d.box &= cv::Rect2f(0, 0, float(bgr.cols), float(bgr.rows));
      if (d.box.area() > 0 && filter_.keep(d)) kept.push_back(d);
    }
    return suppress_across_classes(nms_by_class(kept, 0.0f, config_.nms_iou), config_.cross_class_iou);
  }

  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override {
    static constexpr const char* kNames[] = {"yolov5", "yolov8", "yolox"};
    return "onnx:" + config_.model.filename().string() + " (" + kNames[int(layout_)] + ", " +
           std::to_string(config_.input_size) + "x" + std::to_string(config_.input_size) + ") on " + device_;
  }

 private:
  struct Letterbox {
    double scale = 1;
    int pad_x = 0, pad_y = 0;
  };

  bool yolox_input() const { return config_.format == "yolox" || (config_.format == "auto" && layout_ == Layout::kX); }

  Result<cv::Mat> forward(const cv::Mat& bgr, Letterbox* lb) {
    const int size = config_.input_size;
    const double scale = std::min(double(size) / bgr.cols, double(size) / bgr.rows);
    const int w = int(std::round(bgr.cols * scale)), h = int(std::round(bgr.rows * scale));
    const bool x = yolox_input();
    const int pad_x = x ? 0 : (size - w) / 2, pad_y = x ? 0 : (size - h) / 2;
    cv::Mat letterbox(size, size, CV_8UC3, cv::Scalar(114, 114, 114));
    cv::resize(bgr, letterbox(cv::Rect(pad_x, pad_y, w, h)), {w, h}, 0, 0, cv::INTER_LINEAR);
    if (lb) *lb = {scale, pad_x, pad_y};
    net_.setInput(x ? cv::dnn::blobFromImage(letterbox, 1.0, {}, {}, /*swapRB=*/false, false)
                    : cv::dnn::blobFromImage(letterbox, 1.0 / 255.0, {}, {}, /*swapRB=*/true, false));
    try {
      return net_.forward();
    } catch (const cv::Exception& e) {
      return Status::Internal(describe() + ": inference failed: " + e.what());
    }
  }

  Result<Layout> layout_of(const cv::Mat& out) const {
    const int c = int(labels_.size());
    const bool rows_of_5c = out.dims == 3 && out.size[0] == 1 && out.size[2] == 5 + c;
    if (config_.format == "yolox" && rows_of_5c && out.size[1] == yolox_cells(config_.input_size)) return Layout::kX;
    if (config_.format == "yolov5" && rows_of_5c) return Layout::kV5;
    if (config_.format == "auto" && rows_of_5c)
      return out.size[1] == yolox_cells(config_.input_size) ? Layout::kX : Layout::kV5;
    if ((config_.format == "yolov8" || config_.format == "auto") && out.dims == 3 && out.size[0] == 1 &&
        out.size[1] == 4 + c)
      return Layout::kV8;
    const std::string n = std::to_string(yolox_cells(config_.input_size));
    return Status::InvalidArgument(config_.model.string() + ": model output is " + shape_of(out) + "; expected [1,N," +
                                   std::to_string(5 + c) + "] (YOLOv5) or [1," + std::to_string(4 + c) +
                                   ",N] (YOLOv8) for the " + std::to_string(c) + " classes in " +
                                   config_.labels.string() + ", or [1," + n + "," + std::to_string(5 + c) +
                                   "] (YOLOX at input_size " + std::to_string(config_.input_size) +
                                   "); detector.format is " + config_.format);
  }

  int best_class(const float* scores, int step) const {
    int best = 0;
    for (int k = 1; k < int(labels_.size()); ++k)
      if (scores[size_t(k) * step] > scores[size_t(best) * step]) best = k;
    return best;
  }

  std::vector<Detection> decode_v5_v8(const cv::Mat& out) const {
    const bool v8 = layout_ == Layout::kV8;
    const int n = v8 ? out.size[2] : out.size[1];
    const int stride = v8 ? 1 : out.size[2];  // from one candidate to the next
    const int step = v8 ? out.size[2] : 1;    // from one field of a candidate to the next
    const float* data = out.ptr<float>();
    std::vector<Detection> found;
    for (int i = 0; i < n; ++i) {
      const float* c = data + size_t(i) * stride;
      auto field = [&](int k) { return c[size_t(k) * step]; };
      const int first_class = v8 ? 4 : 5;
      const int best = best_class(c + size_t(first_class) * step, step);
      const float score = (v8 ? 1.0f : field(4)) * field(first_class + best);
      if (score < config_.min_score) continue;
      const float cx = field(0), cy = field(1), bw = field(2), bh = field(3);
      found.push_back({cv::Rect2f(cx - bw / 2, cy - bh / 2, bw, bh), best, score});
    }
    return found;
  }

  std::vector<Detection> decode_yolox(const cv::Mat& out) const {
    const int fields = out.size[2];
    const float* data = out.ptr<float>();
    std::vector<Detection> found;
    int i = 0;
    for (int s : {8, 16, 32}) {
      const int grid = config_.input_size / s;
      for (int gy = 0; gy < grid; ++gy)
        for (int gx = 0; gx < grid; ++gx, ++i) {
          const float* c = data + size_t(i) * fields;
          const int best = best_class(c + 5, 1);
          const float score = c[4] * c[5 + best];
          if (score < config_.min_score) continue;
          const float cx = (c[0] + float(gx)) * float(s), cy = (c[1] + float(gy)) * float(s);
          const float w = std::exp(c[2]) * float(s), h = std::exp(c[3]) * float(s);
          found.push_back({cv::Rect2f(cx - w / 2, cy - h / 2, w, h), best, score});
        }
    }
    return found;
  }

  cv::dnn::Net net_;
  std::vector<std::string> labels_;
  ClassFilter filter_;
  DetectorConfig config_;
  std::string device_;
  Layout layout_ = Layout::kV5;
};

}  // namespace

Result<std::unique_ptr<Detector>> make_yolo(const DetectorConfig& config) {
  namespace fs = std::filesystem;
  if (config.model.empty()) return Status::InvalidArgument("detector.model: the onnx detector needs a model file");
  std::error_code ec;
  if (!fs::is_regular_file(config.model, ec)) return Status::NotFound(config.model.string() + ": model file not found");
  if (config.format != "auto" && config.format != "yolov5" && config.format != "yolov8" && config.format != "yolox")
    return Status::InvalidArgument("detector.format must be auto, yolov5, yolov8 or yolox, got '" + config.format + "'");
  if (config.format == "yolox" && config.input_size % 32 != 0)
    return Status::InvalidArgument("detector.input_size: YOLOX needs a multiple of 32, got " +
                                   std::to_string(config.input_size));
  auto labels = read_labels(config.labels);
  if (!labels.ok()) return labels.status();
  auto filter = ClassFilter::make(config, *labels);
  if (!filter.ok()) return filter.status();
  auto loaded = load_onnx(config.model);
  if (!loaded.ok()) return loaded.status();
  cv::dnn::Net net = std::move(*loaded);

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
  auto detector = std::make_unique<YoloDetector>(std::move(net), std::move(*labels), std::move(*filter), config, device);
  // Run once on a blank frame: a wrong-shaped model fails here, at start, not mid-drive.
  if (Status st = detector->probe(); !st.ok()) return st;
  return std::unique_ptr<Detector>(std::move(detector));
}

}  // namespace dashloop::pipeline::vision::detectors
