#include "mot_scene.hpp"

#include <algorithm>
#include <random>

namespace dashloop::testing {

using pipeline::vision::Detection;
using pipeline::vision::MotRow;

namespace {

struct Object {
  int id;
  int class_id;
  cv::Point2f center, velocity;
  cv::Size2f size;
  int64_t hidden_from = -1, hidden_to = -1;  // frames the object is occluded
};

}  // namespace

Scene make_scene(const SceneConfig& c) {
  std::mt19937 rng(c.seed);
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  std::normal_distribution<double> gauss(0.0, 1.0);

  Scene scene;
  scene.detections.resize(c.frames);
  std::vector<Object> alive;
  const cv::Rect2f image(0, 0, static_cast<float>(c.width), static_cast<float>(c.height));

  auto spawn = [&](int64_t frame, bool anywhere) {
    Object o;
    o.id = ++scene.objects;
    o.class_id = static_cast<int>(uniform(0, c.classes));
    scene.gt_class.push_back(o.class_id);
    const float w = static_cast<float>(uniform(40, 160));
    o.size = {w, w * static_cast<float>(uniform(0.8, 2.2))};
    const float speed = static_cast<float>(uniform(1.0, 6.0));
    if (anywhere) {
      o.center = {static_cast<float>(uniform(0.1, 0.9) * c.width), static_cast<float>(uniform(0.1, 0.9) * c.height)};
      const double a = uniform(0, 2 * CV_PI);
      o.velocity = {speed * static_cast<float>(std::cos(a)), speed * static_cast<float>(std::sin(a))};
    } else {  // enter from a random edge, heading inwards
      const int edge = static_cast<int>(uniform(0, 4));
      const float along = static_cast<float>(uniform(0.1, 0.9));
      const cv::Point2f target(static_cast<float>(uniform(0.25, 0.75) * c.width),
                               static_cast<float>(uniform(0.25, 0.75) * c.height));
      o.center = edge == 0 ? cv::Point2f(0, along * c.height)
               : edge == 1 ? cv::Point2f(static_cast<float>(c.width), along * c.height)
               : edge == 2 ? cv::Point2f(along * c.width, 0)
                           : cv::Point2f(along * c.width, static_cast<float>(c.height));
      const cv::Point2f d = target - o.center;
      o.velocity = d * (speed / static_cast<float>(cv::norm(d)));
    }
    if (chance(c.occlusion_chance)) {
      o.hidden_from = frame + static_cast<int64_t>(uniform(0.5, 3.0) * c.fps);
      o.hidden_to = o.hidden_from + static_cast<int64_t>(uniform(0.2, 1.0) * c.max_occlusion_s * c.fps);
    }
    alive.push_back(o);
  };
  for (int i = 0; i < c.concurrent; ++i) spawn(1, true);

  for (int64_t frame = 1; frame <= c.frames; ++frame) {
    auto& dets = scene.detections[frame - 1];
    for (auto& o : alive) {
      if (frame > 1) o.center += o.velocity;
      const cv::Rect2f box(o.center.x - o.size.width / 2, o.center.y - o.size.height / 2, o.size.width, o.size.height);
      if (!image.contains(o.center)) continue;  // left; removed below
      if (frame >= o.hidden_from && frame < o.hidden_to) continue;
      scene.gt.push_back({frame, o.id, box, 1.0f, o.class_id});
      if (chance(c.dropout)) continue;
      Detection d;
      const float sx = static_cast<float>(c.jitter * box.width), sy = static_cast<float>(c.jitter * box.height);
      d.box = {box.x + sx * static_cast<float>(gauss(rng)), box.y + sy * static_cast<float>(gauss(rng)),
               box.width + sx * static_cast<float>(gauss(rng)), box.height + sy * static_cast<float>(gauss(rng))};
      d.score = static_cast<float>(chance(c.weak_share) ? uniform(0.2, 0.5) : uniform(0.55, 0.95));
      d.class_id = chance(c.class_noise) ? static_cast<int>(uniform(0, c.classes)) : o.class_id;
      dets.push_back(d);
    }
    // Objects that left the image are replaced by newcomers.
    const auto before = alive.size();
    std::erase_if(alive, [&](const Object& o) { return !image.contains(o.center); });
    for (size_t i = alive.size(); i < before; ++i) spawn(frame + 1, false);

    std::poisson_distribution<int> fp_count(c.false_positives);
    for (int n = fp_count(rng); n > 0; --n) {
      const float w = static_cast<float>(uniform(30, 150));
      dets.push_back({{static_cast<float>(uniform(0, c.width - w)), static_cast<float>(uniform(0, c.height - w)), w,
                       w * static_cast<float>(uniform(0.8, 2.0))},
                      static_cast<int>(uniform(0, c.classes)), static_cast<float>(uniform(0.1, 0.7))});
    }
    std::shuffle(dets.begin(), dets.end(), rng);
  }
  return scene;
}

std::vector<MotRow> detection_rows(const Scene& scene) {
  std::vector<MotRow> rows;
  for (size_t f = 0; f < scene.detections.size(); ++f)
    for (const auto& d : scene.detections[f])
      rows.push_back({static_cast<int64_t>(f + 1), -1, d.box, d.score, d.class_id});
  return rows;
}

}  // namespace dashloop::testing
