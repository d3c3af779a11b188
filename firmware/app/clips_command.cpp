// dashloop clips list|show|export|move, mark, status, retention.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "station/clip_maker.hpp"
#include "app/commands.hpp"
#include "station/context.hpp"
#include "clips/package.hpp"
#include "retention/retention.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

namespace cat = firmware::catalog;

json clip_json(const cat::ClipRecord& c) {
  return {{"id", c.id},
          {"uid", c.uid},
          {"drive_id", c.drive_id},
          {"state", c.state},
          {"state_reason", c.state_reason},
          {"start_frame", c.start_frame},
          {"end_frame", c.end_frame},
          {"start_s", c.start_s},
          {"end_s", c.end_s},
          {"priority", c.priority},
          {"priority_parts", json::parse(c.priority_parts, nullptr, false)},
          {"reasons", json::parse(c.reasons, nullptr, false)},
          {"package_dir", c.package_dir},
          {"frames", c.frames},
          {"bytes", c.bytes},
          {"effort_minutes", c.effort_minutes},
          {"purged", c.purged},
          {"created_utc", c.created_utc},
          {"updated_utc", c.updated_utc}};
}

// A clip by its id or uid, or an exit code (3: no such clip).
std::variant<cat::ClipRecord, int> find_clip(cat::Catalog& catalog, const std::string& ref) {
  // an id fits int64 (18 digits always do); anything longer can only be a uid
  const bool numeric = !ref.empty() && ref.size() <= 18 && ref.find_first_not_of("0123456789") == std::string::npos;
  auto found = numeric ? catalog.clip(std::stoll(ref)) : catalog.clip_by_uid(ref);
  if (!found.ok()) {
    spdlog::error("catalog: {}", found.status().message());
    return int(kExitStorage);
  }
  if (!*found) {
    spdlog::error("clip '{}' is not in the catalog (see `dashloop clips list`)", ref);
    return int(kExitInput);
  }
  return **found;
}

// "track x12, scene_cut x2, mark (near miss)": each rule once, with its
// count, or its detail when it fired once (an operator's note).
// The common start of show, export and move: the context and the clip, or an exit code.
int with_clip(const GlobalOptions& global, const std::string& ref,
              const std::function<int(Context&, const cat::ClipRecord&)>& body) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto found = find_clip(*ctx.catalog, ref);
  if (auto* code = std::get_if<int>(&found)) return *code;
  return body(ctx, std::get<cat::ClipRecord>(found));
}

std::string reasons_text(const std::string& reasons) {
  json r = json::parse(reasons, nullptr, false);
  std::vector<std::string> order;
  std::map<std::string, std::pair<int, std::string>> seen;
  if (r.is_array())
    for (const auto& x : r) {
      const std::string rule = x.value("rule", std::string());
      if (!seen.count(rule)) order.push_back(rule);
      auto& [n, detail] = seen[rule];
      ++n;
      detail = x.value("detail", std::string());
    }
  std::string out;
  for (const auto& rule : order) {
    const auto& [n, detail] = seen[rule];
    out += (out.empty() ? "" : ", ") + rule;
    if (n > 1) out += " x" + std::to_string(n);
    else if (!detail.empty()) out += " (" + detail + ")";
  }
  return out;
}

std::string bytes_text(int64_t b) {
  char buf[32];
  if (b >= int64_t(1) << 30) std::snprintf(buf, sizeof buf, "%.1f GiB", double(b) / double(int64_t(1) << 30));
  else std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(1 << 20));
  return buf;
}

}  // namespace

