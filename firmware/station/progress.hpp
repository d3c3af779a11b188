// A one-line progress bar for a person at a terminal: position, frames/s,
// ETA. Prints nothing unless stderr is a TTY.
#pragma once

#include <string>

#include "drive.hpp"

namespace dashloop::app {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  void update(const pipeline::DriveProgress& p);
  void clear();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace dashloop::app
