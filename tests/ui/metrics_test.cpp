// /metrics: Prometheus' text format from a station's status reply and the queue.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "metrics.hpp"

namespace dashloop::ui {
namespace {

using nlohmann::json;

MetricsInput with_station() {
  MetricsInput in;
  in.clips_by_state = {{"review", 7}, {"acked", 2}};
  in.disk_total_bytes = 1000;
  in.disk_free_bytes = 400;
  in.station = json::parse(R"({"ok": true, "drives_analysed": 14, "analysis_due": 1,
    "cameras": [
      {"name": "road", "state": "up", "segments": 30, "reconnects": 2, "unanalysed_s": 12.5,
       "clip_budget": {"used_s": 41, "allowed_s": 150, "driving_s": 1800}},
      {"name": "cabin", "state": "reconnecting", "segments": 3, "reconnects": 9, "unanalysed_s": 0,
       "clip_budget": null}],
    "sync": {"network": "ok", "totals": {"uploaded": 5, "failed": 1, "bytes_sent": 123456789},
             "last_pass": {"waiting": 3}}})");
  return in;
}

TEST(Metrics, EverySampleHasItsFamilysHelpAndType) {
  const std::string text = prometheus_metrics(with_station());
  std::istringstream lines(text);
  std::set<std::string> typed, helped;
  const std::regex sample(R"(^([a-z_]+)(\{[a-z_]+="[A-Za-z0-9_-]+"\})? (-?[0-9.e+]+)$)");
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# HELP ", 0) == 0) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
      EXPECT_TRUE(typed.count(m[1])) << m[1] << " sampled before its TYPE";
      EXPECT_TRUE(helped.count(m[1])) << m[1];
      ++samples;
    }
  }
  EXPECT_GT(samples, 25);
}

TEST(Metrics, TheStationsFiguresAreTheStatusReplys) {
  const std::string text = prometheus_metrics(with_station());
  for (const char* want : {"dashloop_station_up 1\n", "dashloop_clips{state=\"review\"} 7\n",
                           "dashloop_clips{state=\"failed\"} 0\n", "dashloop_disk_free_bytes 400\n",
                           "dashloop_camera_up{camera=\"road\"} 1\n", "dashloop_camera_up{camera=\"cabin\"} 0\n",
                           "dashloop_camera_reconnects_total{camera=\"cabin\"} 9\n",
                           "dashloop_camera_unanalysed_seconds{camera=\"road\"} 12.5\n",
                           "dashloop_clip_budget_used_seconds{camera=\"road\"} 41\n",
                           "dashloop_clip_budget_allowed_seconds{camera=\"cabin\"} 0\n",
                           "dashloop_drives_analysed_total 14\n", "dashloop_sync_sent_bytes_total 123456789\n",
                           "dashloop_sync_waiting 3\n", "dashloop_sync_network_up 1\n"})
    EXPECT_NE(text.find(want), std::string::npos) << "missing: " << want << "in:\n" << text;
}

TEST(Metrics, NoStationGivesTheQueueAndDiskOnly) {
  MetricsInput in = with_station();
  in.station = nullptr;
  const std::string text = prometheus_metrics(in);
  EXPECT_NE(text.find("dashloop_station_up 0\n"), std::string::npos);
  EXPECT_NE(text.find("dashloop_clips{state=\"acked\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("dashloop_camera_"), std::string::npos);
  EXPECT_EQ(text.find("dashloop_sync_"), std::string::npos);
}

}  // namespace
}  // namespace dashloop::ui
