#include "station/prelabel.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <stdexcept>

#include "station/clip_maker.hpp"
#include "station/objects.hpp"
#include "clips/package.hpp"
#include "media/frame_reader.hpp"
#include "tracking_worker.hpp"
#include "vision/detectors.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

namespace clips = pipeline::clips;
namespace media = pipeline::media;
namespace vision = pipeline::vision;

struct Prelabels {
  std::string detector;  // its description
  json setting;          // what made them, for the manifest
  std::vector<clips::LabelTrack> tracks;  // boxes on the drive's frames
  pipeline::privacy::SeenObjects seen;    // its people and vehicles, on the clip's frames, for redaction
};

// The detector steps a pass has made, kept beside the package as they are
// made (clips::pass_steps_of): one JSON line each after a first line naming
// what made them (the detector setting and the clip), so that a pass stopped
// by a signal, a kill or a power cut resumes after its last whole line.
struct KeptSteps {
  std::vector<vision::TrackStep> steps;
  double to_source = 1.0;
};

json step_line(const vision::TrackStep& step, double to_source) {
  json detections = json::array();
  for (const auto& d : step.detections)
    detections.push_back({d.box.x, d.box.y, d.box.width, d.box.height, d.class_id, d.score});
  json motion = nullptr;
  if (step.motion) motion = std::vector<float>(step.motion->val, step.motion->val + 6);
  return {{"frame", step.frame}, {"to_source", to_source}, {"motion", motion}, {"detections", detections}};
}

vision::TrackStep step_of(const json& j) {
  vision::TrackStep step;
  step.frame = j.at("frame").get<int64_t>();
  if (!j.at("motion").is_null()) {
    const auto m = j.at("motion").get<std::vector<float>>();
    if (m.size() != 6) throw std::invalid_argument("motion: not 6 numbers");
    step.motion = cv::Matx23f(m.data());
  }
  for (const auto& d : j.at("detections"))
    step.detections.push_back({{d.at(0).get<float>(), d.at(1).get<float>(), d.at(2).get<float>(), d.at(3).get<float>()},
                               d.at(4).get<int>(), d.at(5).get<float>()});
  return step;
}

// The steps `file` holds for `key`, up to its last whole line (a torn last
// line is cut off); where it holds none for `key`, it is started anew.
Result<KeptSteps> open_steps(const fs::path& file, const json& key) {
  KeptSteps kept;
  std::uintmax_t whole = 0;  // bytes of the lines kept
  {
    std::ifstream in(file);
    std::string line;
    // getline reaching the end means the line had no newline: torn by a crash.
    if (in && std::getline(in, line) && !in.eof() && json::parse(line, nullptr, false).dump() == json{{"key", key}}.dump()) {
      whole = line.size() + 1;
      while (std::getline(in, line) && !in.eof()) {
        try {
          const json j = json::parse(line);
          auto step = step_of(j);
          if (!kept.steps.empty() && step.frame <= kept.steps.back().frame) break;
          kept.to_source = j.at("to_source").get<double>();
          kept.steps.push_back(std::move(step));
        } catch (const std::exception&) {  // json's, or a bad motion
          break;
        }
        whole += line.size() + 1;
      }
    }
  }
  std::error_code ec;
  if (whole > 0) fs::resize_file(file, whole, ec);
  if (whole > 0 && !ec) return kept;
  std::ofstream out(file, std::ios::trunc);
  out << json{{"key", key}}.dump() << "\n";
  out.close();
  if (!out) return Status::IOError(file.string() + ": cannot write the pass's steps");
  return KeptSteps{};
}

