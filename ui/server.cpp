// The depot UI server: started on its port (TLS where a certificate is given), every path mapped to
// its route (the routes_*.cpp files), stopped.
#include "server_impl.hpp"

namespace dashloop::ui {

// Who is logged in; {"name": null} when nobody (the page then shows its login).
void UiServer::Impl::meta(const httplib::Request& req, httplib::Response& res) {
  auto who = authenticate(req);
  if (!who) return reply(res, {{"name", nullptr}});
  reply(res, {{"name", who->name}, {"role", who->role}, {"csrf", who->csrf}, {"version", DASHLOOP_VERSION},
              {"cameras", options.cameras}, {"states", cat::kClipStates},
              {"reject_reasons", options.config.reject_reasons}});
}

void UiServer::Impl::routes() {
  auto& s = *server;
  s.set_payload_max_length(1 << 20);
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(2);  // a part of a request waits at most this long for the next bytes
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("ui: {}", what);
    fail(res, 500, what);
  });
  // Before a body is read or a file served: a control byte in the path (a
  // decoded %00 made "/style.css%00.html" text/html), a chunked body (the
  // 1 MiB limit counts a Content-Length only; 2-4 MiB chunked bodies reached
  // the login handler), and a static file whose links lead out of the web
  // folder are refused.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    using Handled = httplib::Server::HandlerResponse;
    if (std::any_of(req.path.begin(), req.path.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; })) {
      fail(res, 400, "a control byte in the request path");
      return Handled::Handled;
    }
    std::string coding = req.get_header_value("Transfer-Encoding");
    std::transform(coding.begin(), coding.end(), coding.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (coding.find("chunked") != std::string::npos) {
      res.set_header("Connection", "close");  // its body is left unread
      fail(res, 411, "a chunked body: send it with a Content-Length (at most 1 MiB)");
      return Handled::Handled;
    }
    if (req.path.rfind("/api/", 0) != 0 && req.path != "/metrics") {
      const fs::path file = options.web_dir / fs::path(req.path).relative_path();
      std::error_code ec;
      if (fs::exists(file, ec) && !inside(options.web_dir, file)) {
        fail(res, 404, "not found");
        return Handled::Handled;
      }
    }
    return Handled::Unhandled;
  });
  s.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'");
    if (req.path.rfind("/api/", 0) == 0 && !res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  s.Post("/api/v1/login", [this](const auto& q, auto& r) { login(q, r); });
  s.Post("/api/v1/logout", [this](const auto& q, auto& r) { logout(q, r); });
  s.Get("/api/v1/session", [this](const auto& q, auto& r) { meta(q, r); });
  s.Get("/api/v1/clips", [this](const auto& q, auto& r) { list_clips(q, r); });
  s.Get("/api/v1/facets", [this](const auto& q, auto& r) { facets(q, r); });
  s.Get(R"(/api/v1/clips/([^/]+))", [this](const auto& q, auto& r) { clip_detail(q, r); });
  s.Get(R"(/api/v1/clips/([^/]+)/boxes)", [this](const auto& q, auto& r) { clip_boxes(q, r); });
  s.Get(R"(/api/v1/clips/([^/]+)/thumbnail\.jpg)", [this](const auto& q, auto& r) { thumbnail(q, r); });
  s.Get(R"(/api/v1/clips/([^/]+)/files/(.+))", [this](const auto& q, auto& r) { clip_file(q, r); });
  s.Get(R"(/api/v1/clips/([^/]+)/original\.mp4)", [this](const auto& q, auto& r) { original(q, r); });
  s.Post(R"(/api/v1/clips/([^/]+)/ack)", [this](const auto& q, auto& r) { ack(q, r); });
  s.Post(R"(/api/v1/clips/([^/]+)/([a-z]+))", [this](const auto& q, auto& r) { action(q, r); });
  s.Get("/api/v1/station", [this](const auto& q, auto& r) { station(q, r); });
  s.Get("/metrics", [this](const auto& q, auto& r) { metrics(q, r); });
  s.Get(R"(/api/v1/cameras/([^/]+)/keyframe\.jpg)", [this](const auto& q, auto& r) { camera_keyframe(q, r); });
  s.Get("/api/v1/events", [this](const auto& q, auto& r) { event_stream(q, r); });
  s.Get(R"(/api/.*)", [](const auto&, auto& r) { fail(r, 404, "no such API endpoint"); });
  s.set_mount_point("/", options.web_dir.string());
}

