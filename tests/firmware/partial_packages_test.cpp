// Staging directories of packages: a process clearing what a crashed one
// left (every ingest's start) must not take one that a running process on
// the same data dir is writing (a station beside an `ingest`).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "station/clip_maker.hpp"

namespace fs = std::filesystem;

namespace {

TEST(PartialPackages, ARunningProcesssStagingIsKeptADeadOnesAndUnnamedOnesGo) {
  const fs::path data = fs::temp_directory_path() / ("dashloop-partial-" + std::to_string(getpid()));
  fs::remove_all(data);
  fs::create_directories(data / "packages");
  const pid_t dead = fork();  // a pid that surely ran and ended
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  const std::string running = ".partial-" + std::to_string(getppid()) + "-v_d2_c1";  // the test runner's parent lives
  const std::string crashed = ".partial-" + std::to_string(dead) + "-v_d1_c1";
  const std::string own = dashloop::app::partial_name("v_d3_c1");
  for (const auto& name : {running, crashed, own, std::string(".partial-v_d0_c1"), std::string("v_d1_c0")})
    fs::create_directories(data / "packages" / name);

  dashloop::app::remove_partial_packages(data);

  EXPECT_TRUE(fs::exists(data / "packages" / running)) << "a running process's package in the making";
  EXPECT_FALSE(fs::exists(data / "packages" / crashed)) << "left by a process that ended";
  EXPECT_FALSE(fs::exists(data / "packages" / own)) << "this process's own, from before";
  EXPECT_FALSE(fs::exists(data / "packages" / ".partial-v_d0_c1")) << "named before the pid was in the name";
  EXPECT_TRUE(fs::exists(data / "packages" / "v_d1_c0")) << "a package";
  fs::remove_all(data);
}

}  // namespace
