// dashloop doctor: what a fleet engineer checks first on a new box.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core/version.hpp>

#include "station/camera_recorder.hpp"
#include "app/commands.hpp"
#include "station/context.hpp"
#include "station/effective_config.hpp"
#include "catalog/catalog.hpp"
#include "media/gst.hpp"
#include "media/recorder.hpp"
#include "vision/detectors.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {

int run_doctor(const GlobalOptions& global, bool as_json) {
  auto loaded = effective_config(global);
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  const auto& config = std::get<firmware::config::Config>(loaded);

  bool ok = true;
  nlohmann::json report = {{"version", DASHLOOP_VERSION},
                           {"gstreamer", pipeline::media::gst_version()},
                           {"opencv", CV_VERSION},
                           {"elements", nlohmann::json::array()}};
  bool jetson = true;
  for (const auto& e : pipeline::media::check_elements()) {
    if (e.required && !e.present) ok = false;
    if (!e.required && e.factory.rfind("nv", 0) == 0 && !e.present) jetson = false;
    report["elements"].push_back(
        {{"element", e.factory}, {"purpose", e.purpose}, {"required", e.required}, {"present", e.present}});
  }
  report["jetson_path"] = jetson;

  // The data directory must take a write; the catalog (if there is one yet)
  // must pass SQLite's integrity check. Nothing is created here.
  nlohmann::json data = {{"path", fs::absolute(config.data_dir).lexically_normal().string()}};
  std::error_code ec;
  fs::path probe_dir = fs::exists(config.data_dir, ec) ? config.data_dir : config.data_dir.parent_path();
  if (probe_dir.empty()) probe_dir = ".";
  const fs::path probe = probe_dir / ".dashloop-doctor-probe";
  data["writable"] = static_cast<bool>(std::ofstream(probe));
  fs::remove(probe, ec);
  if (!data["writable"].get<bool>()) ok = false;
  const auto space = fs::space(probe_dir, ec);
  if (!ec) data["free_bytes"] = space.available;
  const fs::path catalog_file = config.data_dir / "catalog.sqlite";
  std::unique_ptr<firmware::catalog::Catalog> catalog;
  if (fs::exists(catalog_file, ec)) {
    auto opened = firmware::catalog::Catalog::open(catalog_file);
    Status st = opened.ok() ? (*opened)->integrity_check() : opened.status();
    data["catalog"] = st.ok() ? "ok" : st.message();
    if (!st.ok()) ok = false;
    if (st.ok()) catalog = std::move(opened.value());
  } else {
    data["catalog"] = "none yet (made by the first ingest)";
  }
  report["data_dir"] = data;

  // The clock: a box with no RTC may boot in 1970. Before the newest stamp
  // known true, it has not been set: recordings are then stamped counting on
  // from that stamp (media::WallClock), which is late by the time the box was
  // off, so this fails until NTP or GPS sets the clock.
  namespace media = pipeline::media;
  const media::WallClock wall(clock_not_before(catalog.get()));
  nlohmann::json clock = {{"system_utc", media::utc_now()},
                          {"not_before_utc", media::utc_at(wall.not_before())},
                          {"set", !wall.behind()},
                          {"synchronized", fs::exists("/run/systemd/timesync/synchronized", ec)}};
  clock["status"] = wall.behind() ? "NOT SET: before " + clock["not_before_utc"].get<std::string>() +
                                        " (the newest stamp or this release); recordings are stamped counting on "
                                        "from it until NTP or GPS sets the clock"
                                  : std::string("ok") + (clock["synchronized"].get<bool>()
                                                              ? " (synchronized by systemd-timesyncd)"
                                                              : " (not known to be synchronized)");
  if (wall.behind()) ok = false;
  report["clock"] = clock;

  // The configured detector must load (model, labels, cascades): the same
  // check ingest makes before it decodes anything.
  nlohmann::json detector = {{"kind", config.detector.kind}};
  if (config.detector.kind == "none") {
    detector["status"] = "off (no detection, no tracking)";
  } else {
    auto made = pipeline::vision::make_detector(config.detector);
    detector["status"] = made.ok() ? "ok: " + (*made)->describe() : made.status().message();
    if (!made.ok()) ok = false;
  }
  report["detector"] = detector;

  // Sync's target and credentials, as sync would open them (the target's
  // name only: credentials are never shown).
  std::string sync = "off ([sync] enabled = false)";
  if (config.sync.enabled) {
    auto store = open_target(config);
    sync = store.ok() ? "ok: " + (*store)->name("") : store.status().message();
    if (!store.ok()) ok = false;
  }
  report["sync"] = sync;

  // Each station camera, as its recorder would open it: reachable, and what
  // it sends (the parser's caps: codec, size, rate).
  nlohmann::json cameras = nlohmann::json::array();
  for (const auto& c : config.cameras) {
    auto source = pipeline::media::parse_source(c.source);
    auto probed = source.ok() ? pipeline::media::probe_camera(*source, 5.0) : Result<std::string>(source.status());
    // How it is recorded on this machine: as sent, or encoded by which encoder.
    auto recording = source.ok() ? pipeline::media::recorder_description(*source) : Result<std::string>(source.status());
    cameras.push_back({{"name", c.name}, {"source", c.source}, {"ok", probed.ok()},
                       {"status", probed.ok() ? *probed : probed.status().message()},
                       {"recording", recording.ok() ? *recording : ""}});
    if (!probed.ok()) ok = false;
  }
  report["cameras"] = cameras;
  report["ok"] = ok;

  if (as_json) {
    std::cout << report.dump(2) << std::endl;
    return ok ? kExitOk : 1;
  }
  std::printf("dashloop %s, %s, OpenCV %s\n\n", DASHLOOP_VERSION, report["gstreamer"].get<std::string>().c_str(),
              CV_VERSION);
  for (const auto& e : report["elements"]) {
    const bool present = e["present"], required = e["required"];
    std::printf("  %-8s %-18s %s\n", present ? "ok" : (required ? "MISSING" : "absent"),
                e["element"].get<std::string>().c_str(), e["purpose"].get<std::string>().c_str());
  }
  std::printf("\n  Jetson path: %s\n", jetson ? "on (NVIDIA elements present)" : "off (software decoding)");
  std::printf("  data dir:    %s (%s", data["path"].get<std::string>().c_str(),
              data["writable"].get<bool>() ? "writable" : "NOT WRITABLE");
  if (data.contains("free_bytes")) std::printf(", %.1f GB free", data["free_bytes"].get<double>() / 1e9);
  std::printf(")\n  catalog:     %s\n  clock:       %s %s\n  detector:    %s\n  sync:        %s\n",
              data["catalog"].get<std::string>().c_str(), clock["system_utc"].get<std::string>().c_str(),
              clock["status"].get<std::string>().c_str(), detector["status"].get<std::string>().c_str(), sync.c_str());
  for (const auto& c : cameras) {
    std::printf("  camera %-12s %s %s\n", c["name"].get<std::string>().c_str(), c["ok"].get<bool>() ? "ok:" : "FAILS:",
                c["status"].get<std::string>().c_str());
    if (!c["recording"].get<std::string>().empty())
      std::printf("         %-12s recorded by: %s\n", "", c["recording"].get<std::string>().c_str());
  }
  std::printf("\n%s\n", ok ? "all required checks pass" : "some required checks FAIL");
  return ok ? kExitOk : 1;
}

}  // namespace dashloop::app
