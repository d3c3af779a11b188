// Package builder: label files agree with each other and with the input,
// frame for frame; the manifest's checksums hold; effort by its formula.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <tuple>

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
    EXPECT_EQ(cls, 1) << "person is MOTChallenge's class 1";
    EXPECT_DOUBLE_EQ(x, 100 + frame - 1) << "box x was the drive frame number";
    EXPECT_EQ(vis, frame - 1 == 20 ? 0.0 : (frame - 1 > 15 && frame - 1 < 25 ? 0.0 : 1.0)) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 41);
  EXPECT_EQ(read(dir_ / "labels/mot/gt/labels.txt"),
            "person\nperson_on_vehicle\ncar\nbicycle\nmotorbike\nnon_motorized_vehicle\nstatic_person\ndistractor\n"
            "occluder\noccluder_on_ground\noccluder_full\nreflection\n");

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

  // Label Studio: CVAT's keyframes, 1-based, percent, the last one disabled.
  json ls = json::parse(read(dir_ / "labels/labelstudio.json"));
  const auto& seq = ls[0]["predictions"][0]["result"][0]["value"]["sequence"];
  ASSERT_EQ(seq.size(), 10u);  // drive frames 100, 105, ..., 140 and the occlusion change at 116
  EXPECT_EQ(seq[0]["frame"], 1);
  EXPECT_DOUBLE_EQ(seq[0]["x"].get<double>(), 100.0 * 100 / 640);
  EXPECT_FALSE(seq.back()["enabled"].get<bool>());

  // Effort: 9 detector boxes, 1 track, 1 keyframe, 2 s; live labels are
  // expected to hold 35 % of what is there, 80 % of them right: per box found,
  // 0.8 * 0.65 / 0.35 boxes to draw, and as many objects per track.
  EXPECT_EQ(r->effort.boxes_to_check, 9);
  EXPECT_EQ(r->effort.tracks, 1);
  EXPECT_EQ(r->effort.keyframes, 1);
  const double missed = 0.8 * 0.65 / 0.35;
  EXPECT_DOUBLE_EQ(r->effort.missed_boxes, 9 * missed);
  EXPECT_DOUBLE_EQ(r->effort.missed_tracks, missed);
  EXPECT_DOUBLE_EQ(r->effort.minutes, (2 * 2.0 + 20 * (1 + missed) + 2 * 9 + 7 * 9 * missed + 30) / 60.0);
}

TEST(Effort, ExpectedMissesFollowWhereTheLabelsCameFrom) {
  EffortConfig c;
  const Effort live = estimate_effort(60, 3, 0, 10, "live", c);
  const Effort pass = estimate_effort(60, 3, 0, 10, "redetected", c);
  EXPECT_DOUBLE_EQ(live.recall, 0.35);
  EXPECT_DOUBLE_EQ(pass.recall, 0.6);
  EXPECT_DOUBLE_EQ(pass.missed_boxes, 60 * 0.8 * 0.4 / 0.6);
  EXPECT_GT(live.minutes, pass.minutes) << "the same boxes from the weaker source leave more to draw";
  c.recall_redetected = 1.0;
  const Effort perfect = estimate_effort(60, 3, 0, 10, "redetected", c);
  EXPECT_DOUBLE_EQ(perfect.missed_boxes, 0);
  EXPECT_DOUBLE_EQ(perfect.minutes, (2 * 10 + 20 * 3 + 2 * 60) / 60.0);
  EXPECT_DOUBLE_EQ(estimate_effort(0, 0, 0, 10, "live", EffortConfig{}).missed_boxes, 0) << "nothing found: nothing assumed";
}

TEST_F(PackageTest, ManifestChecksumsHoldAndCatchChanges) {
  auto r = write_package(input(), dir_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  json m = json::parse(read(dir_ / "manifest.json"));
  EXPECT_EQ(m["schema"], "dashloop.package");
  EXPECT_EQ(m["version"], kPackageVersion);
  EXPECT_EQ(m["frame_count"], 60);
  EXPECT_EQ(m["source_frames"]["first"], 100);
  EXPECT_EQ(m["files"].size(), 8u);  // clip, keyframe, CVAT, COCO, Label Studio and its config, MOT gt and labels
  EXPECT_TRUE(verify_package(dir_).ok());
  std::ofstream(dir_ / "labels/coco.json", std::ios::app) << " ";
  Status st = verify_package(dir_);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("coco.json"), std::string::npos) << st.message();
  fs::remove(dir_ / "manifest.json");
  EXPECT_EQ(verify_package(dir_).kind(), Status::Kind::kNotFound);
}

