// dashloop track / eval-mot / tracks.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "station/effective_config.hpp"
#include "vision/mot.hpp"

using nlohmann::json;

namespace dashloop::app {

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