// The clip decoded, detected with the accurate setting and tracked by the
// offline tracker, its frames put back on the drive's (clip_frames: the
// drive frame of each of the clip's frames). Steps kept in `steps_file` by a
// stopped pass of the same setting are not detected again.
Result<Prelabels> redetect(const firmware::config::Config& config, const fs::path& clip,
                           const std::vector<int64_t>& clip_frames, const fs::path& steps_file,
                           const PrelabelControl& control) {
  pipeline::TrackingOptions options;
  options.detector = config.detector;
  config.prelabel.apply_to(options.detector);
  options.detector.rate_hz = config.prelabel.rate_hz;
  options.tracker = config.tracking.tracker;
  options.offline = config.tracking.offline;
  options.camera_motion = config.tracking.camera_motion;

  // What decides the steps: the detector and its setting, the clip.
  const auto& d = options.detector;
  std::string model_sha256;
  if (d.kind == "onnx") {
    auto sum = clips::sha256_file(d.model);
    if (!sum.ok()) return sum.status();
    model_sha256 = *sum;
  }
  std::error_code ec;
  const json key = {{"kind", d.kind}, {"model_sha256", model_sha256}, {"format", d.format},
                    {"input_size", d.input_size}, {"width", d.width}, {"tiles", d.tiles},
                    {"tile_overlap", d.tile_overlap}, {"rate_hz", d.rate_hz}, {"min_score", d.min_score},
                    {"classes", d.classes}, {"class_min_scores", d.class_min_scores}, {"nms_iou", d.nms_iou},
                    {"cross_class_iou", d.cross_class_iou}, {"camera_motion", options.camera_motion},
                    {"clip", clip.filename().string()}, {"clip_bytes", fs::file_size(clip, ec)},
                    {"clip_frames", clip_frames.size()}};
  auto kept = open_steps(steps_file, key);
  if (!kept.ok()) return kept.status();
  options.resume = std::move(kept->steps);
  options.resume_to_source = kept->to_source;
  std::ofstream steps_out(steps_file, std::ios::app);
  bool steps_lost = false;
  options.on_step = [&](const vision::TrackStep& step, double to_source) {
    steps_out << step_line(step, to_source).dump() << "\n";
    steps_out.flush();  // a kill loses at most the line being written
    if (!steps_out && !steps_lost) {
      steps_lost = true;
      spdlog::warn("{}: cannot keep the pass's steps (a stopped pass will start again)", steps_file.string());
    }
  };

  auto worker = pipeline::TrackingWorker::start(options);
  if (!worker.ok()) return worker.status();
  media::Source source;
  source.original = source.location = clip.string();
  auto reader = media::FrameReader::open(source, {});
  if (!reader.ok()) return reader.status();
  int64_t frames = 0;
  for (;;) {
    if (control.pause) control.pause();
    if (control.stop && control.stop->load())
      return Status::Unavailable(clip.string() + ": pre-label pass interrupted (stopping)");
    auto next = (*reader)->next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    (*worker)->offer(**next);
    ++frames;
  }
  auto result = (*worker)->finish();
  if (!result.ok()) return result.status();
  if (frames != int64_t(clip_frames.size()))
    return Status::Corruption(clip.string() + ": decoded " + std::to_string(frames) + " frames, the package lists " +
                              std::to_string(clip_frames.size()));
  if (result->resumed_frames > 0)
    spdlog::info("{}: the pass resumed after {} of its {} detector frames, kept from a stopped pass", clip.string(),
                 result->resumed_frames, result->detected_frames);
  Prelabels out;
  out.detector = result->detector;
  const auto& t = options.tracker;
  const auto& o = *options.offline;
  out.setting = {{"pass", "redetected"},
                 {"detector", result->detector},
                 {"input_size", options.detector.input_size},
                 {"width", options.detector.width},
                 {"tiles", options.detector.tiles},
                 {"rate_hz", options.detector.rate_hz},
                 {"detected_frames", result->detected_frames},
                 {"tracker", {{"kind", "offline"},
                              {"high_score", t.high_score},
                              {"low_score", t.low_score},
                              {"new_track_score", t.new_track_score},
                              {"min_hits", t.min_hits},
                              {"max_age", t.max_age},
                              {"camera_motion", options.camera_motion},
                              {"min_shared", o.min_shared},
                              {"fill_gap", o.fill_gap},
                              {"min_detections", o.min_detections},
                              {"min_mean_score", o.min_mean_score}}}};
  out.seen = pipeline::privacy::seen_objects(result->steps, result->labels,
                                             {{"detector", result->detector}, {"from", "the pre-label pass"},
                                              {"input_size", options.detector.input_size},
                                              {"tiles", options.detector.tiles},
                                              {"rate_hz", options.detector.rate_hz}});
  for (const auto& track : drive_objects(*result, 0.0).tracks) {
    clips::LabelTrack lt{track.track_no, track.label, {}};
    for (const auto& b : track.boxes)
      lt.boxes.push_back({clip_frames[size_t(b.frame)], b.x, b.y, b.w, b.h, b.score, b.predicted});
    out.tracks.push_back(std::move(lt));
  }
  return out;
}

