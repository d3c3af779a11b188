// Config: typed, validated, and every error names file, line and key.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace dashloop::firmware::config {
namespace {

TEST(Config, ShippedDefaultFileEqualsBuiltInDefaults) {
  auto c = load_file(DASHLOOP_SOURCE_DIR "/firmware/config/dashloop.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const Config d;
  EXPECT_EQ(c->data_dir, d.data_dir);
  EXPECT_EQ(c->ingest.mode, d.ingest.mode);
  EXPECT_EQ(c->ingest.analysis_width, d.ingest.analysis_width);
  EXPECT_EQ(c->keyframes.selector.min_gap_s, d.keyframes.selector.min_gap_s);
  EXPECT_EQ(c->keyframes.selector.max_gap_s, d.keyframes.selector.max_gap_s);
  EXPECT_EQ(c->keyframes.selector.cut_threshold, d.keyframes.selector.cut_threshold);
  EXPECT_EQ(c->keyframes.selector.dissolve_blend_max, d.keyframes.selector.dissolve_blend_max);
  EXPECT_EQ(c->keyframes.selector.dissolve_threshold, d.keyframes.selector.dissolve_threshold);
  EXPECT_EQ(c->keyframes.selector.dissolve_s, d.keyframes.selector.dissolve_s);
  EXPECT_EQ(c->keyframes.selector.flash_max_s, d.keyframes.selector.flash_max_s);
  EXPECT_EQ(c->keyframes.selector.duplicate_hamming, d.keyframes.selector.duplicate_hamming);
  EXPECT_EQ(c->keyframes.jpeg_quality, d.keyframes.jpeg_quality);
}

TEST(Config, ValuesOverrideDefaults) {
  auto c = load_string("data_dir = \"/srv/x\"\n[ingest]\nmode = \"triage\"\nanalysis_width = 320\n"
                       "[keyframes]\nmax_gap_s = 3\n",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "/srv/x");
  EXPECT_EQ(c->ingest.mode, "triage");
  EXPECT_EQ(c->ingest.analysis_width, 320);
  EXPECT_DOUBLE_EQ(c->keyframes.selector.max_gap_s, 3.0);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  auto c = load_string("[ingest]\nmode = \"full\"\nspeed = 3\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:3: unknown key 'ingest.speed'");
}

TEST(Config, UnknownSectionNamesIt) {
  auto c = load_string("\n[ingets]\nmode = \"full\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: unknown key 'ingets'");
}

TEST(Config, WrongTypeNamesFileLineAndKey) {
  auto c = load_string("vehicle = \"v1\"\n[keyframes]\nmin_gap_s = \"soon\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:3: key 'keyframes.min_gap_s' must be a number");
}

TEST(Config, OutOfRangeSaysTheRange) {
  auto c = load_string("[ingest]\nanalysis_width = 10\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: key 'ingest.analysis_width' must be between 64 and 3840, got 10");
}

TEST(Config, EnumListsTheChoices) {
  auto c = load_string("[ingest]\nmode = \"fast\"\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:2: key 'ingest.mode' must be one of full, triage, got 'fast'");
}

TEST(Config, SectionGivenAsValueIsAnError) {
  auto c = load_string("ingest = 3\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "station.toml:1: key 'ingest' must be a table ([ingest])");
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto c = load_string("vehicle = \"v1\"\ncamera = \n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("station.toml:2: ", 0), 0u) << c.status().message();
}

TEST(Config, InconsistentGapsAreAnError) {
  auto c = load_string("[keyframes]\nmin_gap_s = 20\nmax_gap_s = 5\n", "station.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("min_gap_s"), std::string::npos);
}

TEST(Config, MissingFileIsAnError) {
  auto c = load_file("/nonexistent/dashloop.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/dashloop.toml"), std::string::npos);
}

}  // namespace
}  // namespace dashloop::firmware::config
