// Package builder: label files agree with each other and with the input,
// frame for frame; the manifest's checksums hold; effort by its formula.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "clips/package.hpp"

namespace dashloop::pipeline::clips {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-package-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "clip.mp4") << "not really a video";
    image_ = dir_.string() + "-kf.jpg";
    std::ofstream(image_) << "jpeg";
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove(image_);
  }

  // A 60-frame clip of drive frames 100..159; one track seen at every 5th frame.
  PackageInput input() {
    PackageInput in;
    in.id = "v_d1_c1";
    in.fps = 30;
    in.width = 640;
    in.height = 360;
    for (int64_t f = 100; f < 160; ++f) in.clip_frames.push_back(f);
    LabelTrack t{7, "person", {}};
    for (int64_t f = 90; f <= 140; f += 5) t.boxes.push_back({f, double(f), 50, 20, 40, 0.9, f == 120});
    in.tracks.push_back(t);
    in.tracks.push_back({8, "car", {{10, 0, 0, 10, 10, 0.5, false}}});  // before the clip: not in it
    in.keyframes.push_back({110, image_});
    in.keyframes.push_back({500, image_});  // outside the clip
    in.labels = {"car", "person"};
    in.detector = "test";
    in.tracker = "test";
    return in;
  }
  fs::path dir_;
  fs::path image_;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(PackageTest, LabelsLandOnTheClipsOwnFrames) {
  auto r = write_package(input(), dir_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // MOT: clip frames 1..41 (drive 100..140), interpolated between detector frames.
  std::istringstream gt(read(dir_ / "labels/mot/gt/gt.txt"));
  std::string line;
  int lines = 0;
  while (std::getline(gt, line)) {
    int frame = 0, id = 0, not_ignored = 0, cls = 0;
    double x = 0, y = 0, w = 0, h = 0, vis = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%d,%lf,%lf,%lf,%lf,%d,%d,%lf", &frame, &id, &x, &y, &w, &h, &not_ignored,
                          &cls, &vis), 9) << line;
    EXPECT_EQ(id, 1);
    EXPECT_EQ(cls, 2) << "person is the second label";
    EXPECT_DOUBLE_EQ(x, 100 + frame - 1) << "box x was the drive frame number";
    EXPECT_EQ(vis, frame - 1 == 20 ? 0.0 : (frame - 1 > 15 && frame - 1 < 25 ? 0.0 : 1.0)) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 41);
  EXPECT_EQ(read(dir_ / "labels/mot/gt/labels.txt"), "car\nperson\n");

  // CVAT: keyframe on detector frames, outside right after the end.
  const std::string cvat = read(dir_ / "labels/cvat-video.xml");
  EXPECT_NE(cvat.find("<size>60</size>"), std::string::npos);
  EXPECT_NE(cvat.find("<box frame=\"0\" keyframe=\"1\" outside=\"0\" occluded=\"0\" xtl=\"100.00\""), std::string::npos);
  EXPECT_NE(cvat.find("<box frame=\"1\" keyframe=\"0\" outside=\"0\""), std::string::npos);
  EXPECT_NE(cvat.find("<box frame=\"20\" keyframe=\"1\" outside=\"0\" occluded=\"1\""), std::string::npos);
  EXPECT_NE(cvat.find("<box frame=\"41\" keyframe=\"1\" outside=\"1\""), std::string::npos);
  EXPECT_EQ(cvat.find("label=\"car\" source"), std::string::npos) << "a track outside the clip is left out";

  // COCO: the one keyframe inside, with the box on it.
  json coco = json::parse(read(dir_ / "labels/coco.json"));
  ASSERT_EQ(coco["images"].size(), 1u);
  EXPECT_EQ(coco["images"][0]["file_name"], "frame_000010.jpg");
  EXPECT_TRUE(fs::exists(dir_ / "keyframes/frame_000010.jpg"));
  ASSERT_EQ(coco["annotations"].size(), 1u);
  EXPECT_EQ(coco["annotations"][0]["bbox"][0], 110.0);

  // Label Studio: detector frames only, 1-based, percent, last one disabled.
  json ls = json::parse(read(dir_ / "labels/labelstudio.json"));
  const auto& seq = ls[0]["predictions"][0]["result"][0]["value"]["sequence"];
  ASSERT_EQ(seq.size(), 9u);  // drive frames 100, 105, ..., 140
  EXPECT_EQ(seq[0]["frame"], 1);
  EXPECT_DOUBLE_EQ(seq[0]["x"].get<double>(), 100.0 * 100 / 640);
  EXPECT_FALSE(seq.back()["enabled"].get<bool>());

  // Effort: 9 detector boxes, 1 track, 1 keyframe, 2 s.
  EXPECT_EQ(r->effort.boxes_to_check, 9);
  EXPECT_EQ(r->effort.tracks, 1);
  EXPECT_EQ(r->effort.keyframes, 1);
  EXPECT_DOUBLE_EQ(r->effort.minutes, (2 * 2.0 + 20 + 2 * 9 + 30) / 60.0);
}

TEST_F(PackageTest, ManifestChecksumsHoldAndCatchChanges) {
  auto r = write_package(input(), dir_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  json m = json::parse(read(dir_ / "manifest.json"));
  EXPECT_EQ(m["schema"], "dashloop.package");
  EXPECT_EQ(m["version"], kPackageVersion);
  EXPECT_EQ(m["frame_count"], 60);
  EXPECT_EQ(m["source_frames"]["first"], 100);
  EXPECT_EQ(m["files"].size(), 7u);  // clip, keyframe, CVAT, COCO, Label Studio, MOT gt and labels
  EXPECT_TRUE(verify_package(dir_).ok());
  std::ofstream(dir_ / "labels/coco.json", std::ios::app) << " ";
  Status st = verify_package(dir_);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("coco.json"), std::string::npos) << st.message();
  fs::remove(dir_ / "manifest.json");
  EXPECT_EQ(verify_package(dir_).kind(), Status::Kind::kNotFound);
}

TEST(Sha256, KnownVector) {
  const fs::path f = fs::temp_directory_path() / "dashloop-sha-abc";
  std::ofstream(f) << "abc";
  auto sum = sha256_file(f);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::remove(f);
}

}  // namespace
}  // namespace dashloop::pipeline::clips
