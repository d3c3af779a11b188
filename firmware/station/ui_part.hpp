// The depot UI inside the composition root: the server (ui/) with the hooks
// only this layer can give it (the package builder for edits, the station's
// status over the bus), and a feeder thread that hands every bus event to
// the live pages. `dashloop ui` and `dashloop run` both start it here.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "server.hpp"
#include "status.hpp"

namespace dashloop::app {

class UiPart {
 public:
  using Publish = std::function<void(const std::string& type, const nlohmann::json& fields)>;
  // `publish`: where the UI's own changes go on the bus (null: nowhere).
  static Result<std::unique_ptr<UiPart>> start(const firmware::config::Config& config, Publish publish = nullptr);
  ~UiPart();
  std::string url() const { return server_->url(); }

 private:
  UiPart() = default;
  std::unique_ptr<ui::UiServer> server_;
  std::atomic<bool> stop_{false};
  std::thread feeder_;
};

}  // namespace dashloop::app
