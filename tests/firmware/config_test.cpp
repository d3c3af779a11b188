// Config: typed, validated, and every error names file, line and key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"

namespace dashloop::firmware::config {
namespace {

TEST(Config, BundledModelIsTheDefaultAndRelativePathsAreInTheModelsDirectory) {
  Config c;
  EXPECT_EQ(c.detector.kind, "onnx");
  resolve_model_paths(c.detector);
  EXPECT_EQ(c.detector.model, model_dir() / "yolox_nano.onnx");
  EXPECT_TRUE(std::filesystem::exists(c.detector.model)) << c.detector.model << ": the product carries its own model";
  EXPECT_TRUE(std::filesystem::exists(c.detector.labels));
  auto own = load_string("[detector]\nmodel = \"/opt/m.onnx\"\n", "s.toml");
  ASSERT_TRUE(own.ok());
  resolve_model_paths(own->detector);
  EXPECT_EQ(own->detector.model, "/opt/m.onnx") << "an absolute path stays as it is";
  EXPECT_EQ(own->detector.format, "auto") << "the bundled model's settings do not follow another model";
  EXPECT_TRUE(own->detector.classes.empty());
  EXPECT_EQ(own->detector.input_size, 640);
}

TEST(Config, ShippedDefaultFileEqualsBuiltInDefaults) {
  auto c = load_file(DASHLOOP_SOURCE_DIR "/firmware/config/dashloop.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const Config d;
  EXPECT_EQ(c->data_dir, d.data_dir);
  EXPECT_EQ(c->ingest.mode, d.ingest.mode);
  EXPECT_EQ(c->ingest.analysis_width, d.ingest.analysis_width);
  EXPECT_EQ(c->keyframes.selector.min_gap_s, d.keyframes.selector.min_gap_s);
  EXPECT_EQ(c->keyframes.selector.max_gap_s, d.keyframes.selector.max_gap_s);
  EXPECT_EQ(c->keyframes.selector.cut_threshold, d.keyframes.selector.cut_threshold);
  EXPECT_EQ(c->keyframes.selector.dissolve_blend_max, d.keyframes.selector.dissolve_blend_max);
  EXPECT_EQ(c->keyframes.selector.structure_threshold, d.keyframes.selector.structure_threshold);
  EXPECT_EQ(c->keyframes.selector.dissolve_threshold, d.keyframes.selector.dissolve_threshold);
  EXPECT_EQ(c->keyframes.selector.dissolve_s, d.keyframes.selector.dissolve_s);
  EXPECT_EQ(c->keyframes.selector.flash_max_s, d.keyframes.selector.flash_max_s);
  EXPECT_EQ(c->keyframes.selector.duplicate_hamming, d.keyframes.selector.duplicate_hamming);
  EXPECT_EQ(c->keyframes.jpeg_quality, d.keyframes.jpeg_quality);
  EXPECT_EQ(c->privacy.faces, d.privacy.faces);
  EXPECT_EQ(c->privacy.plates, d.privacy.plates);
  EXPECT_EQ(c->privacy.conservative, d.privacy.conservative);
  EXPECT_EQ(c->privacy.min_person_px, d.privacy.min_person_px);
  EXPECT_EQ(c->privacy.min_vehicle_px, d.privacy.min_vehicle_px);
  EXPECT_EQ(c->privacy.detect_hz, d.privacy.detect_hz);
  EXPECT_EQ(c->privacy.hold_s, d.privacy.hold_s);
  EXPECT_EQ(c->privacy.pad, d.privacy.pad);
  EXPECT_EQ(c->sync.target, d.sync.target);
  EXPECT_EQ(c->sync.region, d.sync.region);
  EXPECT_EQ(c->sync.part_mib, d.sync.part_mib);
  EXPECT_EQ(c->sync.multipart_threshold_mib, d.sync.multipart_threshold_mib);
  EXPECT_EQ(c->sync.network, d.sync.network);
  EXPECT_EQ(c->sync.attempts, d.sync.attempts);
  EXPECT_EQ(c->sync.backoff_s, d.sync.backoff_s);
  EXPECT_EQ(c->sync.interval_s, d.sync.interval_s);
  EXPECT_EQ(c->detector.kind, d.detector.kind);
  EXPECT_EQ(c->detector.rate_hz, d.detector.rate_hz);
  EXPECT_EQ(c->detector.width, d.detector.width);
  EXPECT_EQ(c->detector.min_score, d.detector.min_score);
  EXPECT_EQ(c->detector.input_size, d.detector.input_size);
  EXPECT_EQ(c->detector.model, d.detector.model);
  EXPECT_EQ(c->detector.labels, d.detector.labels);
  EXPECT_EQ(c->detector.format, d.detector.format);
  EXPECT_EQ(c->detector.classes, d.detector.classes);
  EXPECT_EQ(c->detector.class_min_scores, d.detector.class_min_scores);
  EXPECT_EQ(c->prelabel.input_size, d.prelabel.input_size);
  EXPECT_EQ(c->prelabel.width, d.prelabel.width);
  EXPECT_EQ(c->detector.nms_iou, d.detector.nms_iou);
  EXPECT_EQ(c->detector.backend, d.detector.backend);
  EXPECT_EQ(c->detector.target, d.detector.target);
  EXPECT_EQ(c->detector.cascades, d.detector.cascades);
  EXPECT_EQ(c->detector.cascade_min_size, d.detector.cascade_min_size);
  EXPECT_EQ(c->detector.motion_method, d.detector.motion_method);
  EXPECT_EQ(c->detector.motion_min_area, d.detector.motion_min_area);
  EXPECT_EQ(c->detector.motion_warmup, d.detector.motion_warmup);
  const auto& t = c->tracking.tracker;
  const auto& dt = d.tracking.tracker;
  EXPECT_EQ(t.high_score, dt.high_score);
  EXPECT_EQ(t.low_score, dt.low_score);
  EXPECT_EQ(t.new_track_score, dt.new_track_score);
  EXPECT_EQ(t.match_iou, dt.match_iou);
  EXPECT_EQ(t.low_match_iou, dt.low_match_iou);
  EXPECT_EQ(t.tentative_match_iou, dt.tentative_match_iou);
  EXPECT_EQ(t.class_penalty, dt.class_penalty);
  EXPECT_EQ(t.min_hits, dt.min_hits);
  EXPECT_EQ(t.max_age, dt.max_age);
  EXPECT_EQ(c->tracking.camera_motion, d.tracking.camera_motion);
  const auto& p = c->clips.planner;
  const auto& dp = d.clips.planner;
  EXPECT_EQ(c->clips.enabled, d.clips.enabled);
  EXPECT_EQ(p.pre_roll_s, dp.pre_roll_s);
  EXPECT_EQ(p.post_roll_s, dp.post_roll_s);
  EXPECT_EQ(p.min_s, dp.min_s);
  EXPECT_EQ(p.max_s, dp.max_s);
  EXPECT_EQ(p.track_min_s, dp.track_min_s);
  EXPECT_EQ(p.track_classes, dp.track_classes);
  EXPECT_EQ(p.person_min_height, dp.person_min_height);
  EXPECT_EQ(p.person_classes, dp.person_classes);
  EXPECT_EQ(p.scene_cuts, dp.scene_cuts);
  EXPECT_EQ(p.sample_every_s, dp.sample_every_s);
  EXPECT_EQ(c->clips.effort.watch_passes, d.clips.effort.watch_passes);
  EXPECT_EQ(c->clips.effort.per_track_s, d.clips.effort.per_track_s);
  EXPECT_EQ(c->clips.effort.per_box_s, d.clips.effort.per_box_s);
  EXPECT_EQ(c->clips.effort.per_keyframe_s, d.clips.effort.per_keyframe_s);
  EXPECT_EQ(c->clips.effort.per_missed_box_s, d.clips.effort.per_missed_box_s);
  EXPECT_EQ(c->clips.effort.recall_live, d.clips.effort.recall_live);
  EXPECT_EQ(c->clips.effort.recall_redetected, d.clips.effort.recall_redetected);
  EXPECT_EQ(c->clips.effort.precision, d.clips.effort.precision);
  EXPECT_EQ(c->recording.segment_s, d.recording.segment_s);
  EXPECT_EQ(c->retention.max_bytes, d.retention.max_bytes);
  EXPECT_EQ(c->retention.hard_max_bytes, d.retention.hard_max_bytes);
  EXPECT_EQ(c->retention.max_percent, d.retention.max_percent);
  EXPECT_EQ(c->retention.hard_percent, d.retention.hard_percent);
  EXPECT_EQ(c->retention.interval_s, d.retention.interval_s);
}

TEST(Config, ClipRulesAreChecked) {
  auto bad = load_string("[clips]\nmin_s = 10.0\nmax_s = 15.0\n", "c.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "c.toml: clips.max_s must be at least twice clips.min_s");
  bad = load_string("[clips]\ntrack_classes = \"car\"\n", "c.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "c.toml:2: key 'clips.track_classes' must be an array of strings");
  bad = load_string("[retention]\nmax_percent = 95.0\nhard_percent = 90.0\n", "c.toml");
  ASSERT_FALSE(bad.ok());
  auto good = load_string("[clips]\ntrack_classes = [\"car\", \"person\"]\n[retention]\nmax_bytes = 5000000000\n", "c.toml");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->clips.planner.track_classes, (std::vector<std::string>{"car", "person"}));
  EXPECT_EQ(good->retention.max_bytes, 5000000000);
}

TEST(Config, DetectorAndTrackerSections) {
  auto c = load_string("[detector]\nkind = \"cascade\"\ncascades = [\"/a.xml\", \"/b.xml\"]\nrate_hz = 2.5\n"
                       "[tracker]\nmin_hits = 1\ncamera_motion = false\nhigh_score = 0.4\n",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->detector.kind, "cascade");
  EXPECT_EQ(c->detector.cascades, (std::vector<std::filesystem::path>{"/a.xml", "/b.xml"}));
  EXPECT_EQ(c->detector.rate_hz, 2.5);
  EXPECT_EQ(c->tracking.tracker.min_hits, 1);
  EXPECT_FALSE(c->tracking.camera_motion);
  EXPECT_FLOAT_EQ(c->tracking.tracker.high_score, 0.4f);

  auto bad = load_string("[detector]\nkind = \"yolo\"\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "s.toml:2: key 'detector.kind' must be one of blazeface, cascade, hog-people, motion, none, onnx, got 'yolo'");
  bad = load_string("[detector]\nclass_min_scores = { person = 1.5 }\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "s.toml:2: key 'detector.class_min_scores' 'person' must be between 0 and 1, got 1.5");
  bad = load_string("[detector]\nformat = \"yolov7\"\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "s.toml:2: key 'detector.format' must be one of auto, nanodet, yolov5, yolov8, yolox, got 'yolov7'");
  bad = load_string("[detector]\ncascades = \"/a.xml\"\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "s.toml:2: key 'detector.cascades' must be an array of path strings");
  bad = load_string("[tracker]\ncamera_motion = 1\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "s.toml:2: key 'tracker.camera_motion' must be true or false");
  bad = load_string("[tracker]\nlow_score = 0.7\nhigh_score = 0.5\n", "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tracker.low_score"), std::string::npos);
}

TEST(Config, ValuesOverrideDefaults) {
  auto c = load_string("data_dir = \"/srv/x\"\n[ingest]\nmode = \"triage\"\nanalysis_width = 320\n"
                       "[keyframes]\nmax_gap_s = 3\n",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "/srv/x");
  EXPECT_EQ(c->ingest.mode, "triage");
  EXPECT_EQ(c->ingest.analysis_width, 320);
  EXPECT_DOUBLE_EQ(c->keyframes.selector.max_gap_s, 3.0);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  auto c = load_string("[ingest]\nmode = \"full\"\nspeed = 3\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:3: unknown key 'ingest.speed'");
}

TEST(Config, UnknownSectionNamesIt) {
  auto c = load_string("\n[ingets]\nmode = \"full\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: unknown key 'ingets'");
}

TEST(Config, WrongTypeNamesFileLineAndKey) {
  auto c = load_string("vehicle = \"v1\"\n[keyframes]\nmin_gap_s = \"soon\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:3: key 'keyframes.min_gap_s' must be a number");
}

TEST(Config, OutOfRangeSaysTheRange) {
  auto c = load_string("[ingest]\nanalysis_width = 10\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: key 'ingest.analysis_width' must be between 64 and 3840, got 10");
}

TEST(Config, EnumListsTheChoices) {
  auto c = load_string("[ingest]\nmode = \"fast\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: key 'ingest.mode' must be one of full, triage, got 'fast'");
}

TEST(Config, SectionGivenAsValueIsAnError) {
  auto c = load_string("ingest = 3\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:1: key 'ingest' must be a table ([ingest])");
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto c = load_string("vehicle = \"v1\"\ncamera = \n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("station.toml:2: ", 0), 0u) << c.status().message();
}

TEST(Config, InconsistentGapsAreAnError) {
  auto c = load_string("[keyframes]\nmin_gap_s = 20\nmax_gap_s = 5\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("min_gap_s"), std::string::npos);
}

TEST(Config, MissingFileIsAnError) {
  auto c = load_file("/nonexistent/dashloop.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/dashloop.toml"), std::string::npos);
}

}  // namespace
}  // namespace dashloop::firmware::config

namespace dashloop::firmware::config {
namespace {

TEST(Config, StationCamerasAreTablesWithUniqueNames) {
  auto c = load_string("[[camera]]\nname = \"road\"\nsource = \"rtsp://10.0.0.5/s\"\n"
                       "[[camera]]\nname = \"cabin\"\nsource = \"v4l2:///dev/video0\"\nrole = \"cabin\"\n", "s.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->cameras.size(), 2u);
  EXPECT_EQ(c->cameras[0].role, "road") << "the default role";
  EXPECT_EQ(c->cameras[1].source, "v4l2:///dev/video0");
  EXPECT_EQ(c->camera, "road") << "ingest and record default to the first";
  EXPECT_TRUE(load_string("camera = \"front\"\n", "s.toml")->cameras.empty());
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"[[camera]]\nname = \"a\"\nsource = \"test://\"\n[[camera]]\nname = \"a\"\nsource = \"test://\"\n",
            "two cameras are named 'a'"},
           {"[[camera]]\nname = \"a\"\n", "needs a name and a source"},
           {"[[camera]]\nname = \"a/b\"\nsource = \"test://\"\n", "may hold only letters"},
           {"[[camera]]\nname = \"a\"\nsource = \"test://\"\nfps = 30\n", "unknown key 'fps'"},
           {"camera = 5\n", "must be a name or [[camera]] tables"}}) {
    auto bad = load_string(text, "s.toml");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find(why), std::string::npos) << bad.status().message();
    EXPECT_NE(bad.status().message().find("s.toml:"), std::string::npos) << "names the file and line";
  }
}

TEST(Config, SyncSettingsAreChecked) {
  auto ok = load_string("[sync]\ntarget = \"s3://b/p\"\nnetwork = \"interface:wlan0\"\nhours = \"22-6\"\n", "t.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->sync.network, "interface:wlan0");
  for (const char* bad : {"[sync]\npart_mib = 4\n", "[sync]\nnetwork = \"sometimes\"\n", "[sync]\nhours = \"25-3\"\n",
                          "[sync]\nhours = \"night\"\n", "[sync]\nsecret_key = \"x\"\n"}) {
    auto c = load_string(bad, "t.toml");
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("sync"), std::string::npos) << c.status().message();
    }
  }
}

TEST(Config, CredentialsFileMustBePrivate) {
  const auto file = std::filesystem::temp_directory_path() / ("dashloop-creds-" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(file);
    out << "access_key = \"AK\"\nsecret_key = \"SECRET\"\n";
  }
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto c = load_credentials(file);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key, "AK");
  EXPECT_EQ(c->secret_key, "SECRET");
  std::filesystem::permissions(file, std::filesystem::perms::group_read, std::filesystem::perm_options::add);
  auto open = load_credentials(file);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("mode 0640"), std::string::npos) << open.status().message();
  EXPECT_EQ(open.status().message().find("SECRET"), std::string::npos) << "the secret is never in a message";
  std::filesystem::remove(file);
}


// Privacy is on unless turned off; a camera's own policy wins over
// [privacy]; a policy or colour that does not exist is named.
TEST(Config, PrivacyPerCameraOverTheDefault) {
  EXPECT_EQ(Config().privacy.faces, "blur");
  auto c = load_string(R"(
[[camera]]
name = "road"
source = "test://"
[[camera]]
name = "cabin"
source = "test://"
faces = "none"
plates = "fill"
[privacy]
plates = "pixelate"
fill = "#ff00ff"
plate_model = "plates/lp.onnx"
plate_labels = "plates/lp.txt"
plate_format = "yolov8"
object_nms_iou = 0.6
)", "p.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto road = privacy_for(*c, "road"), cabin = privacy_for(*c, "cabin"), other = privacy_for(*c, "front");
  EXPECT_EQ(road.faces, "blur");
  EXPECT_EQ(road.plates, "pixelate");
  EXPECT_EQ(cabin.faces, "none");
  EXPECT_EQ(cabin.plates, "fill");
  EXPECT_EQ(other.plates, "pixelate");
  EXPECT_EQ(road.fill_rgb, (std::array<int, 3>{255, 0, 255}));
  EXPECT_TRUE(road.face_model.is_absolute());
  EXPECT_TRUE(road.objects.model.is_absolute());
  EXPECT_EQ(road.plate_model, model_dir() / "plates/lp.onnx");  // the bundled models' directory, as face_model
  EXPECT_EQ(road.plate_labels, model_dir() / "plates/lp.txt");
  EXPECT_EQ(road.plate_format, "yolov8");
  EXPECT_FLOAT_EQ(road.objects.nms_iou, 0.6f);
  EXPECT_TRUE(Config().privacy.plate_model.empty());

  for (const char* bad : {"[privacy]\nfaces = \"smudge\"\n", "[privacy]\nfill = \"red\"\n",
                          "[[camera]]\nname = \"a\"\nsource = \"test://\"\nplates = \"blurry\"\n",
                          "[privacy]\nplate_format = \"ssd\"\n"}) {
    auto r = load_string(bad, "bad.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().message().find("faces") != std::string::npos ||
                r.status().message().find("fill") != std::string::npos ||
                r.status().message().find("plates") != std::string::npos ||
                r.status().message().find("plate_format") != std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace dashloop::firmware::config