// A box as a tool shows it on a clip frame, by (track, frame).
struct Shown {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool occluded = false;
};
using Boxes = std::map<std::pair<int, int64_t>, Shown>;

Shown lerp(const Shown& a, const Shown& b, double t) {
  auto at = [t](double u, double v) { return u + (v - u) * t; };
  return {at(a.x0, b.x0), at(a.y0, b.y0), at(a.x1, b.x1), at(a.y1, b.y1), a.occluded};
}

// What the package means: the MOT file, one row per box.
Boxes read_mot_rows(const std::string& text) {
  Boxes out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    int frame = 0, id = 0, not_ignored = 0, cls = 0;
    double x = 0, y = 0, w = 0, h = 0, vis = 0;
    if (std::sscanf(line.c_str(), "%d,%d,%lf,%lf,%lf,%lf,%d,%d,%lf", &frame, &id, &x, &y, &w, &h, &not_ignored, &cls,
                    &vis) == 9)
      out[{id - 1, frame - 1}] = {x, y, x + w, y + h, vis == 0.0};
  }
  return out;
}

// CVAT's import (TrackManager): keyframe="1" boxes only, linear between two,
// flags from the earlier one, nothing after an outside one until the next,
// the last visible one held to the end of the task.
Boxes read_cvat_by_rule(const std::string& xml, int64_t n) {
  Boxes out;
  const std::regex track_re(R"re(<track id="(\d+)"[^>]*>([\s\S]*?)</track>)re");
  const std::regex box_re(R"re(<box frame="(\d+)" keyframe="1" outside="(\d)" occluded="(\d)" xtl="([-\d.]+)" ytl="([-\d.]+)" xbr="([-\d.]+)" ybr="([-\d.]+)")re");
  for (std::sregex_iterator t(xml.begin(), xml.end(), track_re), end; t != end; ++t) {
    const int id = std::stoi((*t)[1]);
    const std::string body = (*t)[2];
    std::vector<std::tuple<int64_t, bool, Shown>> keys;
    for (std::sregex_iterator b(body.begin(), body.end(), box_re); b != end; ++b)
      keys.emplace_back(std::stoll((*b)[1]), (*b)[2] == "1",
                        Shown{std::stod((*b)[4]), std::stod((*b)[5]), std::stod((*b)[6]), std::stod((*b)[7]), (*b)[3] == "1"});
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto& [f, outside, box] = keys[i];
      if (outside) continue;
      const int64_t stop = i + 1 < keys.size() ? std::get<0>(keys[i + 1]) : n;
      for (int64_t g = f; g < stop; ++g)
        out[{id, g}] = i + 1 < keys.size() ? lerp(box, std::get<2>(keys[i + 1]), double(g - f) / double(stop - f)) : box;
    }
  }
  return out;
}

// Label Studio's editor (VideoRegion.isInLifespan, getShape): a box from an
// enabled keyframe on, interpolated towards the next; a disabled keyframe on
// its own frame only.
Boxes read_labelstudio_by_rule(const json& task, int64_t n, int width, int height) {
  Boxes out;
  for (const auto& r : task["predictions"][0]["result"]) {
    const int id = std::stoi(r["id"].get<std::string>().substr(5));
    const auto& seq = r["value"]["sequence"];
    auto shown = [&](const json& k) {
      const double x = k["x"].get<double>() * width / 100, y = k["y"].get<double>() * height / 100;
      return Shown{x, y, x + k["width"].get<double>() * width / 100, y + k["height"].get<double>() * height / 100, false};
    };
    for (int64_t f = 1; f <= n; ++f) {
      const json* prev = nullptr;
      const json* next = nullptr;
      for (const auto& k : seq) {
        if (k["frame"].get<int64_t>() <= f) prev = &k;
        else if (!next) next = &k;
      }
      if (!prev || (!(*prev)["enabled"].get<bool>() && (*prev)["frame"].get<int64_t>() != f)) continue;
      const int64_t pf = (*prev)["frame"].get<int64_t>();
      out[{id, f - 1}] = next && pf != f ? lerp(shown(*prev), shown(*next), double(f - pf) / double((*next)["frame"].get<int64_t>() - pf))
                                         : shown(*prev);
    }
  }
  return out;
}

