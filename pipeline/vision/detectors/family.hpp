// Inside the detectors: one factory per detector family (each in its own
// file beside this one) and the pieces they share. make_detector() in
// detectors.cpp is the only caller; nothing outside vision/ includes this.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/dnn.hpp>

#include "vision/detectors.hpp"

namespace dashloop::pipeline::vision::detectors {

Result<std::unique_ptr<Detector>> make_yolo(const DetectorConfig& config);       // yolo.cpp: YOLOv5, YOLOv8, YOLOX
Result<std::unique_ptr<Detector>> make_blazeface(const DetectorConfig& config);  // blazeface.cpp: faces
Result<std::unique_ptr<Detector>> make_hog(const DetectorConfig& config);        // hog.cpp
Result<std::unique_ptr<Detector>> make_cascade(const DetectorConfig& config);    // cascade.cpp
Result<std::unique_ptr<Detector>> make_motion(const DetectorConfig& config);     // motion.cpp
// tiled.cpp: the whole frame and config.tiles overlapping tiles across, boxes merged
std::unique_ptr<Detector> make_tiled(std::unique_ptr<Detector> inner, const DetectorConfig& config);

// One class name per line; errors name the file.
Result<std::vector<std::string>> read_labels(const std::filesystem::path& path);
// Class-wise non-maximum suppression (OpenCV 4.6 has no NMSBoxesBatched), best first.
std::vector<Detection> nms_by_class(const std::vector<Detection>& in, float score, float iou_limit);
// One object, two classes: COCO models often box a van as both car and truck,
// and each box would become its own track. Of boxes of different classes
// overlapping above iou_limit only the best stays (input best first; 1: off).
std::vector<Detection> suppress_across_classes(const std::vector<Detection>& best_first, float iou_limit);
// An ONNX model read by OpenCV DNN; errors name the file.
Result<cv::dnn::Net> load_onnx(const std::filesystem::path& model);
// "[1,3549,85]"
std::string shape_of(const cv::Mat& m);

// The classes a fleet asked for (config.classes, by name; empty: all) and
// their own score floors (config.class_min_scores, else min_score).
class ClassFilter {
 public:
  // Errors name a class the model does not know.
  static Result<ClassFilter> make(const DetectorConfig& config, const std::vector<std::string>& labels);
  bool keep(const Detection& d) const { return d.class_id >= 0 && size_t(d.class_id) < floor_.size() && d.score >= floor_[size_t(d.class_id)]; }

 private:
  std::vector<float> floor_;  // by class id; above 1: the class is dropped
};

}  // namespace dashloop::pipeline::vision::detectors