// What made a package's labels, but for what only describes the run.
json setting_of(json prelabel) {
  if (prelabel.is_object()) prelabel.erase("by"), prelabel.erase("detected_frames");
  return prelabel;
}

// Puts `staged` where `dir` is in one step (the old package ends up at
// `staged`); two renames where the file system has no exchange.
Status swap_in(const fs::path& staged, const fs::path& dir) {
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) return Status::Ok();
  const fs::path old = staged.string() + ".old";
  std::error_code ec;
  fs::rename(dir, old, ec);
  if (!ec) fs::rename(staged, dir, ec);
  if (ec) return Status::IOError(dir.string() + ": cannot put the re-labelled package in place: " + ec.message());
  fs::rename(old, staged, ec);
  return Status::Ok();
}

// Keeps the pass's tracks beside the package (write, then rename).
void keep_pass(const fs::path& dir, const clips::PackageInput& in, const std::vector<clips::LabelTrack>& unedited) {
  json tracks = json::array();
  for (const auto& t : unedited) {
    json boxes = json::array();
    for (const auto& b : t.boxes) boxes.push_back({b.frame, b.x, b.y, b.w, b.h, b.score, b.predicted});
    tracks.push_back({{"track_no", t.track_no}, {"label", t.label}, {"boxes", std::move(boxes)}});
  }
  const json kept = {{"detector", in.detector}, {"setting", in.prelabel}, {"first_frame", in.clip_frames.front()},
                     {"last_frame", in.clip_frames.back()}, {"tracks", std::move(tracks)}};
  const fs::path file = clips::prelabel_cache_of(dir), partial = file.string() + ".partial";
  std::ofstream out(partial);
  out << kept.dump() << "\n";
  out.close();
  std::error_code ec;
  if (out) fs::rename(partial, file, ec);
  if (!out || ec) {
    fs::remove(partial, ec);
    spdlog::warn("{}: the pass's tracks not kept (an edit will run the pass again)", file.string());
  }
}

// What a package waiting for its redaction needs before it is rewritten:
// given the staged package (its clip.mp4 the unredacted one, hard-linked)
// and where the original and the redacted keyframe images go beside it,
// redacts the staged clip and sets the input's `privacy`.
using RedactStaged = std::function<Status(const fs::path& staged, const fs::path& original, const fs::path& images)>;