int run_clips_list(const GlobalOptions& global, const ClipsOptions& o) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto rows = ctx.catalog->clips(o.state, o.drive_id);
  if (!rows.ok()) {
    spdlog::error("catalog: {}", rows.status().message());
    return kExitStorage;
  }
  if (o.json) {
    json out = json::array();
    for (const auto& c : *rows) out.push_back(clip_json(c));
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  std::printf("%-26s %-5s %-9s %8s %6s %8s  %s\n", "clip", "drive", "state", "span_s", "prio", "effort", "why");
  for (const auto& c : *rows)
    std::printf("%-26s %-5lld %-9s %8s %6.2f %6.1fm  %s\n", c.uid.c_str(), static_cast<long long>(c.drive_id),
                c.state.c_str(), (std::to_string(int(c.start_s)) + "-" + std::to_string(int(c.end_s))).c_str(),
                c.priority, c.effort_minutes, reasons_text(c.reasons).c_str());
  return kExitOk;
}

int run_clips_show(const GlobalOptions& global, const ClipsOptions& o) {
  return with_clip(global, o.clip, [&](Context& ctx, const cat::ClipRecord& c) -> int {
    auto audit = ctx.catalog->clip_audit(c.id);
    if (!audit.ok()) {
      spdlog::error("catalog: {}", audit.status().message());
      return kExitStorage;
    }
    json manifest;
    if (!c.package_dir.empty() && !c.purged) {
      std::ifstream in(fs::path(c.package_dir) / "manifest.json");
      if (in) manifest = json::parse(in, nullptr, false);
    }
    if (o.json) {
      json out = clip_json(c);
      out["audit"] = json::array();
      for (const auto& a : *audit)
        out["audit"].push_back({{"at_utc", a.at_utc}, {"from", a.from_state}, {"to", a.to_state}, {"actor", a.actor},
                                {"reason", a.reason}});
      out["manifest"] = manifest;
      std::cout << out.dump(2) << std::endl;
      return kExitOk;
    }
    std::printf("clip %s (id %lld) of drive %lld: %s%s\n", c.uid.c_str(), static_cast<long long>(c.id),
                static_cast<long long>(c.drive_id), c.state.c_str(), c.purged ? ", package deleted" : "");
    std::printf("  span     %.2f-%.2f s (frames %lld-%lld, planned %lld-%lld)\n", c.start_s, c.end_s,
                static_cast<long long>(c.start_frame), static_cast<long long>(c.end_frame),
                static_cast<long long>(c.planned_start), static_cast<long long>(c.planned_end));
    std::printf("  why      %s\n  priority %.2f %s\n", reasons_text(c.reasons).c_str(), c.priority, c.priority_parts.c_str());
    if (manifest.is_object() && manifest.contains("effort")) {
      const auto& e = manifest["effort"];
      std::printf("  effort   %.1f annotator minutes: %lld tracks, %lld boxes to check, about %.0f boxes and %.0f objects "
                  "to add (labels expected to hold %.0f %%), %lld keyframes, %.1f s of video\n",
                  e.value("annotator_minutes", 0.0), static_cast<long long>(e.value("tracks", 0)),
                  static_cast<long long>(e.value("boxes_to_check", 0)), e.value("missed_boxes", 0.0),
                  e.value("missed_tracks", 0.0), 100.0 * e.value("expected_recall", 1.0),
                  static_cast<long long>(e.value("keyframes", 0)), e.value("video_s", 0.0));
    }
    if (!c.package_dir.empty()) std::printf("  package  %s (%s)\n", c.package_dir.c_str(), bytes_text(c.bytes).c_str());
    std::printf("  history\n");
    for (const auto& a : *audit)
      std::printf("    %s  %s -> %s  by %s: %s\n", a.at_utc.c_str(), a.from_state.empty() ? "(new)" : a.from_state.c_str(),
                  a.to_state.c_str(), a.actor.c_str(), a.reason.c_str());
    return kExitOk;
  });
}

