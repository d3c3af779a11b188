// dashloop ui: the depot UI alone (beside a running station, or over the
// catalog of a depot PC); dashloop user / token: who may use it.
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "station/clip_maker.hpp"
#include "app/commands.hpp"
#include "station/context.hpp"
#include "station/signal_stop.hpp"
#include "station/ui_part.hpp"
#include "auth.hpp"

namespace dashloop::app {
namespace {

// A line from the terminal without echo, or from stdin when it is not one.
std::optional<std::string> read_secret(const std::string& prompt) {
  const bool tty = isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt.c_str());
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  const bool got = bool(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!got) return std::nullopt;
  return line;
}

}  // namespace

Status add_operator(firmware::catalog::Catalog& catalog, const std::string& name, const std::string& password,
                    bool one_time) {
  if (Status st = ui::check_account_name(name); !st.ok()) return st;
  if (Status st = ui::check_new_password(password); !st.ok()) return st;
  auto hash = ui::hash_password(password);
  if (!hash.ok()) return hash.status();
  return catalog.add_operator({name, "operator", *hash, 0, "", "", one_time});
}

int run_user_add(const GlobalOptions& global, const std::string& name, bool one_time) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  if (one_time) {
    const std::string password = ui::random_hex(8);
    if (Status st = add_operator(*ctx.catalog, name, password, true); !st.ok()) {
      spdlog::error("user add: {}", st.message());
      return kExitUsage;
    }
    std::printf("operator %s added; one-time password %s (replaced at the first login)\n", name.c_str(),
                password.c_str());
    return kExitOk;
  }
  auto password = read_secret("password for " + name + ": ");
  if (!password) {
    spdlog::error("user add {}: no password given (type it, or pipe one line to stdin)", name);
    return kExitUsage;
  }
  if (isatty(STDIN_FILENO)) {
    auto again = read_secret("again: ");
    if (!again || *again != *password) {
      spdlog::error("user add {}: the two passwords differ", name);
      return kExitUsage;
    }
  }
  if (Status st = add_operator(*ctx.catalog, name, *password, false); !st.ok()) {
    spdlog::error("user add: {}", st.message());
    return kExitUsage;
  }
  std::printf("operator %s added\n", name.c_str());
  return kExitOk;
}

int run_user_remove(const GlobalOptions& global, const std::string& name) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  if (Status st = std::get<Context>(prepared).catalog->remove_operator(name); !st.ok()) {
    spdlog::error("user remove: {}", st.message());
    return kExitInput;
  }
  std::printf("%s removed\n", name.c_str());
  return kExitOk;
}

int run_user_unlock(const GlobalOptions& global, const std::string& name) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  if (Status st = std::get<Context>(prepared).catalog->unlock_operator(name); !st.ok()) {
    spdlog::error("user unlock: {}", st.message());
    return kExitInput;
  }
  std::printf("%s unlocked\n", name.c_str());
  return kExitOk;
}

int run_user_list(const GlobalOptions& global) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto ops = std::get<Context>(prepared).catalog->operators();
  if (!ops.ok()) {
    spdlog::error("user list: {}", ops.status().message());
    return kExitStorage;
  }
  for (const auto& o : *ops)
    std::printf("%-24s %-8s since %s%s%s%s\n", o.name.c_str(), o.role.c_str(), o.created_utc.c_str(),
                o.role == "reader" ? (", scope " + o.scope).c_str() : "",
                o.one_time ? ", one-time password not yet replaced" : "",
                o.locked_until_utc.empty() ? "" : (", locked until " + o.locked_until_utc).c_str());
  return kExitOk;
}

// A reader (Prometheus, or the cloud job with scope ack): the token is
// printed once and only its hash kept.
int run_token_add(const GlobalOptions& global, const std::string& name, const std::string& scope) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  if (Status st = ui::check_account_name(name); !st.ok()) {
    spdlog::error("token add: {}", st.message());
    return kExitUsage;
  }
  const std::string token = ui::random_hex(32);
  if (Status st = std::get<Context>(prepared).catalog->add_operator({name, "reader", ui::sha256_hex(token), 0, "", "", false, scope});
      !st.ok()) {
    spdlog::error("token add: {}", st.message());
    return kExitUsage;
  }
  std::printf("%s\n", token.c_str());
  spdlog::info("token add: reader '{}' ({}); the token is shown only now", name,
               scope == "ack" ? "list, download and ack: the cloud job" : "read-only: list, download, metrics");
  return kExitOk;
}

int run_ui(const GlobalOptions& global, const UiCommandOptions& options) {
  SignalStop signals;
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  if (options.port >= 0) ctx.config.ui.port = options.port;
  if (!options.demo_operator.empty()) {
    // The demo's operator: a fresh random password each start, spent at the first login.
    const std::string password = ui::random_hex(8);
    ctx.catalog->remove_operator(options.demo_operator);
    if (Status st = add_operator(*ctx.catalog, options.demo_operator, password, true); !st.ok()) {
      spdlog::error("ui: {}", st.message());
      return kExitUsage;
    }
    std::printf("ui: operator '%s', one-time password %s\n", options.demo_operator.c_str(), password.c_str());
  }
  // What an edit cut short by a kill left beside the packages (a staging
  // directory, its original): of processes no longer running only.
  remove_partial_packages(ctx.config.data_dir);
  auto part = UiPart::start(ctx.config);
  if (!part.ok()) {
    spdlog::error("ui: {}", part.status().message());
    return kExitUsage;
  }
  std::printf("ui: %s\n", (*part)->url().c_str());
  std::fflush(stdout);
  sd_notify(0, "READY=1");  // dashloop-ui.service (run --only ui)
  uint64_t watchdog_us = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;
  const auto started = std::chrono::steady_clock::now();
  auto last_ping = started - std::chrono::hours(1);
  while (!signals.requested()) {
    const auto now = std::chrono::steady_clock::now();
    if (options.seconds > 0 && now - started >= std::chrono::duration<double>(options.seconds)) break;
    if (watchdog && now - last_ping >= std::chrono::microseconds(watchdog_us / 2)) {
      sd_notify(0, "WATCHDOG=1");
      last_ping = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  sd_notify(0, "STOPPING=1");
  return kExitOk;
}

}  // namespace dashloop::app
