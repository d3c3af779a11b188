// The depot UI's server (docs/UI.md): a JSON API under /api/v1, live events
// as server-sent events, and the web app (ui/web) as static files, on
// cpp-httplib. Operators log in with a password (session cookie + CSRF
// token); the cloud job reads with a token (Authorization: Bearer).
//
// It sees the catalog and the package files; what only the running station
// knows (its cameras' state) and what only the composition root can do
// (rebuild a package) come in as hooks, so ui/ depends on firmware and
// never the other way.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "status.hpp"

namespace dashloop::ui {

struct UiOptions {
  firmware::config::UiConfig config;
  std::filesystem::path data_dir;  // catalog.sqlite, packages/, ui-cache/
  std::filesystem::path web_dir;   // the web app's files
  std::vector<std::string> cameras;
  std::vector<std::string> labels;  // classes an operator may give a track (besides the package's and the catalog's)
};

struct UiHooks {
  // Rebuilds a clip's package with an operator's edits (the whole set).
  std::function<Status(int64_t clip_id, const nlohmann::json& edits, const std::string& actor)> edit;
  // The running station's status (the bus's `status` reply), or null when none runs.
  std::function<nlohmann::json()> station_status;
  // A change made here (type, fields), for the bus.
  std::function<void(const std::string& type, const nlohmann::json& fields)> changed;
};

class UiServer {
 public:
  // Binds (port 0: any free one) and serves on its own threads.
  static Result<std::unique_ptr<UiServer>> start(UiOptions options, UiHooks hooks);
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  std::string url() const;
  // One event (the bus's JSON) to every live page.
  void publish(const std::string& event_json);
  void stop();

 private:
  struct Impl;
  explicit UiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::ui
