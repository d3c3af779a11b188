// dashloop: the station's one binary.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  using namespace dashloop::app;
  // Operator messages go to stderr so stdout stays a clean result (--json).
  spdlog::set_default_logger(spdlog::stderr_color_mt("dashloop"));
  spdlog::set_pattern("%^%l%$: %v");

  CLI::App app{"Dashloop: dashcam drives to annotation-ready keyframes and clips"};
  app.set_version_flag("--version", DASHLOOP_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("-c,--config", global.config_file, "TOML config (defaults: firmware/config/dashloop.toml)")
      ->check(CLI::ExistingFile);
  app.add_option("-d,--data-dir", global.data_dir, "where the catalog and keyframes live (default ./dashloop-data)");
  app.add_option("--log-level", global.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  IngestOptions ingest;
  auto* ingest_cmd = app.add_subcommand("ingest", "analyse drives (files or live sources) into keyframes");
  ingest_cmd->add_option("sources", ingest.sources, "PATH, file://, rtsp://, v4l2:///dev/videoN or test://")
      ->required();
  ingest_cmd->add_option("--mode", ingest.mode, "full: every frame; triage: only the stream's I-frames")
      ->check(CLI::IsMember({"full", "triage"}));
  ingest_cmd->add_option("--analysis-width", ingest.analysis_width, "width of the analysis frames")
      ->check(CLI::Range(64, 3840));
  ingest_cmd->add_flag("--json", ingest.json, "print a machine-readable result on stdout");
  ingest_cmd->add_flag("-q,--quiet", ingest.quiet, "no progress bar");

  bool json = false;
  auto* drives_cmd = app.add_subcommand("drives", "list the drives in the catalog");
  drives_cmd->add_flag("--json", json, "as JSON");

  int64_t drive_id = 0;
  auto* keyframes_cmd = app.add_subcommand("keyframes", "list a drive's keyframes");
  keyframes_cmd->add_option("drive", drive_id, "drive id (see `dashloop drives`)")->required();
  keyframes_cmd->add_flag("--json", json, "as JSON");

  bool with_boxes = false;
  auto* tracks_cmd = app.add_subcommand("tracks", "list a drive's tracked objects");
  tracks_cmd->add_option("drive", drive_id, "drive id (see `dashloop drives`)")->required();
  tracks_cmd->add_flag("--boxes", with_boxes, "with every box (JSON)");
  tracks_cmd->add_flag("--json", json, "as JSON");

  TrackOptions track;
  auto* track_cmd = app.add_subcommand("track", "run the tracker on MOTChallenge detections");
  track_cmd->add_option("--detections", track.detections, "det.txt: frame,-1,x,y,w,h,conf,... (1-based frames)")
      ->required()->check(CLI::ExistingFile);
  track_cmd->add_option("--out", track.out, "results: frame,id,x,y,w,h,conf,-1,-1,-1")->required();
  track_cmd->add_option("--fill-gap", track.fill_gap, "fill gaps of up to N frames inside a track with its prediction")
      ->check(CLI::Range(0, 1000));

  EvalMotOptions eval;
  auto* eval_cmd = app.add_subcommand("eval-mot", "score MOTChallenge results: MOTA, MOTP, IDF1, ID switches, FP, FN");
  eval_cmd->add_option("--gt", eval.gt, "ground truth gt.txt")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--pred", eval.pred, "results to score")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--min-iou", eval.min_iou, "least IoU of a match (MOTChallenge: 0.5)")->check(CLI::Range(0.01, 1.0));
  eval_cmd->add_flag("--json", eval.json, "as JSON");

  auto* doctor_cmd = app.add_subcommand("doctor", "check plugins, data directory and catalog on this machine");
  doctor_cmd->add_flag("--json", json, "as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*ingest_cmd) return run_ingest(global, ingest);
  if (*drives_cmd) return run_drives(global, json);
  if (*keyframes_cmd) return run_keyframes(global, drive_id, json);
  if (*tracks_cmd) return run_tracks(global, drive_id, json, with_boxes);
  if (*track_cmd) return run_track(global, track);
  if (*eval_cmd) return run_eval_mot(eval);
  if (*doctor_cmd) return run_doctor(global, json);
  return kExitUsage;
}
