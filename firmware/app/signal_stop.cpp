#include "app/signal_stop.hpp"

#include <pthread.h>

#include <ctime>

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
    }
  });
}

SignalStop::~SignalStop() {
  done_ = true;
  waiter_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace dashloop::app
