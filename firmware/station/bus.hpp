// The station's bus on ZeroMQ: events go out on a PUB socket (two frames:
// the event's type, then one small JSON object with "v": 1, "type", "utc"),
// control requests come in on a REP socket (one JSON object each way; a
// malformed or unknown request gets {"ok": false, "error": ...}). The
// endpoints are ipc:// sockets in the data directory's run/ (mode 0660).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "status.hpp"

namespace dashloop::app {

struct BusEndpoints {
  std::string events;           // PUB of the whole station, or of its record part
  std::string analysis_events;  // PUB of the analysis part when it runs alone (--only analysis)
  std::string control;          // REP of the whole station, or of its record part
  std::string sync_events;      // PUB of the sync part when it runs alone (--only sync)
};
BusEndpoints bus_endpoints(const std::filesystem::path& data_dir);

class EventBus {
 public:
  static Result<std::unique_ptr<EventBus>> bind(zmq::context_t& context, const std::string& endpoint);
  // Thread-safe (one socket behind a mutex: ZeroMQ allows a socket to change
  // threads across a full memory barrier). Never blocks: no subscriber, no send.
  void publish(const std::string& type, nlohmann::json fields = nlohmann::json::object());
  ~EventBus();

 private:
  EventBus(zmq::socket_t socket, std::string endpoint) : socket_(std::move(socket)), endpoint_(std::move(endpoint)) {}
  std::mutex mutex_;
  zmq::socket_t socket_;
  std::string endpoint_;
};

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  static Result<std::unique_ptr<ControlServer>> bind(zmq::context_t& context, const std::string& endpoint);
  // Waits up to wait_ms for one request and answers it. Requests that are not
  // a JSON object with a string "cmd" are answered with an error here; the
  // handler's exceptions become error replies too: nothing stops the station.
  void serve_one(int wait_ms, const Handler& handler);
  ~ControlServer();
  static constexpr size_t kMaxRequest = 64 * 1024;  // bytes

 private:
  ControlServer(zmq::socket_t socket, std::string endpoint) : socket_(std::move(socket)), endpoint_(std::move(endpoint)) {}
  zmq::socket_t socket_;
  std::string endpoint_;
};

// Clients. A request with no reply within timeout_ms is an error naming the endpoint.
Result<nlohmann::json> bus_request(const std::string& endpoint, const nlohmann::json& request, int timeout_ms);
// Calls on_event with each event's JSON, from every endpoint, until it
// returns false, `stop` is set, or timeout_s passes (0: no limit).
Status bus_subscribe(const std::vector<std::string>& endpoints, const std::function<bool(const std::string&)>& on_event,
                     const std::atomic<bool>& stop, double timeout_s);

}  // namespace dashloop::app
