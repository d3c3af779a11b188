// dashloop-make-mot: a generated multi-object scene as MOTChallenge files,
// gt.txt (ground truth) and det.txt (a noisy simulated detector), for the
// end-to-end test of `dashloop track` and `dashloop eval-mot`.
#include <CLI/CLI.hpp>
#include <filesystem>

#include "tools/mot_scene.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Generated MOT scene: gt.txt and det.txt"};
  std::string out;
  dashloop::testing::SceneConfig c;
  app.add_option("--out", out, "output directory")->required();
  app.add_option("--seed", c.seed);
  app.add_option("--frames", c.frames);
  app.add_option("--objects", c.concurrent, "objects on screen at once");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(out);
  const auto scene = dashloop::testing::make_scene(c);
  auto gt = scene.gt;
  for (auto& r : gt) r.conf = 1.0f;
  if (!dashloop::pipeline::vision::write_mot(out + "/gt.txt", gt).ok()) return 1;
  auto det = dashloop::testing::detection_rows(scene);
  return dashloop::pipeline::vision::write_mot(out + "/det.txt", det).ok() ? 0 : 1;
}