UiServer::UiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UiServer::~UiServer() { stop(); }

Result<std::unique_ptr<UiServer>> UiServer::start(UiOptions options, UiHooks hooks) {
  auto impl = std::make_unique<Impl>();
  if (!fs::exists(options.web_dir / "index.html"))
    return Status::NotFound((options.web_dir / "index.html").string() + ": the web app is missing");
  auto catalog = cat::Catalog::open(options.data_dir / "catalog.sqlite");
  if (!catalog.ok()) return catalog.status();
  impl->catalog = std::move(catalog.value());
  // An operator may also give a track any class the fleet's tracks have.
  if (auto counts = impl->catalog->class_counts(); counts.ok()) {
    std::set<std::string> labels(options.labels.begin(), options.labels.end());
    for (const auto& [label, n] : *counts) labels.insert(label);
    options.labels.assign(labels.begin(), labels.end());
  }
  const auto& config = options.config;
  if (!config.cert.empty()) {
    for (const auto& f : {config.cert, config.key})
      if (!fs::exists(f)) return Status::NotFound("ui: " + f + ": no such certificate or key file");
    auto tls = std::make_unique<httplib::SSLServer>(config.cert.c_str(), config.key.c_str());
    if (!tls->is_valid()) return Status::InvalidArgument("ui: " + config.cert + " / " + config.key + ": not a usable certificate and key");
    impl->server = std::move(tls);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  // Each live page holds a thread for its event stream, and a connection
  // that sent a part of its headers holds one until the read times out:
  // more than httplib's default 8. httplib owns (and deletes) the queue.
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second UI would share the port silently instead of being refused.
  // TCP_DEFER_ACCEPT: a connection that sends nothing is not accepted (and
  // takes no worker thread) until its first byte: 200 idle connections held
  // every page back by 14.5 s without it.
  Impl* raw = impl.get();
  impl->server->set_socket_options([raw](socket_t sock) {
    int yes = 1, defer_s = 30;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    raw->listening = sock;
  });
  // Without it a kept-alive connection waits out delayed ACKs: 40 ms a request.
  impl->server->set_tcp_nodelay(true);
  impl->server->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  impl->options = std::move(options);
  impl->hooks = std::move(hooks);
  impl->routes();
  const auto& ui = impl->options.config;
  int port = ui.port;
  if (port == 0) port = impl->server->bind_to_any_port(ui.bind);
  else if (!impl->server->bind_to_port(ui.bind, port)) port = -1;
  if (port <= 0)
    return Status::IOError("ui: cannot listen on " + ui.bind + ":" + std::to_string(ui.port) +
                           " (in use, or not an address of this machine)");
  // Debian's libcpp-httplib listens with a backlog of 5: with more
  // connections at once (deferred idle ones among them) the kernel dropped
  // an operator's SYN and the browser retried it seconds later.
  if (raw->listening >= 0) ::listen(raw->listening, 1024);
  const std::string host = ui.bind.find(':') != std::string::npos ? "[" + ui.bind + "]" : ui.bind;
  impl->url = (ui.cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port) + "/";
  impl->listener = std::thread([raw] { raw->server->listen_after_bind(); });
  // httplib's stop() does nothing before its loop runs: a stop right after
  // the start would then wait on the listener forever.
  for (int i = 0; i < 5000 && !impl->server->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<UiServer>(new UiServer(std::move(impl)));
}

std::string UiServer::url() const { return impl_->url; }

void UiServer::publish(const std::string& event_json) { impl_->publish(event_json); }

void UiServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->events_wake.notify_all();
  impl_->server->stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace dashloop::ui
