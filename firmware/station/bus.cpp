#include "station/bus.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>

#include "media/recorder.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

// ipc:// paths are limited to sockaddr_un's 107 bytes.
Status check_ipc(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() - 6 > 107)
    return Status::InvalidArgument(endpoint + ": the socket path is longer than 107 bytes (choose a shorter data_dir)");
  return Status::Ok();
}

Status bind_socket(zmq::socket_t& socket, const std::string& endpoint) {
  if (Status st = check_ipc(endpoint); !st.ok()) return st;
  const fs::path path = endpoint.rfind("ipc://", 0) == 0 ? fs::path(endpoint.substr(6)) : fs::path();
  std::error_code ec;
  if (!path.empty()) {
    fs::create_directories(path.parent_path(), ec);
    fs::remove(path, ec);  // left by a station that did not exit cleanly
  }
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::IOError(endpoint + ": cannot bind: " + e.what());
  }
  if (!path.empty()) ::chmod(path.c_str(), 0660);  // the station's user and group only
  return Status::Ok();
}

// A stopped station leaves no socket behind: "no socket" means "not running".
void unlink_ipc(const std::string& endpoint) {
  std::error_code ec;
  if (endpoint.rfind("ipc://", 0) == 0) fs::remove(endpoint.substr(6), ec);
}

}  // namespace

BusEndpoints bus_endpoints(const fs::path& data_dir) {
  const fs::path run = fs::absolute(data_dir / "run").lexically_normal();
  return {"ipc://" + (run / "events.sock").string(), "ipc://" + (run / "events-analysis.sock").string(),
          "ipc://" + (run / "control.sock").string(), "ipc://" + (run / "events-sync.sock").string()};
}

Result<std::unique_ptr<EventBus>> EventBus::bind(zmq::context_t& context, const std::string& endpoint) {
  zmq::socket_t socket(context, zmq::socket_type::pub);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 10000);  // a slow subscriber loses events, never stalls the station
  if (Status st = bind_socket(socket, endpoint); !st.ok()) return st;
  return std::unique_ptr<EventBus>(new EventBus(std::move(socket), endpoint));
}

EventBus::~EventBus() { unlink_ipc(endpoint_); }
ControlServer::~ControlServer() { unlink_ipc(endpoint_); }

void EventBus::publish(const std::string& type, json fields) {
  fields["v"] = 1;
  fields["type"] = type;
  fields["utc"] = pipeline::media::utc_now();
  const std::string body = fields.dump();
  std::lock_guard lock(mutex_);
  try {
    socket_.send(zmq::buffer(type), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    socket_.send(zmq::buffer(body), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::warn("bus: cannot publish {}: {}", type, e.what());
  }
}

Result<std::unique_ptr<ControlServer>> ControlServer::bind(zmq::context_t& context, const std::string& endpoint) {
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  // A request is small: one over kMaxRequest is answered with an error;
  // ZeroMQ drops one over 16 times that before we see it (a bound on memory).
  socket.set(zmq::sockopt::maxmsgsize, int64_t(16 * kMaxRequest));
  if (Status st = bind_socket(socket, endpoint); !st.ok()) return st;
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(socket), endpoint));
}

void ControlServer::serve_one(int wait_ms, const Handler& handler) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(wait_ms)) <= 0) return;
  zmq::message_t in;
  if (!socket_.recv(in, zmq::recv_flags::dontwait)) return;
  while (socket_.get(zmq::sockopt::rcvmore)) {  // a REP answers every request, even a multi-part one
    zmq::message_t more;
    (void)socket_.recv(more, zmq::recv_flags::dontwait);
  }
  json reply;
  const json request = in.size() > kMaxRequest ? json(nullptr)
                                               : json::parse(in.to_string_view(), nullptr, /*allow_exceptions=*/false);
  if (in.size() > kMaxRequest) {
    reply = {{"ok", false},
             {"error", "a request of " + std::to_string(in.size()) + " bytes; at most " + std::to_string(kMaxRequest)}};
  } else if (request.is_discarded() || !request.is_object()) {
    reply = {{"ok", false}, {"error", "not a JSON object"}};
  } else if (!request.contains("cmd") || !request["cmd"].is_string()) {
    reply = {{"ok", false}, {"error", "no \"cmd\" string"}};
  } else {
    try {
      reply = handler(request);
    } catch (const std::exception& e) {
      reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
    }
  }
  if (!reply.value("ok", false)) spdlog::warn("bus: control request refused: {}", reply.value("error", "?"));
  socket_.send(zmq::buffer(reply.dump()), zmq::send_flags::dontwait);
}

Result<json> bus_request(const std::string& endpoint, const json& request, int timeout_ms) {
  if (Status st = check_ipc(endpoint); !st.ok()) return st;
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
  socket.set(zmq::sockopt::sndtimeo, timeout_ms);
  if (endpoint.rfind("ipc://", 0) == 0 && !fs::exists(endpoint.substr(6)))
    return Status::NotFound(endpoint + ": no station is running (no socket)");
  try {
    socket.connect(endpoint);
    if (!socket.send(zmq::buffer(request.dump()))) return Status::IOError(endpoint + ": the station does not answer");
    zmq::message_t reply;
    if (!socket.recv(reply)) return Status::IOError(endpoint + ": no reply within " + std::to_string(timeout_ms) + " ms");
    json parsed = json::parse(reply.to_string_view(), nullptr, false);
    if (parsed.is_discarded()) return Status::Corruption(endpoint + ": the reply is not JSON");
    return parsed;
  } catch (const zmq::error_t& e) {
    return Status::IOError(endpoint + ": " + e.what());
  }
}

Status bus_subscribe(const std::vector<std::string>& endpoints, const std::function<bool(const std::string&)>& on_event,
                     const std::atomic<bool>& stop, double timeout_s) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::sub);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::subscribe, "");
  for (const auto& endpoint : endpoints) {
    if (Status st = check_ipc(endpoint); !st.ok()) return st;
    try {
      socket.connect(endpoint);  // a station started later is found when it binds
    } catch (const zmq::error_t& e) {
      return Status::IOError(endpoint + ": " + e.what());
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!stop && (timeout_s <= 0 || std::chrono::steady_clock::now() < deadline)) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(200)) <= 0) continue;
    zmq::message_t type, body;
    if (!socket.recv(type, zmq::recv_flags::dontwait)) continue;
    if (!socket.get(zmq::sockopt::rcvmore) || !socket.recv(body, zmq::recv_flags::dontwait)) continue;
    if (!on_event(body.to_string())) break;
  }
  return Status::Ok();
}

}  // namespace dashloop::app