int run_clips_export(const GlobalOptions& global, const ClipsOptions& o) {
  return with_clip(global, o.clip, [&](Context& /*ctx*/, const cat::ClipRecord& c) -> int {
    if (c.package_dir.empty() || c.purged) {
      spdlog::error("clip {}: has no package ({}{})", c.uid, c.state, c.purged ? ", deleted by retention" : "");
      return kExitInput;
    }
    const fs::path pkg = c.package_dir;
    if (Status st = pipeline::clips::verify_package(pkg); !st.ok()) {
      spdlog::error("clip {}: {}", c.uid, st.message());
      return kExitStorage;
    }
    // What each tool imports: the label file(s) with the video or the images.
    // CVAT's "CVAT 1.1" import takes annotations.xml as it is (or zipped).
    const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kFiles = {
        {"cvat", {{"labels/cvat-video.xml", "annotations.xml"}, {"clip.mp4", "clip.mp4"}}},
        {"mot", {{"labels/mot/gt", "gt"}, {"clip.mp4", "clip.mp4"}}},
        {"coco", {{"labels/coco.json", "annotations/instances_default.json"}, {"keyframes", "images"}}},
        {"labelstudio", {{"labels/labelstudio-config.xml", "labeling-config.xml"}, {"clip.mp4", "clip.mp4"}}},
    };
    const fs::path out = o.out.empty() ? fs::path(c.uid + "-" + o.format) : fs::path(o.out);
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
      spdlog::error("export: {} exists and is not empty; nothing written", out.string());
      return kExitInput;
    }
    for (const auto& [from, to] : kFiles.at(o.format)) {
      fs::create_directories((out / to).parent_path(), ec);
      fs::copy(pkg / from, out / to, fs::copy_options::recursive, ec);
      if (ec) {
        spdlog::error("export: {}: {}", (out / to).string(), ec.message());
        return kExitStorage;
      }
    }
    if (o.format == "labelstudio") {
      // Label Studio loads data.video as a URL: the prefix given, or its own
      // local-files URL for the export directory under its document root.
      std::ifstream in(pkg / "labels/labelstudio.json");
      json tasks = json::parse(in, nullptr, false);  // verified above
      fs::path dir = fs::absolute(out).lexically_normal();
      if (dir.filename().empty()) dir = dir.parent_path();
      const std::string prefix =
          o.video_url_prefix.empty() ? "/data/local-files/?d=" + dir.filename().string() : o.video_url_prefix;
      tasks[0]["data"]["video"] = prefix + (prefix.ends_with('/') ? "" : "/") + "clip.mp4";
      std::ofstream file(out / "tasks.json");
      file << tasks.dump(1) << "\n";
      file.close();
      if (!file) {
        spdlog::error("export: {}: cannot write", (out / "tasks.json").string());
        return kExitStorage;
      }
    }
    std::printf("%s\n", fs::absolute(out).string().c_str());
    return kExitOk;
  });
}

// Several clips at once (an operator requeues a batch: `--state failed`):
// each is found first, so a wrong id moves none; each move is its own
// transaction and audited; the first refusal stops the rest, named.
int run_clips_move(const GlobalOptions& global, const ClipsOptions& o) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  std::vector<cat::ClipRecord> chosen;
  for (const auto& ref : o.clips) {
    auto found = find_clip(*ctx.catalog, ref);
    if (auto* code = std::get_if<int>(&found)) return *code;
    chosen.push_back(std::get<cat::ClipRecord>(found));
  }
  if (!o.state.empty()) {
    auto rows = ctx.catalog->clips(o.state);
    if (!rows.ok()) {
      spdlog::error("catalog: {}", rows.status().message());
      return kExitStorage;
    }
    chosen.insert(chosen.end(), rows->begin(), rows->end());
  }
  if (chosen.empty()) {
    spdlog::error("clips move: no clip named{}", o.state.empty() ? "" : " and none in state '" + o.state + "'");
    return o.state.empty() ? kExitUsage : kExitOk;
  }
  for (const auto& c : chosen) {
    if (Status st = ctx.catalog->move_clip(c.id, o.to, "operator:" + o.by, o.reason); !st.ok()) {
      spdlog::error("clip {}: {}", c.uid, st.message());
      return st.kind() == Status::Kind::kInvalidArgument ? kExitInput : kExitStorage;
    }
    std::printf("clip %s: %s -> %s\n", c.uid.c_str(), c.state.c_str(), o.to.c_str());
  }
  return kExitOk;
}

