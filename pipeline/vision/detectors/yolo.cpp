// YOLO-family models through OpenCV DNN, three output layouts:
//  * YOLOv5 [1, N, 5 + C]: cx, cy, w, h in input pixels, objectness, class
//    scores; input RGB / 255, letterboxed in the centre.
//  * YOLOv8 [1, 4 + C, N]: the same without objectness, transposed.
//  * YOLOX  [1, N, 5 + C] with N = sum of (S / s)^2 for strides s = 8, 16, 32
//    (anchor-free, one candidate a cell; each grid row by row, x fastest):
//    centre = (tx + cell x, ty + cell y) * s, size = exp(tw, th) * s;
//    objectness and classes already sigmoid; input BGR 0-255 as it is,
//    letterboxed into the top-left corner (Megvii's preprocessing).
//  * NanoDet-Plus: six outputs, for strides 8, 16, 32 in turn class scores
//    [1, N, C] (already sigmoid) and box sides [1, N, 4 x 8] (a softmax over
//    8 bins a side; its expectation x s = the distance from the anchor
//    centre, (cell + 0.5 - 0.5 / s) * s, to the left, top, right, bottom);
//    input BGR, (pixel - mean) / std, letterboxed into the top-left corner.
// "auto" tells v8 by its transposed shape, NanoDet by its six outputs and
// YOLOX from v5 by N: YOLOv5 has three anchors a cell, so 3x as many
// candidates for the same input size.
#include <algorithm>
#include <cmath>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {

enum class Layout { kV5, kV8, kX, kNano };

constexpr int kStrides[] = {8, 16, 32};
constexpr int kNanoBins = 8;

int yolox_cells(int size) {
  int n = 0;
  for (int s : kStrides) n += (size / s) * (size / s);
  return n;
}

class YoloDetector final : public Detector {
 public:
  YoloDetector(cv::dnn::Net net, std::vector<std::string> labels, ClassFilter filter, DetectorConfig config,
               std::string device, bool nanodet)
      : net_(std::move(net)), labels_(std::move(labels)), filter_(std::move(filter)), config_(std::move(config)),
        device_(std::move(device)), nanodet_(nanodet) {}

