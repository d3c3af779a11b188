#include "metrics.hpp"

#include <map>
#include <sstream>

using nlohmann::json;

namespace dashloop::ui {
namespace {

// One metric family: its HELP and TYPE lines, then each sample.
class Family {
 public:
  Family(std::ostringstream& out, const std::string& name, const char* type, const char* help)
      : out_(out), name_(name) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  // Label values here are camera names and states: letters, digits, - and _, nothing to escape.
  Family& sample(double value, const std::string& label = "", const std::string& label_value = "") {
    out_ << name_;
    if (!label.empty()) out_ << '{' << label << "=\"" << label_value << "\"}";
    out_ << ' ' << value << '\n';
    return *this;
  }

 private:
  std::ostringstream& out_;
  std::string name_;
};

double number(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

}  // namespace

std::string prometheus_metrics(const MetricsInput& in) {
  std::ostringstream out;
  out.precision(15);
  const bool running = in.station.is_object() && in.station.value("ok", false);
  Family(out, "dashloop_station_up", "gauge", "Whether a station answered on its control socket.").sample(running);

  // Every state, so that a series does not vanish when its count is 0.
  std::map<std::string, int64_t> clips = {{"planned", 0},  {"packaged", 0}, {"review", 0},
                                          {"approved", 0}, {"rejected", 0}, {"uploading", 0},
                                          {"uploaded", 0}, {"acked", 0},    {"failed", 0}};
  for (const auto& [state, n] : in.clips_by_state) clips[state] = n;
  Family queue(out, "dashloop_clips", "gauge", "Clips in the catalog by queue state.");
  for (const auto& [state, n] : clips) queue.sample(double(n), "state", state);
  Family(out, "dashloop_disk_total_bytes", "gauge", "Size of the data directory's file system.")
      .sample(double(in.disk_total_bytes));
  Family(out, "dashloop_disk_free_bytes", "gauge", "Space left on the data directory's file system.")
      .sample(double(in.disk_free_bytes));
  if (!running) return out.str();

  const json cameras = in.station.value("cameras", json::array());
  const auto per_camera = [&](const std::string& name, const char* type, const char* help, auto value) {
    Family f(out, name, type, help);
    for (const auto& c : cameras) f.sample(value(c), "camera", c.value("name", ""));
  };
  per_camera("dashloop_camera_up", "gauge", "Whether the camera's pipeline runs (state up).",
             [](const json& c) { return double(c.value("state", "") == "up"); });
  per_camera("dashloop_camera_reconnects_total", "counter", "Times the camera's pipeline was rebuilt since the start.",
             [](const json& c) { return number(c, "reconnects"); });
  per_camera("dashloop_camera_segments_total", "counter", "Recording segments closed since the start.",
             [](const json& c) { return number(c, "segments"); });
  per_camera("dashloop_camera_unanalysed_seconds", "gauge", "Recorded video waiting for analysis.",
             [](const json& c) { return number(c, "unanalysed_s"); });
  per_camera("dashloop_clip_budget_used_seconds", "gauge", "Clip seconds of the camera's last hour of driving.",
             [](const json& c) { return number(c.value("clip_budget", json::object()), "used_s"); });
  per_camera("dashloop_clip_budget_allowed_seconds", "gauge", "Clip seconds its budget allows in that hour.",
             [](const json& c) { return number(c.value("clip_budget", json::object()), "allowed_s"); });
  Family(out, "dashloop_drives_analysed_total", "counter", "Analysis chunks (drives) analysed since the start.")
      .sample(number(in.station, "drives_analysed"));
  Family(out, "dashloop_analysis_due", "gauge", "Cameras whose closed segments wait for the analysis.")
      .sample(number(in.station, "analysis_due"));

  const json sync = in.station.value("sync", json::object());
  if (sync.contains("totals")) {
    const json totals = sync["totals"];
    Family(out, "dashloop_sync_uploaded_total", "counter", "Packages uploaded since the start.")
        .sample(number(totals, "uploaded"));
    Family(out, "dashloop_sync_failed_total", "counter", "Package uploads that failed since the start.")
        .sample(number(totals, "failed"));
    Family(out, "dashloop_sync_sent_bytes_total", "counter", "Bytes sent to the upload target since the start.")
        .sample(number(totals, "bytes_sent"));
    Family(out, "dashloop_sync_waiting", "gauge", "Approved packages the last pass left waiting.")
        .sample(number(sync.value("last_pass", json::object()), "waiting"));
    Family(out, "dashloop_sync_network_up", "gauge", "Whether the last pass reached the upload target.")
        .sample(double(sync.value("network", "") == "ok"));
  }
  return out.str();
}

}  // namespace dashloop::ui
