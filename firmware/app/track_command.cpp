// dashloop track / eval-mot / tracks, and the catalog form of ingest's tracks.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/effective_config.hpp"
#include "app/objects.hpp"
#include "vision/mot.hpp"

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

int run_track(const GlobalOptions& global, const TrackOptions& options) {
  auto config = effective_config(global);
  if (auto* code = std::get_if<int>(&config)) return *code;
  const auto& tracking = std::get<firmware::config::Config>(config).tracking;
  auto detections = pipeline::vision::read_mot(options.detections);
  if (!detections.ok()) {
    spdlog::error("track: {}", detections.status().message());
    return kExitInput;
  }
  auto calibration = pipeline::vision::calibrate_scores(*detections, options.min_score, options.score_map);
  if (!calibration.ok()) {
    spdlog::error("track: {}", calibration.status().message());
    return kExitUsage;
  }
  spdlog::info("track: {}: {}", options.detections, calibration->describe());
  const auto rows = options.online
                        ? pipeline::vision::track_mot(*detections, tracking.tracker, options.fill_gap)
                        : pipeline::vision::track_mot_offline(*detections, tracking.tracker, tracking.offline);
  if (Status st = pipeline::vision::write_mot(options.out, rows); !st.ok()) {
    spdlog::error("track: {}", st.message());
    return kExitStorage;
  }
  std::map<int, int> ids;
  for (const auto& r : rows) ++ids[r.id];
  spdlog::info("track: {} detections -> {} tracks, {} boxes in {}", detections->size(), ids.size(), rows.size(),
               options.out);
  return kExitOk;
}

int run_eval_mot(const EvalMotOptions& options) {
  auto gt = pipeline::vision::read_mot(options.gt);
  if (!gt.ok()) {
    spdlog::error("eval-mot: {}", gt.status().message());
    return kExitInput;
  }
  auto pred = pipeline::vision::read_mot(options.pred);
  if (!pred.ok()) {
    spdlog::error("eval-mot: {}", pred.status().message());
    return kExitInput;
  }
  const auto m = pipeline::vision::evaluate_mot(*gt, *pred, options.min_iou);
  if (options.json) {
    std::cout << json{{"hota", m.hota}, {"deta", m.deta}, {"assa", m.assa}, {"mota", m.mota}, {"motp", m.motp}, {"idf1", m.idf1}, {"idp", m.idp}, {"idr", m.idr},
                      {"precision", m.precision}, {"recall", m.recall}, {"id_switches", m.id_switches},
                      {"false_positives", m.false_positives}, {"false_negatives", m.misses}, {"matches", m.matches},
                      {"gt_boxes", m.gt}, {"predicted_boxes", m.predicted}, {"gt_ids", m.gt_ids},
                      {"predicted_ids", m.predicted_ids}, {"min_iou", options.min_iou}}
                     .dump(2)
              << std::endl;
  } else {
    std::printf("HOTA %.4f  DetA %.4f  AssA %.4f\n", m.hota, m.deta, m.assa);
    std::printf("MOTA %.4f  MOTP %.4f  IDF1 %.4f  IDP %.4f  IDR %.4f\n", m.mota, m.motp, m.idf1, m.idp, m.idr);
    std::printf("IDsw %lld  FP %lld  FN %lld  matches %lld  GT boxes %lld (%d ids)  predicted %lld (%d ids)\n",
                static_cast<long long>(m.id_switches), static_cast<long long>(m.false_positives),
                static_cast<long long>(m.misses), static_cast<long long>(m.matches), static_cast<long long>(m.gt),
                m.gt_ids, static_cast<long long>(m.predicted), m.predicted_ids);
  }
  return kExitOk;
}

}  // namespace dashloop::app