  // Decides the layout from the first output ("auto") and checks it fits.
  Status probe() {
    const cv::Mat blank(config_.input_size, config_.input_size, CV_8UC3, cv::Scalar(0, 0, 0));
    if (nanodet_) {
      layout_ = Layout::kNano;
      auto outs = forward(blank, nullptr);
      if (!outs.ok()) return outs.status();
      return check_nanodet(*outs);
    }
    auto out = forward(blank, nullptr);
    if (!out.ok()) return out.status();
    auto layout = layout_of(out->front());
    if (!layout.ok()) return layout.status();
    layout_ = *layout;
    return Status::Ok();
  }

  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    Letterbox lb;
    auto out = forward(bgr, &lb);
    if (!out.ok()) return out.status();
    std::vector<Detection> found;
    if (layout_ == Layout::kNano) {
      found = decode_nanodet(*out);
    } else {
      if (auto layout = layout_of(out->front()); !layout.ok() || *layout != layout_)
        return layout.ok() ? Status::Internal(describe() + ": output layout changed") : layout.status();
      found = layout_ == Layout::kX ? decode_yolox(out->front()) : decode_v5_v8(out->front());
    }
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
    static constexpr const char* kNames[] = {"yolov5", "yolov8", "yolox", "nanodet"};
    return "onnx:" + config_.model.filename().string() + " (" + kNames[int(layout_)] + ", " +
           std::to_string(config_.input_size) + "x" + std::to_string(config_.input_size) + ") on " + device_;
  }

 private:
  struct Letterbox {
    double scale = 1;
    int pad_x = 0, pad_y = 0;
  };

  bool yolox_input() const { return config_.format == "yolox" || (config_.format == "auto" && layout_ == Layout::kX); }

  Result<std::vector<cv::Mat>> forward(const cv::Mat& bgr, Letterbox* lb) {
    const int size = config_.input_size;
    const double scale = std::min(double(size) / bgr.cols, double(size) / bgr.rows);
    const int w = int(std::round(bgr.cols * scale)), h = int(std::round(bgr.rows * scale));
    const bool corner = yolox_input() || nanodet_;
    const int pad_x = corner ? 0 : (size - w) / 2, pad_y = corner ? 0 : (size - h) / 2;
    cv::Mat letterbox(size, size, CV_8UC3, cv::Scalar(114, 114, 114));
    cv::resize(bgr, letterbox(cv::Rect(pad_x, pad_y, w, h)), {w, h}, 0, 0, cv::INTER_LINEAR);
    if (lb) *lb = {scale, pad_x, pad_y};
    if (nanodet_) {
      cv::Mat normalized;
      letterbox.convertTo(normalized, CV_32FC3);
      cv::subtract(normalized, cv::Scalar(103.53, 116.28, 123.675), normalized);
      cv::divide(normalized, cv::Scalar(57.375, 57.12, 58.395), normalized);
      net_.setInput(cv::dnn::blobFromImage(normalized, 1.0, {}, {}, /*swapRB=*/false, false));
    } else {
      net_.setInput(yolox_input() ? cv::dnn::blobFromImage(letterbox, 1.0, {}, {}, /*swapRB=*/false, false)
                                  : cv::dnn::blobFromImage(letterbox, 1.0 / 255.0, {}, {}, /*swapRB=*/true, false));
    }
    try {
      std::vector<cv::Mat> outs;
      net_.forward(outs, net_.getUnconnectedOutLayersNames());
      return outs;
    } catch (const cv::Exception& e) {
      return Status::Internal(describe() + ": inference failed: " + e.what());
    }
  }

  // A stride's class and box outputs, found by their shapes: [1, N, C] and [1, N, 32].
  struct NanoLevel {
    int stride = 0;
    const cv::Mat* classes = nullptr;
    const cv::Mat* boxes = nullptr;
  };
  std::vector<NanoLevel> nano_levels(const std::vector<cv::Mat>& outs) const {
    std::vector<NanoLevel> levels;
    for (int s : kStrides) {
      const int n = (config_.input_size / s) * (config_.input_size / s);
      NanoLevel level{s, nullptr, nullptr};
      for (const auto& o : outs)
        if (o.dims == 3 && o.size[0] == 1 && o.size[1] == n) {
          if (o.size[2] == int(labels_.size())) level.classes = &o;
          else if (o.size[2] == 4 * kNanoBins) level.boxes = &o;
        }
      levels.push_back(level);
    }
    return levels;
  }

  Status check_nanodet(const std::vector<cv::Mat>& outs) const {
    for (const auto& level : nano_levels(outs))
      if (!level.classes || !level.boxes) {
        std::string shapes;
        for (const auto& o : outs) shapes += (shapes.empty() ? "" : ", ") + shape_of(o);
        const int n = (config_.input_size / level.stride) * (config_.input_size / level.stride);
        return Status::InvalidArgument(config_.model.string() + ": model outputs are " + shapes + "; NanoDet-Plus at input_size " +
                                       std::to_string(config_.input_size) + " needs [1," + std::to_string(n) + "," +
                                       std::to_string(labels_.size()) + "] and [1," + std::to_string(n) + ",32] for stride " +
                                       std::to_string(level.stride));
      }
    return Status::Ok();
  }

  std::vector<Detection> decode_nanodet(const std::vector<cv::Mat>& outs) const {
    std::vector<Detection> found;
    for (const auto& level : nano_levels(outs)) {
      if (!level.classes || !level.boxes) continue;
      const int grid = config_.input_size / level.stride;
      const float s = float(level.stride);
      const float* classes = level.classes->ptr<float>();
      const float* sides = level.boxes->ptr<float>();
      const int c = int(labels_.size());
      for (int i = 0; i < grid * grid; ++i) {
        const int best = best_class(classes + size_t(i) * c, 1);
        const float score = classes[size_t(i) * c + best];
        if (score < config_.min_score) continue;
        float distance[4];
        for (int side = 0; side < 4; ++side) {
          const float* bins = sides + size_t(i) * 4 * kNanoBins + size_t(side) * kNanoBins;
          const float top = *std::max_element(bins, bins + kNanoBins);
          float sum = 0, expected = 0;
          for (int b = 0; b < kNanoBins; ++b) {
            const float e = std::exp(bins[b] - top);
            sum += e;
            expected += e * float(b);
          }
          distance[side] = expected / sum * s;
        }
        // The anchor centre as NanoDet-Plus's export computes it (models/README.md).
        const float cx = float(i % grid) * s + 0.5f * (s - 1), cy = float(i / grid) * s + 0.5f * (s - 1);
        found.push_back({cv::Rect2f(cx - distance[0], cy - distance[1], distance[0] + distance[2],
                                    distance[1] + distance[3]),
                         best, score});
      }
    }
    return found;
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
    for (int s : kStrides) {
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
  bool nanodet_ = false;  // six outputs: NanoDet-Plus's layout and preprocessing
  Layout layout_ = Layout::kV5;
};

}  // namespace

Result<std::unique_ptr<Detector>> make_yolo(const DetectorConfig& config) {
  namespace fs = std::filesystem;
  if (config.model.empty()) return Status::InvalidArgument("detector.model: the onnx detector needs a model file");
  std::error_code ec;
  if (!fs::is_regular_file(config.model, ec)) return Status::NotFound(config.model.string() + ": model file not found");
  if (config.format != "auto" && config.format != "yolov5" && config.format != "yolov8" && config.format != "yolox" &&
      config.format != "nanodet")
    return Status::InvalidArgument("detector.format must be auto, yolov5, yolov8, yolox or nanodet, got '" +
                                   config.format + "'");
  if ((config.format == "yolox" || config.format == "nanodet") && config.input_size % 32 != 0)
    return Status::InvalidArgument("detector.input_size: " + config.format + " needs a multiple of 32, got " +
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
  const size_t outputs = net.getUnconnectedOutLayersNames().size();
  if (config.format == "nanodet" && outputs != 6)
    return Status::InvalidArgument(config.model.string() + ": detector.format nanodet needs a model with 6 outputs, it has " +
                                   std::to_string(outputs));
  auto detector = std::make_unique<YoloDetector>(std::move(net), std::move(*labels), std::move(*filter), config, device,
                                                 config.format == "nanodet" || (config.format == "auto" && outputs == 6));
  // Run once on a blank frame: a wrong-shaped model fails here, at start, not mid-drive.
  if (Status st = detector->probe(); !st.ok()) return st;
  return std::unique_ptr<Detector>(std::move(detector));
}

}  // namespace dashloop::pipeline::vision::detectors