int run_mark(const GlobalOptions& global, int64_t drive_id, double at_s, const std::string& note) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto d = ctx.catalog->drive(drive_id);
  if (!d.ok()) {
    spdlog::error("catalog: {}", d.status().message());
    return kExitStorage;
  }
  if (!*d) {
    spdlog::error("drive {} is not in the catalog (see `dashloop drives`)", drive_id);
    return kExitInput;
  }
  const cat::DriveRecord& drive = **d;
  if (at_s < 0 || at_s > drive.duration_s) {
    spdlog::error("mark: {:.2f} s is outside drive {} (0 to {:.2f} s)", at_s, drive_id, drive.duration_s);
    return kExitInput;
  }
  cat::TriggerRecord mark{0, drive_id, int64_t(at_s * drive.fps), at_s, "mark", note, ""};
  auto mark_id = ctx.catalog->add_trigger(mark);
  if (!mark_id.ok()) {
    spdlog::error("catalog: {}", mark_id.status().message());
    return kExitStorage;
  }
  mark.id = *mark_id;
  remove_partial_packages(ctx.config.data_dir);
  auto run = make_clips(ctx, drive_id, "operator", &mark);
  if (!run.ok()) {
    spdlog::error("mark: {}", run.status().message());
    return kExitStorage;
  }
  if (!run->packaged.empty()) {
    auto pre = prelabel_packaged(ctx, "operator", {nullptr, {}, "mark"}, 0, &run->packaged);
    if (!pre.ok()) {
      spdlog::error("mark: pre-labels: {}", pre.status().message());
      return kExitStorage;
    }
    run->ready.insert(run->ready.end(), pre->ready.begin(), pre->ready.end());
  }
  if (!run->skipped.empty()) std::printf("mark stored at %.2f s; %s\n", at_s, run->skipped.c_str());
  for (int64_t id : run->ready) {
    auto c = ctx.catalog->clip(id);
    if (c.ok() && *c) std::printf("clip %s ready for review (%.1f-%.1f s)\n", (*c)->uid.c_str(), (*c)->start_s, (*c)->end_s);
  }
  return run->failed.empty() ? kExitOk : kExitInput;
}