// `in` written as the package in `dir`, its clip as it is (hard-linked) or
// redacted by `redact`: staged beside it under a name the next start clears,
// swapped in whole. A redacted package's original is put beside it first, so
// that a crash at any point leaves it there or the package unredacted.
// `redact` may change `in` (its privacy, its keyframe images).
Result<clips::PackageResult> rewrite_package(const fs::path& dir, clips::PackageInput& in,
                                             const RedactStaged& redact = {}) {
  const fs::path staged = dir.parent_path() / partial_name("relabel-" + dir.filename().string());
  const fs::path original = staged.string() + ".original.mp4", images = staged.string() + ".keyframes";
  std::error_code ec;
  auto fail = [&](Status st) {
    fs::remove_all(staged, ec);
    fs::remove(original, ec);
    fs::remove_all(images, ec);
    return st;
  };
  fs::remove_all(staged, ec);
  fs::create_directories(staged, ec);
  if (ec) return Status::IOError(staged.string() + ": " + ec.message());
  fs::create_hard_link(dir / "clip.mp4", staged / "clip.mp4", ec);
  if (ec) fs::copy_file(dir / "clip.mp4", staged / "clip.mp4", ec);
  if (ec) return fail(Status::IOError((staged / "clip.mp4").string() + ": " + ec.message()));
  if (redact)
    if (Status st = redact(staged, original, images); !st.ok()) return fail(st);
  auto written = clips::write_package(in, staged);
  if (!written.ok()) return fail(written.status());
  if (redact) {
    fs::rename(original, clips::original_clip_of(dir), ec);
    if (ec) return fail(Status::IOError(clips::original_clip_of(dir).string() + ": " + ec.message()));
  }
  if (Status st = swap_in(staged, dir); !st.ok()) return fail(st);
  fail(Status::Ok());  // the old package, now at `staged`
  return written;
}

// A package waiting for its redaction, redacted by the camera's policy (with
// `seen`, the pass's people and vehicles; without, the redactor's own) and
// written with `in`'s labels.
Result<clips::PackageResult> redact_and_rewrite(const firmware::config::Config& config, const fs::path& dir,
                                                clips::PackageInput& in,
                                                const std::vector<pipeline::privacy::AddedMark>& added,
                                                const pipeline::privacy::SeenObjects* seen,
                                                const std::atomic<bool>* stop) {
  const auto policy = firmware::config::privacy_for(config, in.camera);
  in.privacy = nullptr;
  if (!policy.on() && added.empty()) return rewrite_package(dir, in);  // the camera opted out since
  return rewrite_package(dir, in, [&](const fs::path& staged, const fs::path& original, const fs::path& images) {
    auto redacted = redact_package(policy, staged, original, images, in, added, stop, seen);
    if (!redacted.ok()) return redacted.status();
    in.privacy = std::move(*redacted);
    return Status::Ok();
  });
}

// The classes a package offers: what it had and what its tracks now are.
void add_labels(clips::PackageInput& in) {
  std::set<std::string> labels(in.labels.begin(), in.labels.end());
  for (const auto& t : in.tracks) labels.insert(t.label);
  in.labels.assign(labels.begin(), labels.end());
}

}  // namespace

Result<std::optional<firmware::catalog::PackageFacts>> redact_pending(const firmware::config::Config& config,
                                                                      const fs::path& dir,
                                                                      const LiveLabels& live_labels,
                                                                      const std::atomic<bool>* stop) {
  auto in = clips::read_package_input(dir);
  if (!in.ok() || !clips::privacy_pending(in->privacy)) return std::optional<firmware::catalog::PackageFacts>();
  auto tracks = live_labels();
  if (!tracks.ok()) return tracks.status();
  in->tracks = std::move(*tracks);
  auto written = redact_and_rewrite(config, dir, *in, {}, nullptr, stop);
  if (!written.ok()) return written.status();
  return std::optional<firmware::catalog::PackageFacts>(package_facts(dir, *in, *written));
}

