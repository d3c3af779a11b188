// dashloop: the station's one binary.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  using namespace dashloop::app;
  // Operator messages go to stderr so stdout stays a clean result (--json).
  spdlog::set_default_logger(spdlog::stderr_color_mt("dashloop"));
  spdlog::set_pattern("%^%l%$: %v");

  // Two malloc arenas, not glibc's 8 per core: every clip's pre-label pass and
  // analysis run on threads of their own, and with an arena each their freed
  // memory stayed with the process, about 20 MB more RSS a clip in a long run
  // (docs/BENCHMARKS.md "pre-label pass memory"). MALLOC_ARENA_MAX, when set, wins.
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);

  // libcurl's one-time setup, before any thread exists (sync, collect, run).
  curl_global_init(CURL_GLOBAL_DEFAULT);
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
  ingest_cmd->add_option("--trigger", ingest.triggers, "an external trigger (button, CAN, IMU) at SECONDS into the drive; repeatable");
  ingest_cmd->add_flag("--json", ingest.json, "print a machine-readable result on stdout");
  ingest_cmd->add_flag("-q,--quiet", ingest.quiet, "no progress bar");
  ingest_cmd->add_flag("--again", ingest.again, "ingest a file even if the same file was ingested before");

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
  track_cmd->add_flag("--online", track.online, "the live tracker alone, which sees only the past (default: the "
                                               "offline tracker of pre-labels, [tracker] offline_*)");
  track_cmd->add_option("--fill-gap", track.fill_gap, "--online: fill gaps of up to N frames inside a track with its "
                                                      "prediction")
      ->check(CLI::Range(0, 1000));
  track_cmd->add_option("--min-score", track.min_score, "drop detections scored under this, in the file's own units "
                                                        "(may be above 1 or below 0)");
  track_cmd->add_option("--score-map", track.score_map, "auto | none | quantile: scores that are not probabilities "
                                                        "become their quantile before the tracker's thresholds apply "
                                                        "(auto: when any lies outside [0, 1])")
      ->check(CLI::IsMember({"auto", "none", "quantile"}));

  DetectOptions detect;
  auto* detect_cmd = app.add_subcommand("detect", "run the detector alone: MOTChallenge detection rows or JSON");
  detect_cmd->add_option("input", detect.inputs, "images, directories of images (frame = the number in the name), videos")
      ->required();
  detect_cmd->add_option("--classes", detect.classes, "only these classes, e.g. person,car (default: the config's)")
      ->delimiter(',');
  detect_cmd->add_option("--out", detect.out, "file to write (default: stdout)");
  detect_cmd->add_option("--input-size", detect.input_size, "network input (default: [prelabel] input_size)")
      ->check(CLI::Range(32, 2048));
  detect_cmd->add_option("--tiles", detect.tiles, "overlapping tiles across each frame besides the whole (default: [prelabel] tiles; 1: none)")
      ->check(CLI::Range(1, 8));
  detect_cmd->add_flag("--live", detect.live, "the cheap live setting ([detector]) instead of the pre-label one ([prelabel])");
  detect_cmd->add_flag("--json", detect.json, "as JSON with class names");

  PrelabelOptions prelabel;
  auto* prelabel_cmd = app.add_subcommand(
      "prelabel", "detect and track packages' clips again with this config's [prelabel] setting; labels rewritten in place");
  prelabel_cmd->add_option("packages", prelabel.packages, "package directories (each holds manifest.json)")->required();
  prelabel_cmd->add_flag("--json", prelabel.json, "a machine-readable result on stdout");

  RedactOptions redact;
  auto* redact_cmd = app.add_subcommand("redact", "blur faces and licence plates in a video, as packages are before upload");
  redact_cmd->add_option("input", redact.input, "a video file")->required();
  redact_cmd->add_option("output", redact.output, "the redacted H.264 MP4 to write")->required();
  redact_cmd->add_option("--camera", redact.camera, "use this [[camera]]'s policy");
  redact_cmd->add_option("--faces", redact.faces, "none|blur|pixelate|fill (default: the policy's)")
      ->check(CLI::IsMember({"none", "blur", "pixelate", "fill"}));
  redact_cmd->add_option("--plates", redact.plates, "none|blur|pixelate|fill (default: the policy's)")
      ->check(CLI::IsMember({"none", "blur", "pixelate", "fill"}));
  redact_cmd->add_flag("--json", redact.json, "the manifest's privacy section and every frame's boxes, as JSON");

  EvalMotOptions eval;
  auto* eval_cmd = app.add_subcommand("eval-mot", "score MOTChallenge results: MOTA, MOTP, IDF1, ID switches, FP, FN");
  eval_cmd->add_option("--gt", eval.gt, "ground truth gt.txt")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--pred", eval.pred, "results to score")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--min-iou", eval.min_iou, "least IoU of a match (MOTChallenge: 0.5)")->check(CLI::Range(0.01, 1.0));
  eval_cmd->add_flag("--json", eval.json, "as JSON");

  auto* doctor_cmd = app.add_subcommand("doctor", "check plugins, data directory and catalog on this machine");
  doctor_cmd->add_flag("--json", json, "as JSON");

  ClipsOptions clips;
  auto* clips_cmd = app.add_subcommand("clips", "the clip queue: list, show, export, move");
  clips_cmd->require_subcommand(1);
  auto* clips_list = clips_cmd->add_subcommand("list", "clips, highest priority first");
  clips_list->add_option("--state", clips.state, "only this state")
      ->check(CLI::IsMember({"planned", "packaged", "review", "approved", "rejected", "uploading", "uploaded", "acked",
                             "failed"}));
  clips_list->add_option("--drive", clips.drive_id, "only this drive");
  clips_list->add_flag("--json", clips.json, "as JSON");
  auto* clips_show = clips_cmd->add_subcommand("show", "one clip: span, reasons, priority, effort, history");
  clips_show->add_option("clip", clips.clip, "clip id or uid")->required();
  clips_show->add_flag("--json", clips.json, "as JSON (with its manifest)");
  auto* clips_export = clips_cmd->add_subcommand("export", "one clip's package in one annotation tool's format");
  clips_export->add_option("clip", clips.clip, "clip id or uid")->required();
  clips_export->add_option("--format", clips.format, "cvat | mot | coco | labelstudio")
      ->required()->check(CLI::IsMember({"cvat", "mot", "coco", "labelstudio"}));
  clips_export->add_option("--out", clips.out, "directory to write (new or empty; default UID-FORMAT)");
  clips_export->add_option("--video-url-prefix", clips.video_url_prefix,
                           "labelstudio: URL of the directory that will serve this export's clip.mp4 (default: "
                           "Label Studio's local files, the export directory under its document root)");
  auto* clips_move = clips_cmd->add_subcommand("move", "an operator moves clips (approve, reject, back to review, requeue)");
  // CLIP... STATE: CLI11 gives a vector positional every word, so the last is taken off as the state.
  clips_move->add_option("clips", clips.clips, "clip ids or uids, then the new state (CLIP... STATE)")->required();
  clips_move->add_option("--state", clips.state, "every clip now in this state (e.g. failed), with or without ids");
  clips_move->add_option("--by", clips.by, "the operator's name")->required();
  clips_move->add_option("--reason", clips.reason, "why");

  double mark_at = 0;
  std::string mark_note;
  auto* mark_cmd = app.add_subcommand("mark", "an operator's mark in a drive: a clip around it, packaged now");
  mark_cmd->add_option("drive", drive_id, "drive id")->required();
  mark_cmd->add_option("--at", mark_at, "seconds into the drive")->required();
  mark_cmd->add_option("--note", mark_note, "what is there");

  auto* status_cmd = app.add_subcommand("status", "drives, clips by state, disk use");
  status_cmd->add_flag("--json", json, "as JSON");
  auto* retention_cmd = app.add_subcommand("retention", "enforce the disk quota now");
  retention_cmd->add_flag("--json", json, "as JSON");

  RecordOptions record;
  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "the station: record every [[camera]], analyse segments as they close, cut "
                                             "clips, the ZeroMQ bus (until SIGTERM)");
  run_cmd->add_option("--seconds", run.seconds, "stop after this long (default: until SIGINT / SIGTERM)");
  run_cmd->add_option("--only", run.only, "one part of the station (its own systemd unit)")
      ->check(CLI::IsMember({"record", "analysis", "sync", "ui"}));
  EventsOptions events;
  auto* events_cmd = app.add_subcommand("events", "print the station's events, one JSON per line");
  events_cmd->add_option("--count", events.count, "exit after this many events");
  events_cmd->add_option("--seconds", events.seconds, "exit after this long");
  events_cmd->add_option("--type", events.type, "only events whose type starts with this, e.g. segment.");
  std::string control_camera, control_note;
  auto* trigger_cmd = app.add_subcommand("trigger", "ask the running station for a clip around now");
  trigger_cmd->add_option("--camera", control_camera, "camera name (default: the first)");
  trigger_cmd->add_option("--note", control_note, "why (kept with the trigger)");
  std::string control_at;
  trigger_cmd->add_option("--at", control_at, "when it happened, UTC (2026-12-06T21:00:00.000Z; within the last hour)");
  auto* flush_cmd = app.add_subcommand("flush", "ask the running station to close its open segments now");
  auto* station_cmd = app.add_subcommand("station", "the running station's state (cameras, analysis, clips) as JSON");

  SyncOptions sync;
  auto* sync_cmd = app.add_subcommand("sync", "upload approved packages ([sync] target) and read the cloud's acks; "
                                              "exits when nothing is left");
  sync_cmd->add_flag("--follow", sync.follow, "keep going, every [sync] interval_s, until SIGTERM");
  sync_cmd->add_flag("--json", sync.json, "print what it did as JSON");
  CollectOptions collect;
  auto* collect_cmd = app.add_subcommand("collect", "the cloud job: take complete packages from the bucket, verify "
                                                    "them, write them for the annotation tools, ack them");
  collect_cmd->add_option("--from", collect.from, "s3://BUCKET[/PREFIX] or file:///DIR (endpoint, credentials: [sync])")
      ->required();
  collect_cmd->add_option("--to", collect.to, "directory the packages go to (DIR/<clip>/)")->required();
  collect_cmd->add_option("--job", collect.job, "name in claims and acks (default: host:pid)");
  collect_cmd->add_option("--video-url-prefix", collect.video_url_prefix,
                          "Label Studio: URL of --to (default: its local-files URL of --to's name)");
  collect_cmd->add_option("--claim-timeout", collect.claim_timeout_s,
                          "seconds after which another job's claim without an ack is taken over (default 3600)")
      ->check(CLI::Range(0.0, 1e9));
  collect_cmd->add_flag("--follow", collect.follow, "poll every [sync] interval_s until SIGTERM");
  collect_cmd->add_flag("--json", collect.json, "one JSON per pass");
  collect_cmd->add_flag("--prelabel", collect.prelabel,
                        "run the pre-label pass again on each package with this config's [prelabel] (a larger model)");

  UiCommandOptions ui;
  auto* ui_cmd = app.add_subcommand("ui", "the depot review UI ([ui] bind and port) until SIGTERM");
  ui_cmd->add_option("--port", ui.port, "port (default [ui] port; 0: any free one)")->check(CLI::Range(0, 65535));
  ui_cmd->add_option("--seconds", ui.seconds, "stop after this long");
  ui_cmd->add_option("--demo-operator", ui.demo_operator, "make this operator now with a one-time password, printed");
  std::string account;
  auto* user_cmd = app.add_subcommand("user", "operators of the depot UI");
  user_cmd->require_subcommand(1);
  auto* user_add = user_cmd->add_subcommand("add", "add an operator (asks for the password; or one line on stdin)");
  user_add->add_option("name", account, "operator name")->required();
  bool one_time = false;
  user_add->add_flag("--one-time", one_time, "a random password, printed once and replaced at the first login");
  auto* user_remove = user_cmd->add_subcommand("remove", "remove an operator or reader");
  user_remove->add_option("name", account, "name")->required();
  auto* user_unlock = user_cmd->add_subcommand("unlock", "end an operator's lock after wrong passwords");
  user_unlock->add_option("name", account, "operator name")->required();
  auto* user_list = user_cmd->add_subcommand("list", "operators and readers");
  auto* token_cmd = app.add_subcommand("token", "read-only API tokens (the cloud job pulls packages, posts acks)");
  token_cmd->require_subcommand(1);
  auto* token_add = token_cmd->add_subcommand("add", "make a reader; prints its token once");
  token_add->add_option("name", account, "reader name")->required();
  std::string scope = "read";
  token_add->add_option("--scope", scope, "read: list, download, metrics (default); ack: the cloud job, also acks")
      ->check(CLI::IsMember({"read", "ack"}));

  auto* record_cmd = app.add_subcommand("record", "record a live source into crash-safe segments (no re-encoding)");
  record_cmd->add_option("source", record.source, "rtsp://, v4l2:///dev/videoN (H.264) or test://")->required();
  record_cmd->add_option("--camera", record.camera, "camera name (default from config)");
  record_cmd->add_option("--seconds", record.seconds, "stop after this long (default: until Ctrl-C)");
  record_cmd->add_option("--segment-s", record.segment_s, "segment length (default from config)")
      ->check(CLI::Range(1.0, 3600.0));

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
  if (*detect_cmd) return run_detect(global, detect);
  if (*redact_cmd) return run_redact(global, redact);
  if (*prelabel_cmd) return run_prelabel(global, prelabel);
  if (*eval_cmd) return run_eval_mot(eval);
  if (*doctor_cmd) return run_doctor(global, json);
  if (*clips_list) return run_clips_list(global, clips);
  if (*clips_show) return run_clips_show(global, clips);
  if (*clips_export) return run_clips_export(global, clips);
  if (*clips_move) {
    clips.to = clips.clips.back();
    clips.clips.pop_back();
    return run_clips_move(global, clips);
  }
  if (*mark_cmd) return run_mark(global, drive_id, mark_at, mark_note);
  if (*status_cmd) return run_status(global, json);
  if (*retention_cmd) return run_retention(global, json);
  if (*record_cmd) return run_record(global, record);
  if (*sync_cmd) return run_sync(global, sync);
  if (*collect_cmd) return run_collect(global, collect);
  if (*run_cmd) return run_station(global, run);
  if (*ui_cmd) return run_ui(global, ui);
  if (*user_add) return run_user_add(global, account, one_time);
  if (*user_remove) return run_user_remove(global, account);
  if (*user_unlock) return run_user_unlock(global, account);
  if (*user_list) return run_user_list(global);
  if (*token_add) return run_token_add(global, account, scope);
  if (*events_cmd) return run_events(global, events);
  if (*trigger_cmd) return run_control(global, "trigger", control_camera, control_note, control_at);
  if (*flush_cmd) return run_control(global, "flush", "", "");
  if (*station_cmd) return run_control(global, "status", "", "");
  return kExitUsage;
}
