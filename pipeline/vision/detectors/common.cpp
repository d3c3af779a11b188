#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <opencv2/dnn.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {

std::string shape_of(const cv::Mat& m) {
  std::ostringstream s;  // not string + to_string: GCC 12 -O3 warns falsely (-Wrestrict, PR 105329)
  s << '[';
  for (int i = 0; i < m.dims; ++i) s << (i ? "," : "") << m.size[i];
  s << ']';
  return s.str();
}

Result<cv::dnn::Net> load_onnx(const std::filesystem::path& model) {
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(model.string());
  } catch (const cv::Exception& e) {
    return Status::InvalidArgument(model.string() + ": not a loadable ONNX model (" + e.err + ")");
  }
  if (net.empty()) return Status::InvalidArgument(model.string() + ": not a loadable ONNX model");
  return net;
}

Result<std::vector<std::string>> read_labels(const std::filesystem::path& path) {
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

std::vector<Detection> suppress_across_classes(const std::vector<Detection>& best_first, float iou_limit) {
  std::vector<Detection> out;
  for (const auto& d : best_first)
    if (std::none_of(out.begin(), out.end(), [&](const Detection& k) { return iou(k.box, d.box) > iou_limit; }))
      out.push_back(d);
  return out;
}

Result<ClassFilter> ClassFilter::make(const DetectorConfig& config, const std::vector<std::string>& labels) {
  auto index_of = [&](const std::string& name) -> int {
    auto it = std::find(labels.begin(), labels.end(), name);
    return it == labels.end() ? -1 : int(it - labels.begin());
  };
  ClassFilter f;
  f.floor_.assign(labels.size(), config.classes.empty() ? config.min_score : 2.0f);
  for (const auto& name : config.classes) {
    const int i = index_of(name);
    if (i < 0) return Status::InvalidArgument("detector.classes: '" + name + "' is not a class of " + config.labels.string());
    f.floor_[size_t(i)] = config.min_score;
  }
  for (const auto& [name, floor] : config.class_min_scores) {
    const int i = index_of(name);
    if (i < 0)
      return Status::InvalidArgument("detector.class_min_scores: '" + name + "' is not a class of " + config.labels.string());
    if (f.floor_[size_t(i)] <= 1.0f) f.floor_[size_t(i)] = floor;  // a dropped class stays dropped
  }
  return f;
}

}  // namespace dashloop::pipeline::vision::detectors
