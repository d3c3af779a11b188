// SignalStop: turns SIGINT/SIGTERM, and the power-fail input once watched,
// into a flag, for as long as it lives.
//
// The signals are blocked in the constructing thread (and so in the threads
// it starts later, GStreamer's among them) and taken by a helper thread with
// sigtimedwait: no signal handler, no global state. The same thread reads the
// power-fail file on each 200 ms tick.
#pragma once

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace dashloop::app {

class SignalStop {
 public:
  SignalStop();
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  const std::atomic<bool>& requested() const { return requested_; }
  int signal() const { return signal_.load(); }
  // A stop is asked for once the first word of `file` is `fail_value`; a
  // file that cannot be read is not a power failure, an empty path not watched.
  void watch_power(std::filesystem::path file, std::string fail_value);
  bool power_failed() const { return power_failed_.load(); }

 private:
  void read_power();

  std::mutex power_mutex_;
  std::filesystem::path power_file_;
  std::string fail_value_;
  std::atomic<bool> power_failed_{false};
  sigset_t set_{};
  sigset_t old_{};
  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
  std::thread waiter_;
};

}  // namespace dashloop::app
