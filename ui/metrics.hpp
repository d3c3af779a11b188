// The station's figures in Prometheus' text exposition format, for
// `GET /metrics` (docs/UI.md "Metrics"): the queue from the catalog, the
// disk, and, when a station runs, its cameras, clip budgets, analysis and
// sync from its status reply. Pure: inputs in, text out.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dashloop::ui {

struct MetricsInput {
  nlohmann::json station;  // the bus's status reply; null when no station runs
  std::vector<std::pair<std::string, int64_t>> clips_by_state;
  int64_t disk_total_bytes = 0;
  int64_t disk_free_bytes = 0;
};

std::string prometheus_metrics(const MetricsInput& in);

}  // namespace dashloop::ui
