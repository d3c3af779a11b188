// GET /metrics: the station's state for Prometheus.
#include "server_impl.hpp"

namespace dashloop::ui {

// Prometheus scrapes with a reader token (`authorization: {credentials: TOKEN}`).
void UiServer::Impl::metrics(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, false, false)) return;
  MetricsInput in;
  in.station = hooks.station_status ? hooks.station_status() : json(nullptr);
  {
    std::lock_guard lock(db_mutex);
    auto counts = catalog->clip_counts();
    if (!counts.ok()) return fail(res, 500, counts.status().message());
    in.clips_by_state = std::move(*counts);
  }
  std::error_code ec;
  const auto space = fs::space(options.data_dir, ec);
  in.disk_total_bytes = ec ? 0 : int64_t(space.capacity);
  in.disk_free_bytes = ec ? 0 : int64_t(space.available);
  res.set_content(prometheus_metrics(in), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace dashloop::ui
