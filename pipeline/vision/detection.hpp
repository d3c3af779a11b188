// What a detector finds in a frame, and the one interface every detector
// implements (frame -> detections). Boxes are in the pixels of the frame the
// detector was given.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "status.hpp"

namespace cv { class Mat; }

namespace dashloop::pipeline::vision {

struct Detection {
  cv::Rect2f box;  // top-left x, y, width, height
  int class_id = 0;
  float score = 1.0f;
};

inline float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

class Detector {
 public:
  virtual ~Detector() = default;
  // `bgr` is an 8-bit, 3-channel frame. Not thread-safe: one caller at a time.
  virtual Result<std::vector<Detection>> detect(const cv::Mat& bgr) = 0;
  // Class names, indexed by Detection::class_id.
  virtual const std::vector<std::string>& labels() const = 0;
  // For logs and the catalog: kind and model, e.g. "onnx:yolov8n.onnx".
  virtual std::string describe() const = 0;
};

}  // namespace dashloop::pipeline::vision