// The boxes read that differ from those meant by more than half a pixel (or in
// occlusion, where the format has it), plus those meant and not read or read
// and not meant.
int differing(const Boxes& meant, const Boxes& read, bool with_occlusion) {
  int bad = 0;
  for (const auto& [key, m] : meant) {
    auto it = read.find(key);
    if (it == read.end()) {
      ++bad;
      continue;
    }
    const Shown& r = it->second;
    if (std::max({std::abs(m.x0 - r.x0), std::abs(m.y0 - r.y0), std::abs(m.x1 - r.x1), std::abs(m.y1 - r.y1)}) > 0.5 ||
        (with_occlusion && m.occluded != r.occluded))
      ++bad;
  }
  for (const auto& [key, r] : read) bad += meant.count(key) ? 0 : 1;
  return bad;
}

// Tracks that end inside the clip, run past its end, change occlusion between
// detector frames, and slide out of the picture and back.
PackageInput hard_tracks(PackageInput in) {
  LabelTrack past_end{9, "car", {}};
  for (int64_t f = 150; f <= 170; f += 5) past_end.boxes.push_back({f, 300.0 + 3 * double(f - 150), 200, 60, 40, 0.8, false});
  in.tracks.push_back(past_end);
  // Off the right edge by 103, back from 115; cut by the edge until 120, so
  // its boxes there are not linear between detector frames.
  LabelTrack out_and_back{10, "car", {}};
  out_and_back.boxes = {{100, 610, 100, 40, 30, 0.7, false}, {108, 700, 100, 40, 30, 0.7, false},
                        {116, 620, 100, 40, 30, 0.7, false}, {126, 560, 110, 40, 30, 0.7, true},
                        {136, 520, 120, 60, 30, 0.7, false}};
  in.tracks.push_back(out_and_back);
  return in;
}

TEST_F(PackageTest, ReadsBackAsTheInputThatWroteIt) {
  PackageInput in = input();
  in.clip_frames.erase(in.clip_frames.begin() + 30);  // a frame the camera dropped: the list is kept whole
  in.plan = {{"priority", 0.5}};
  in.review = {{"by", "ann"}, {"edits", {{"deleted", {8}}}}};
  in.effort.per_box_s = 3.0;
  ASSERT_TRUE(write_package(in, dir_).ok());
  auto back = read_package_input(dir_);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->id, in.id);
  EXPECT_EQ(back->clip_frames, in.clip_frames);
  EXPECT_EQ(back->fps, in.fps);
  EXPECT_EQ(back->width, in.width);
  EXPECT_EQ(back->labels, in.labels);
  EXPECT_EQ(back->plan, in.plan);
  EXPECT_EQ(back->review, in.review);
  EXPECT_EQ(back->effort.per_box_s, 3.0);
  EXPECT_TRUE(back->tracks.empty()) << "the tracks are what a new pass replaces";
  ASSERT_EQ(back->keyframes.size(), 1u);
  EXPECT_EQ(back->keyframes[0].frame, 110);
  EXPECT_EQ(back->keyframes[0].image, dir_ / "keyframes/frame_000010.jpg");
  // Written again from what was read, with the tracks: the same label files.
  const std::string mot = read(dir_ / "labels/mot/gt/gt.txt");
  back->tracks = in.tracks;
  const fs::path again = dir_.string() + "-again";
  fs::create_directories(again);
  fs::copy_file(dir_ / "clip.mp4", again / "clip.mp4");
  ASSERT_TRUE(write_package(*back, again).ok());
  EXPECT_EQ(read(again / "labels/mot/gt/gt.txt"), mot);
  EXPECT_TRUE(verify_package(again).ok());
  fs::remove_all(again);

  std::ofstream(dir_ / "manifest.json") << "{\"schema\": \"dashloop.package\", \"id\": 1}";
  EXPECT_EQ(read_package_input(dir_).status().kind(), Status::Kind::kCorruption);
  fs::remove(dir_ / "manifest.json");
  EXPECT_EQ(read_package_input(dir_).status().kind(), Status::Kind::kNotFound);
}

