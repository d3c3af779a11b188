#include "station/signal_stop.hpp"

#include <pthread.h>

#include <ctime>
#include <fstream>

namespace dashloop::app {

SignalStop::SignalStop() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  waiter_ = std::thread([this] {
    const timespec tick{0, 200'000'000};
    while (!done_.load()) {
      const int sig = sigtimedwait(&set_, nullptr, &tick);
      if (sig > 0) {
        signal_ = sig;
        requested_ = true;
      }
      read_power();
    }
  });
}

void SignalStop::watch_power(std::filesystem::path file, std::string fail_value) {
  std::lock_guard lock(power_mutex_);
  power_file_ = std::move(file);
  fail_value_ = std::move(fail_value);
}

void SignalStop::read_power() {
  std::lock_guard lock(power_mutex_);
  if (power_file_.empty() || power_failed_) return;
  std::ifstream in(power_file_);  // sysfs: a fresh read each time gives the pin's level now
  std::string value;
  if (!(in >> value) || value != fail_value_) return;
  power_failed_ = true;
  requested_ = true;
}

SignalStop::~SignalStop() {
  done_ = true;
  waiter_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace dashloop::app
