// The station routes: the station screen's state, a camera's last keyframe, and the event stream
// (server-sent events from the bus, kept for pages that reconnect).
#include "server_impl.hpp"

namespace dashloop::ui {

void UiServer::Impl::station(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, true, false)) return;
  json status = hooks.station_status ? hooks.station_status() : json(nullptr);
  json queue = json::object();
  json cameras = json::array();
  {
    std::lock_guard lock(db_mutex);
    if (auto counts = catalog->clip_counts(); counts.ok())
      for (const auto& [state, n] : *counts) queue[state] = n;
    auto drives = catalog->drives();
    for (const auto& name : options.cameras) {
      json cam = {{"name", name}};
      if (drives.ok())
        for (auto it = drives->rbegin(); it != drives->rend(); ++it) {
          if (it->camera != name) continue;
          cam["last_drive"] = {{"id", it->id},          {"ingested_utc", it->ingested_utc},
                               {"frames", it->frames},  {"detected_frames", it->detected_frames},
                               {"detection_skipped", it->detection_skipped}, {"duration_s", it->duration_s}};
          cam["keyframe"] = "/api/v1/cameras/" + name + "/keyframe.jpg";
          break;
        }
      cameras.push_back(cam);
    }
  }
  if (status.is_object() && status.contains("cameras"))
    for (auto& cam : cameras)
      for (const auto& live : status["cameras"])
        if (live.value("name", "") == cam["name"]) cam["live"] = live;
  std::error_code ec;
  const auto space = fs::space(options.data_dir, ec);
  json errors;
  {
    std::lock_guard lock(events_mutex);
    errors = json(std::vector<json>(this->errors.begin(), this->errors.end()));
  }
  reply(res, {{"running", !status.is_null()},
              {"status", status},
              {"cameras", cameras},
              {"queue", queue},
              {"sync", status.is_object() ? status.value("sync", json::object()) : json::object()},
              {"disk", {{"path", options.data_dir.string()},
                        {"total_bytes", ec ? 0 : int64_t(space.capacity)},
                        {"free_bytes", ec ? 0 : int64_t(space.available)}}},
              {"errors", errors}});
}

void UiServer::Impl::camera_keyframe(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, true, false)) return;
  const std::string name = req.matches[1];
  if (std::find(options.cameras.begin(), options.cameras.end(), name) == options.cameras.end())
    return fail(res, 404, "no camera named '" + name.substr(0, 64) + "'");
  fs::path image;
  {
    std::lock_guard lock(db_mutex);
    auto drives = catalog->drives();
    if (!drives.ok()) return fail(res, 500, drives.status().message());
    for (auto it = drives->rbegin(); it != drives->rend() && image.empty(); ++it) {
      if (it->camera != name) continue;
      if (auto keys = catalog->keyframes(it->id); keys.ok() && !keys->empty()) image = keys->back().image_path;
    }
  }
  if (image.empty() || !serve_file(req, res, image, "image/jpeg"))
    fail(res, 404, "camera '" + name + "': no keyframe yet");
}

void UiServer::Impl::publish(const std::string& event_json) {
  const json e = json::parse(event_json, nullptr, false);
  std::lock_guard lock(events_mutex);
  events.emplace_back(next_event++, event_json);
  while (events.size() > kMaxEvents) events.pop_front();
  if (e.is_object()) {
    const std::string type = e.value("type", "");
    const bool error = (type == "camera.state" && e.value("state", "") != "up") || type == "analysis.failed" ||
                       (type == "clip.state" && e.value("state", "") == "failed") ||
                       (type == "sync.pass" && !e.value("last_pass", json::object()).value("errors", json::array()).empty());
    if (error) {
      errors.push_front(e);
      while (errors.size() > kMaxErrors) errors.pop_back();
    }
  }
  events_wake.notify_all();
}

// text/event-stream: each event as one `data:` line, a comment every
// 15 s so a dead connection is found and its thread freed.
void UiServer::Impl::event_stream(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, false, false)) return;
  uint64_t cursor;
  {
    std::lock_guard lock(events_mutex);
    cursor = next_event - 1;
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  auto position = std::make_shared<uint64_t>(cursor);
  res.set_chunked_content_provider("text/event-stream", [this, position](size_t, httplib::DataSink& sink) {
    std::string out;
    {
      std::unique_lock lock(events_mutex);
      events_wake.wait_for(lock, std::chrono::seconds(15),
                           [&] { return stopping.load() || (!events.empty() && events.back().first > *position); });
      if (stopping) return false;
      for (const auto& [seq, text] : events)
        if (seq > *position) {
          out += "data: " + text + "\n\n";
          *position = seq;
        }
    }
    if (out.empty()) out = ": keep-alive\n\n";
    return sink.write(out.data(), out.size());
  });
}

}  // namespace dashloop::ui
