// SignalStop: turns SIGINT/SIGTERM into a flag, for as long as it lives.
//
// The signals are blocked in the constructing thread (and so in the threads
// it starts later, GStreamer's among them) and taken by a helper thread with
// sigtimedwait: no signal handler, no global state.
#pragma once

#include <atomic>
#include <csignal>
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

 private:
  sigset_t set_{};
  sigset_t old_{};
  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
  std::thread waiter_;
};

}  // namespace dashloop::app
