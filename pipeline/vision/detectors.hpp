// The detectors, chosen by config, one family a file in detectors/. Each
// turns a BGR frame into boxes with a class and a score in [0, 1]:
//  * onnx: a YOLO-family model through OpenCV DNN (YOLOv5 [1, N, 5 + C],
//    YOLOv8 [1, 4 + C, N] or YOLOX [1, cells, 5 + C]: detectors/yolo.cpp),
//    letterboxed input, class-wise NMS, class names from a labels file (one
//    per line), only the configured classes, each above its own floor; the
//    default is the bundled YOLOX-Nano (firmware/models/);
//  * hog-people: OpenCV's HOG + linear SVM pedestrian detector;
//  * cascade: Haar/LBP cascades (opencv-data), one class per cascade file,
//    named after it; the same boxes will drive privacy redaction;
//  * any of them tiled: the whole frame and overlapping tiles, for small objects;
//  * motion: background subtraction (MOG2 or KNN) and blob filtering, for
//    fixed cameras only (a moving camera moves the whole background).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vision/detection.hpp"

namespace dashloop::pipeline::vision {

struct DetectorConfig {
  std::string kind = "none";  // none | onnx | hog-people | cascade | motion
  // Detections per second of video (0: every analysed frame): by time, not
  // every k-th frame, so a 10 and a 30 fps camera are detected alike.
  double rate_hz = 6.0;
  int width = 640;            // frames reach the detector at this width
  float min_score = 0.25f;
  // Tiling (any kind): besides the whole frame, this many overlapping tiles
  // across it, each detected alone, boxes merged (detectors/tiled.cpp); 1: off.
  int tiles = 1;
  float tile_overlap = 0.2f;  // share of a tile its neighbour also covers

  // onnx
  std::filesystem::path model;
  std::filesystem::path labels;
  std::string format = "auto";  // auto | yolov5 | yolov8 | yolox (the output layout and its preprocessing)
  int input_size = 640;       // square network input
  std::vector<std::string> classes;              // keep only these labels (empty: all)
  std::map<std::string, float> class_min_scores;  // a label's own floor over min_score
  float nms_iou = 0.45f;
  float cross_class_iou = 0.8f;  // boxes of two classes overlapping more are one object: the best class stays (1: off)
  std::string backend = "opencv";  // opencv | cuda
  std::string target = "cpu";      // cpu | cuda | cuda_fp16

  // cascade: each file is one class, named by its stem
  std::vector<std::filesystem::path> cascades = {
      "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
      "/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml"};
  int cascade_min_size = 24;  // px at the detector's width

  // motion
  std::string motion_method = "mog2";  // mog2 | knn
  double motion_min_area = 0.001;      // least blob area, as a share of the frame
  int motion_warmup = 15;              // frames the background model learns before it reports
};

// What a detector's scores mean, from its describe() string, for the package
// manifest: the tracker's thresholds apply to these numbers, so an annotation
// lead can tell a probability from a mapped SVM margin.
std::string score_scale_of(const std::string& detector);

// Errors name the file and what was expected. kind "none" is not a detector:
// asking for it is an InvalidArgument.
Result<std::unique_ptr<Detector>> make_detector(const DetectorConfig& config);

}  // namespace dashloop::pipeline::vision
