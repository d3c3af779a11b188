// SignalStop's power-fail input: a file (a GPIO's sysfs value) read on its
// own thread; the stop comes once it reads the fail value, not before.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "station/signal_stop.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {
namespace {

bool within(double s, const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(s);
  while (!flag && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return flag;
}

TEST(SignalStopPower, StopsOnceTheFileReadsTheFailValue) {
  const fs::path file = fs::temp_directory_path() / ("dashloop-power-" + std::to_string(getpid()));
  std::ofstream(file) << "0\n";
  SignalStop stop;
  stop.watch_power(file, "1");
  EXPECT_FALSE(within(0.6, stop.requested())) << "the supply is good: 0";
  fs::remove(file);
  EXPECT_FALSE(within(0.5, stop.requested())) << "a file that cannot be read is not a power failure";
  std::ofstream(file) << "1\n";  // as sysfs gives it, with its newline
  EXPECT_TRUE(within(3.0, stop.requested()));
  EXPECT_TRUE(stop.power_failed());
  EXPECT_EQ(stop.signal(), 0);
  fs::remove(file);
}

TEST(SignalStopPower, NotWatchedUntilAFileIsGiven) {
  SignalStop stop;
  stop.watch_power({}, "1");  // [power] fail_file = "": the default
  EXPECT_FALSE(within(0.5, stop.requested()));
  EXPECT_FALSE(stop.power_failed());
}

}  // namespace
}  // namespace dashloop::app