std::optional<PassLabels> kept_pass(const fs::path& dir) {
  std::ifstream in(clips::prelabel_cache_of(dir));
  if (!in) return std::nullopt;
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  try {
    PassLabels p{j.at("detector").get<std::string>(), j.at("setting"), j.at("first_frame").get<int64_t>(),
                 j.at("last_frame").get<int64_t>(), {}};
    for (const auto& t : j.at("tracks")) {
      clips::LabelTrack track{t.at("track_no").get<int>(), t.at("label").get<std::string>(), {}};
      for (const auto& b : t.at("boxes"))
        track.boxes.push_back({b.at(0).get<int64_t>(), b.at(1).get<double>(), b.at(2).get<double>(),
                               b.at(3).get<double>(), b.at(4).get<double>(), b.at(5).get<double>(), b.at(6).get<bool>()});
      p.tracks.push_back(std::move(track));
    }
    return p;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool prelabel_on(const firmware::config::Config& config) {
  return config.prelabel.redetect && config.detector.kind != "none";
}

Status can_prelabel(const firmware::config::Config& config) {
  if (config.detector.kind == "none")
    return Status::InvalidArgument("[detector] kind is none: there is no detector to pre-label with");
  return Status::Ok();
}

Result<PrelabelReport> prelabel_package(const firmware::config::Config& config, const fs::path& given,
                                        const PrelabelControl& control) {
  const auto began = std::chrono::steady_clock::now();
  // "pkg/" is "pkg": what the pass writes beside the package is named from
  // its last component, which a trailing slash leaves empty (so it landed
  // inside the package, and the swap then failed).
  fs::path dir = fs::absolute(given).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();
  auto in = clips::read_package_input(dir);
  if (!in.ok()) return in.status();
  ClipEdits edits;
  if (in->review.is_object() && in->review.contains("edits")) {
    auto read = ClipEdits::from_json(in->review["edits"]);
    if (!read.ok()) return Status::Corruption(dir.string() + ": manifest review: " + read.status().message());
    edits = std::move(*read);
  }
  const fs::path original = clips::original_clip_of(dir);
  const fs::path video = fs::exists(original) ? original : dir / "clip.mp4";
  const fs::path steps_file = clips::pass_steps_of(dir);
  auto pre = redetect(config, video, in->clip_frames, steps_file, control);
  if (!pre.ok()) return pre.status();
  const std::vector<clips::LabelTrack> unedited = pre->tracks;  // what a later edit starts from
  const bool named_tracks = !edits.relabel.empty() || !edits.deleted.empty() || !edits.moved.empty() || !edits.added.empty();
  if (named_tracks && in->labels_from == "redetected" && setting_of(in->prelabel) != setting_of(pre->setting))
    return Status::InvalidArgument(dir.string() + ": an operator relabelled or deleted tracks of labels another "
                                   "setting made; a new setting would give other tracks");
  edits.apply(pre->tracks);
  in->tracks = std::move(pre->tracks);
  add_labels(*in);
  in->detector = pre->detector;
  in->detector_scores = pipeline::vision::score_scale_of(pre->detector);
  in->labels_from = "redetected";
  in->prelabel = std::move(pre->setting);
  in->prelabel["by"] = control.by;

  Result<clips::PackageResult> written = Status::NotFound("");
  if (clips::privacy_pending(in->privacy)) {
    // Redacted now, with the pass's people and vehicles (clip_maker's build deferred it).
    written = redact_and_rewrite(config, dir, *in, edits.redact, &pre->seen, control.stop);
  } else {
    written = rewrite_package(dir, *in);
  }
  if (!written.ok()) return written.status();
  std::error_code ec;
  keep_pass(dir, *in, unedited);
  fs::remove(steps_file, ec);  // the pass is done; its labels are in the package

  PrelabelReport report;
  report.facts = package_facts(dir, *in, *written);
  report.tracks = int(in->tracks.size());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  report.clip_s = double(in->clip_frames.size()) / in->fps;
  return report;
}

}  // namespace dashloop::app

namespace dashloop::app {

Result<firmware::catalog::PackageFacts> relabel_package(const fs::path& dir, const PassLabels& pass,
                                                        const ClipEdits& edits, const json& review) {
  auto in = clips::read_package_input(dir);
  if (!in.ok()) return in.status();
  if (in->labels_from != "redetected" || in->clip_frames.empty() || pass.first_frame != in->clip_frames.front() ||
      pass.last_frame != in->clip_frames.back())
    return Status::InvalidArgument(dir.string() + ": its labels are not the kept pass's over the same frames");
  in->tracks = pass.tracks;
  edits.apply(in->tracks);
  add_labels(*in);
  in->review = review;
  auto written = rewrite_package(dir, *in);
  if (!written.ok()) return written.status();
  return package_facts(dir, *in, *written);
}

}  // namespace dashloop::app