TEST_F(PackageTest, CvatReadByItsOwnRuleGivesEveryBoxMeant) {
  const PackageInput in = hard_tracks(input());
  ASSERT_TRUE(write_package(in, dir_).ok());
  const Boxes meant = read_mot_rows(read(dir_ / "labels/mot/gt/gt.txt"));
  ASSERT_EQ(meant.count({1, 59}), 1u) << "the track past the clip's end is on its last frame";
  ASSERT_EQ(meant.count({2, 5}), 0u) << "the track off the picture has a gap";
  EXPECT_EQ(differing(meant, read_cvat_by_rule(read(dir_ / "labels/cvat-video.xml"), 60), true), 0);
}

TEST_F(PackageTest, LabelStudioReadByItsEditorsRuleGivesEveryBoxMeant) {
  const PackageInput in = hard_tracks(input());
  ASSERT_TRUE(write_package(in, dir_).ok());
  const Boxes meant = read_mot_rows(read(dir_ / "labels/mot/gt/gt.txt"));
  const json ls = json::parse(read(dir_ / "labels/labelstudio.json"));
  EXPECT_EQ(differing(meant, read_labelstudio_by_rule(ls[0], 60, 640, 360), false), 0);
  const auto& past_end = ls[0]["predictions"][0]["result"][1]["value"]["sequence"];
  EXPECT_EQ(past_end.back()["frame"], 60) << "a track visible to the end has its last frame as a keyframe";
  EXPECT_TRUE(past_end.back()["enabled"].get<bool>());
  EXPECT_DOUBLE_EQ(past_end.back()["time"].get<double>(), 60 / 30.0) << "time = frame / fps, as the editor writes it";
}

TEST_F(PackageTest, LabelStudioConfigCarriesTheClipsFrameRateAndLabels) {
  PackageInput in = input();
  in.fps = 29.97;
  ASSERT_TRUE(write_package(in, dir_).ok());
  const std::string config = read(dir_ / "labels/labelstudio-config.xml");
  EXPECT_NE(config.find("<Video name=\"video\" value=\"$video\" framerate=\"29.970000\"/>"), std::string::npos) << config;
  EXPECT_NE(config.find("<VideoRectangle name=\"box\" toName=\"video\"/>"), std::string::npos);
  EXPECT_NE(config.find("<Label value=\"car\"/>\n    <Label value=\"person\"/>"), std::string::npos);
}

// TrackEval and MOTChallenge's kit keep class 1 as pedestrians and 3 as
// cars; numbering by name order once made bicycle 1 and lost every person.
TEST(MotClasses, AreNumberedTheMotChallengeWay) {
  const auto mot = mot_classes({"truck", "person", "car", "bicycle", "motorcycle", "traffic light", "bus"});
  EXPECT_EQ(mot.id.at("person"), 1);
  EXPECT_EQ(mot.id.at("car"), 3);
  EXPECT_EQ(mot.id.at("bicycle"), 4);
  EXPECT_EQ(mot.id.at("motorcycle"), 5);
  EXPECT_EQ(mot.id.at("bus"), 13) << "other classes after 12, in name order";
  EXPECT_EQ(mot.id.at("traffic light"), 14);
  EXPECT_EQ(mot.id.at("truck"), 15);
  ASSERT_EQ(mot.names.size(), 15u);
  for (const auto& [label, id] : mot.id) EXPECT_EQ(mot.names[size_t(id - 1)], label) << "labels.txt line = class id";
  EXPECT_EQ(mot.names[1], "person_on_vehicle") << "an unused id keeps MOTChallenge's name";
  const auto both = mot_classes({"pedestrian", "person"});
  EXPECT_EQ(both.id.at("pedestrian"), 1);
  EXPECT_EQ(both.id.at("person"), 13) << "one class per id";
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
