#include "station/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace dashloop::app {

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(const pipeline::DriveProgress& p) {
  if (!enabled_) return;
  const double fps = p.elapsed_s > 0 ? p.frames / p.elapsed_s : 0.0;
  char line[256];
  if (p.duration_s > 0) {
    const double done = std::min(1.0, p.position_s / p.duration_s);
    const int width = 24, filled = int(done * width);
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    const double speed = p.elapsed_s > 0 ? p.position_s / p.elapsed_s : 0.0;
    const double eta = speed > 0 ? (p.duration_s - p.position_s) / speed : 0.0;
    std::snprintf(line, sizeof line, "\r%s [%s] %3.0f%% %.1f/%.1f s  %.0f fps  ETA %.0f s   ", label_.c_str(),
                  bar.c_str(), done * 100, p.position_s, p.duration_s, fps, eta);
  } else {
    std::snprintf(line, sizeof line, "\r%s %.1f s  %lld frames  %.0f fps   ", label_.c_str(), p.position_s,
                  static_cast<long long>(p.frames), fps);
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace dashloop::app