int run_status(const GlobalOptions& global, bool as_json) {
  auto prepared = prepare(global);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto drives = ctx.catalog->drive_count();
  auto clips = ctx.catalog->clips();
  auto segments = ctx.catalog->segments(0);
  if (!drives.ok() || !clips.ok() || !segments.ok()) {
    spdlog::error("catalog: cannot read the status");
    return kExitStorage;
  }
  std::map<std::string, int64_t> by_state;
  double review_minutes = 0;
  for (const auto& c : *clips) {
    ++by_state[c.state];
    if (c.state == "review") review_minutes += c.effort_minutes;
  }
  int64_t recorded = 0, open = 0;
  for (const auto& s : *segments)
    if (s.owned && s.state != "deleted") (s.state == "open" ? open : recorded) += 1;
  const auto use = firmware::retention::measure(ctx.config.data_dir);
  // Sync: what of the packages being uploaded is already in the store.
  int64_t sync_done = 0, sync_total = 0;
  for (const auto& c : *clips) {
    if (c.state != "uploading") continue;
    sync_total += c.bytes;
    auto files = ctx.catalog->upload_files(c.id);
    for (const auto& f : files.ok() ? *files : std::vector<cat::UploadFileRecord>{}) {
      if (f.done) {
        sync_done += f.bytes;
        continue;
      }
      if (auto parts = ctx.catalog->upload_parts(c.id, f.path); parts.ok())
        for (const auto& p : *parts) sync_done += p.bytes;
    }
  }
  const std::string sync_target = firmware::config::sync_target(ctx.config);
  if (as_json) {
    json states = json::object();
    for (const char* s : cat::kClipStates) states[s] = by_state[s];
    std::cout << json{{"drives", *drives},
                      {"clips", states},
                      {"review_effort_minutes", review_minutes},
                      {"segments", {{"recorded", recorded}, {"open", open}}},
                      {"sync",
                       {{"target", sync_target},
                        {"uploading_bytes_done", sync_done},
                        {"uploading_bytes_total", sync_total}}},
                      {"disk",
                       {{"data_dir", fs::absolute(ctx.config.data_dir).string()},
                        {"total_bytes", use.total},
                        {"recordings_bytes", use.recordings},
                        {"packages_bytes", use.packages},
                        {"keyframes_bytes", use.keyframes},
                        {"filesystem_used_percent", use.fs_percent},
                        {"quota_bytes", ctx.config.retention.max_bytes},
                        {"quota_percent", ctx.config.retention.max_percent}}}}
                     .dump(2)
              << std::endl;
    return kExitOk;
  }
  std::printf("drives    %lld\n", static_cast<long long>(*drives));
  std::printf("clips    ");
  for (const char* s : cat::kClipStates) std::printf(" %s %lld", s, static_cast<long long>(by_state[s]));
  std::printf("\n          %.0f annotator minutes waiting in review\n", review_minutes);
  std::printf("segments  %lld recorded, %lld open\n", static_cast<long long>(recorded), static_cast<long long>(open));
  std::printf("sync      to %s: %lld approved, %lld uploading (%s of %s in the store), %lld awaiting the cloud's ack, "
              "%lld acked\n",
              sync_target.c_str(), static_cast<long long>(by_state["approved"]),
              static_cast<long long>(by_state["uploading"]), bytes_text(sync_done).c_str(),
              bytes_text(sync_total).c_str(), static_cast<long long>(by_state["uploaded"]),
              static_cast<long long>(by_state["acked"]));
  std::printf("disk      %s in %s (recordings %s, packages %s, keyframes %s); filesystem %.0f%% used (quota %.0f%%%s)\n",
              bytes_text(use.total).c_str(), fs::absolute(ctx.config.data_dir).string().c_str(),
              bytes_text(use.recordings).c_str(), bytes_text(use.packages).c_str(), bytes_text(use.keyframes).c_str(),
              use.fs_percent, ctx.config.retention.max_percent,
              ctx.config.retention.max_bytes > 0 ? (", " + bytes_text(ctx.config.retention.max_bytes)).c_str() : "");
  return kExitOk;
}

int run_retention(const GlobalOptions& global, bool as_json) {
  auto prepared = prepare(global, OnFullDisk::kFreeSpace);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  Context& ctx = std::get<Context>(prepared);
  auto report = firmware::retention::free_space(*ctx.catalog, ctx.config.data_dir, retention_policy(ctx.config));
  if (!report.ok()) {
    spdlog::error("retention: {}", report.status().message());
    return kExitStorage;
  }
  if (as_json) {
    std::cout << json{{"freed_bytes", report->freed},
                      {"segments_deleted", report->segments_deleted},
                      {"packages_deleted", report->packages_deleted},
                      {"protected_deleted", report->protected_deleted},
                      {"over_quota", report->over},
                      {"actions", report->actions}}
                     .dump(2)
              << std::endl;
  } else {
    for (const auto& a : report->actions) std::printf("%s\n", a.c_str());
    std::printf("freed %s; %s\n", bytes_text(report->freed).c_str(), report->over ? "still over the quota" : "within the quota");
  }
  return report->over ? kExitStorage : kExitOk;
}

}  // namespace dashloop::app
