// make_detector: the one entry to the detector families in detectors/.
#include "vision/detectors.hpp"

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision {

std::string score_scale_of(const std::string& d) {
  if (d.starts_with("onnx")) return "probability: objectness x class score (YOLOv5, YOLOX) or class score (YOLOv8)";
  if (d.starts_with("blazeface")) return "probability: sigmoid of the anchor's face logit";
  if (d.starts_with("hog-people")) return "1 / (1 + e^(-2m)) of the HOG SVM margin m: 0.5 at the SVM's boundary";
  if (d.starts_with("cascade")) return "n / (n + 2), n = agreeing neighbour windows of the cascade";
  if (d.starts_with("motion")) return "0.4 + 0.6 x the share of its box the moving blob fills";
  return "none";
}

namespace {

Result<std::unique_ptr<Detector>> make_family(const DetectorConfig& config) {
  if (config.kind == "onnx") return detectors::make_yolo(config);
  if (config.kind == "blazeface") return detectors::make_blazeface(config);
  if (config.kind == "hog-people") return detectors::make_hog(config);
  if (config.kind == "cascade") return detectors::make_cascade(config);
  if (config.kind == "motion") return detectors::make_motion(config);
  return Status::InvalidArgument("detector.kind must be onnx, blazeface, hog-people, cascade or motion, got '" + config.kind + "'");
}

}  // namespace

Result<std::unique_ptr<Detector>> make_detector(const DetectorConfig& config) {
  if (config.tiles > 1 && config.kind == "motion")
    return Status::InvalidArgument("detector.tiles: the motion detector's background model sees whole frames only");
  auto made = make_family(config);
  if (!made.ok() || config.tiles <= 1) return made;
  return detectors::make_tiled(std::move(made.value()), config);
}

}  // namespace dashloop::pipeline::vision
