// `dashloop sync` (the box's uploader) and `dashloop collect` (the cloud job).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "app/commands.hpp"
#include "station/prelabel.hpp"
#include "station/context.hpp"
#include "station/effective_config.hpp"
#include "station/signal_stop.hpp"
#include "sync/sync.hpp"

namespace fs = std::filesystem;

namespace dashloop::app {
Result<std::unique_ptr<firmware::sync::ObjectStore>> open_target(const firmware::config::Config& config,
                                                                  const std::string& target) {
  const auto& s = config.sync;
  firmware::sync::StoreConfig store;
  store.target = target.empty() ? firmware::config::sync_target(config) : target;
  store.endpoint = s.endpoint;
  store.region = s.region;
  store.path_style = s.path_style;
  store.ca_file = s.ca_file;
  store.max_bytes_per_s = s.max_bytes_per_s;
  store.timeout_s = s.timeout_s;
  if (!store.target.starts_with("s3://")) return firmware::sync::open_store(store);
  if (!s.credentials_file.empty()) {
    auto creds = firmware::config::load_credentials(s.credentials_file);
    if (!creds.ok()) return creds.status();
    store.access_key = creds->access_key;
    store.secret_key = creds->secret_key;
  } else {
    const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
    const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && sk) {
      store.access_key = ak;
      store.secret_key = sk;
    }
  }
  if (!s.ca_file.empty() && !fs::is_regular_file(s.ca_file))
    return Status::InvalidArgument("sync.ca_file " + s.ca_file + ": no such file");
  return firmware::sync::open_store(store);
}

int run_sync(const GlobalOptions& global, const SyncOptions& options) {
  SignalStop stop;  // first: a SIGTERM from now on is a stop that is answered, not a silent death
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto store = open_target(ctx.config);
  if (!store.ok()) {
    spdlog::error("sync: {}", store.status().message());
    return kExitInput;
  }
  auto lock = firmware::sync::SyncLock::acquire(ctx.config.data_dir);
  if (!lock.ok()) {
    spdlog::error("sync: {}", lock.status().message());
    return kExitStorage;
  }
  firmware::sync::Syncer syncer(*ctx.catalog, **store, ctx.config.sync, ctx.config.vehicle,
                                [](const nlohmann::json&) {}, &stop.requested());
  syncer.admit_only([&ctx](const nlohmann::json& manifest) { return firmware::sync::privacy_admits(ctx.config, manifest); });
  firmware::sync::SyncReport total;
  for (;;) {
    const auto r = syncer.pass();
    total += r;
    if (!r.stopped.ok()) spdlog::error("sync: stopped: {}", r.stopped.message());
    if (!options.follow || stop.requested()) break;
    firmware::sync::sleep_unless(&stop.requested(), ctx.config.sync.interval_s);
    if (stop.requested()) break;
  }
  if (options.json) {
    std::printf("%s\n", total.to_json().dump().c_str());
  } else {
    std::printf("sync to %s: %d uploaded, %d acked, %d to upload again, %d failed, %d waiting; %lld bytes sent, "
                "%lld already there%s%s\n",
                (*store)->name("").c_str(), total.uploaded, total.acked, total.reupload, total.failed, total.waiting,
                static_cast<long long>(total.bytes_sent), static_cast<long long>(total.bytes_resumed),
                total.blocked.empty() ? "" : "; not now: ", total.blocked.c_str());
  }
  if (stop.requested() && !options.follow) return kExitInterrupted;
  if (!total.stopped.ok() || total.failed > 0 || !total.errors.empty()) return kExitStorage;
  return kExitOk;
}

int run_collect(const GlobalOptions& global, const CollectOptions& options) {
  auto config = effective_config(global);
  if (auto* code = std::get_if<int>(&config)) return *code;
  const auto& cfg = std::get<firmware::config::Config>(config);
  auto store = open_target(cfg, options.from);
  if (!store.ok()) {
    spdlog::error("collect: {}", store.status().message());
    return kExitInput;
  }
  if (Status st = options.prelabel ? can_prelabel(cfg) : Status::Ok(); !st.ok()) {
    spdlog::error("collect --prelabel: {}", st.message());
    return kExitUsage;
  }
  SignalStop stop;
  firmware::sync::CollectOptions collect{options.to, options.job, options.video_url_prefix, options.claim_timeout_s, {}};
  if (options.prelabel)
    collect.relabel = [&](const std::filesystem::path& dir) -> Status {
      auto report = prelabel_package(cfg, dir, {&stop.requested(), {}, "collect --prelabel"});
      if (report.ok()) spdlog::info("collect: {}: pre-labelled, {} tracks, {:.1f} s", dir.filename().string(),
                                    report->tracks, report->seconds);
      return report.ok() ? Status::Ok() : report.status();
    };
  int taken = 0, damaged = 0;
  for (;;) {
    auto r = firmware::sync::collect(**store, collect);
    if (!r.ok()) {
      spdlog::error("collect: {}", r.status().message());
      if (!options.follow) return r.status().kind() == Status::Kind::kUnavailable ? kExitStorage : kExitInput;
    } else {
      taken += r->taken;
      damaged += r->damaged;
      if (options.json) {
        std::printf("%s\n", r->to_json().dump().c_str());
      } else {
        std::printf("collect from %s: %d taken into %s, %d damaged (acked as failed), %d claimed by another job, %d "
                    "acked before%s%s\n",
                    (*store)->name("").c_str(), r->taken, options.to.c_str(), r->damaged, r->claimed_elsewhere,
                    r->already_acked, r->labelstudio_tasks.empty() ? "" : "; Label Studio tasks: ",
                    r->labelstudio_tasks.c_str());
      }
      std::fflush(stdout);
    }
    if (!options.follow || stop.requested()) break;
    firmware::sync::sleep_unless(&stop.requested(), cfg.sync.interval_s);
    if (stop.requested()) break;
  }
  return damaged > 0 && taken == 0 ? kExitStorage : kExitOk;
}

}  // namespace dashloop::app
