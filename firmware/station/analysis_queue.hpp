// AnalysisQueue: what a station's cameras hand its analysis thread, under
// one mutex: which cameras have closed video to analyse, and the triggers
// waiting for their clips. Kept apart so its order can be tested alone.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dashloop::app {

struct PendingTrigger {
  std::chrono::system_clock::time_point at;
  std::string kind;  // trigger | mark
  std::string note;
};

struct AnalysisQueue {
  // Cameras whose closed segments are to be analysed now, in the order they
  // became due: each gets its turn (a set's name order starved the last).
  void make_due(const std::string& camera) {
    if (std::find(due.begin(), due.end(), camera) == due.end()) due.push_back(camera);
  }
  // A driver waits for the clip of a camera that is due.
  bool trigger_waiting() const {
    return std::any_of(due.begin(), due.end(), [&](const std::string& c) { return waits_on(c); });
  }
  // The next camera (due must not be empty): one a trigger waits on first,
  // since a driver is waiting for that clip, else the one due longest.
  std::string take_next() {
    auto it = std::find_if(due.begin(), due.end(), [&](const std::string& c) { return waits_on(c); });
    if (it == due.end()) it = due.begin();
    std::string camera = *it;
    due.erase(it);
    return camera;
  }

  // A camera whose analysis failed (a passing fault: a pipeline that could
  // not be built, a busy catalog) is due again after 2, 4 ... 60 s, not only
  // when its next chunk closes; a success clears its backoff.
  void failed(const std::string& camera, std::chrono::steady_clock::time_point now) {
    auto& r = retries[camera];
    r.backoff_s = std::min(kMaxRetryS, r.backoff_s > 0 ? r.backoff_s * 2 : 2.0);
    r.at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(r.backoff_s));
  }
  void succeeded(const std::string& camera) { retries.erase(camera); }
  // Makes due the cameras whose retry time has come.
  void make_retries_due(std::chrono::steady_clock::time_point now) {
    for (auto& [camera, r] : retries)
      if (r.at && *r.at <= now) {
        make_due(camera);
        r.at.reset();  // the backoff stays until a success
      }
  }

  bool waits_on(const std::string& camera) const {
    auto t = triggers.find(camera);
    return t != triggers.end() && !t->second.empty();
  }

  static constexpr double kMaxRetryS = 60.0;
  struct Retry {
    double backoff_s = 0;
    std::optional<std::chrono::steady_clock::time_point> at;
  };

  std::mutex mutex;  // guards what follows; the caller holds it around the calls above
  std::condition_variable wake;
  std::deque<std::string> due;
  std::map<std::string, std::vector<PendingTrigger>> triggers;
  bool done = false;
  int64_t drives = 0;
  std::string analysing;  // the camera being analysed, or ""
  std::map<std::string, Retry> retries;
};

}  // namespace dashloop::app
