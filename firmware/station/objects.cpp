#include "station/objects.hpp"

#include <nlohmann/json.hpp>
#include <string>

using nlohmann::json;

namespace dashloop::app {

firmware::catalog::DriveObjects drive_objects(const pipeline::TrackingResult& result, double fps) {
  auto label_of = [&](int cls) {
    return cls >= 0 && cls < static_cast<int>(result.labels.size()) ? result.labels[cls] : "class" + std::to_string(cls);
  };
  auto seconds = [&](int64_t frame) { return fps > 0 ? static_cast<double>(frame) / fps : 0.0; };
  firmware::catalog::DriveObjects out;
  for (const auto& t : result.tracks) {
    firmware::catalog::TrackRecord r;
    r.track_no = t.id;
    r.label = label_of(t.class_id());
    r.first_frame = t.first_frame();
    r.last_frame = t.last_frame();
    r.first_s = seconds(r.first_frame);
    r.last_s = seconds(r.last_frame);
    r.mean_score = t.mean_score();
    json votes = json::object();
    for (const auto& [cls, n] : t.class_votes) votes[label_of(cls)] = n;
    r.class_votes = votes.dump();
    for (const auto& b : t.boxes) {
      r.boxes.push_back({b.frame, b.box.x, b.box.y, b.box.width, b.box.height, b.score, b.predicted});
      if (!b.predicted) ++r.detections;
    }
    out.tracks.push_back(std::move(r));
  }
  for (const auto& e : result.events)
    out.events.push_back({0, e.frame, seconds(e.frame), pipeline::vision::to_string(e.kind), e.track_id, label_of(e.class_id)});
  return out;
}

}  // namespace dashloop::app
