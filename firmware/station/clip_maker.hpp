// From an analysed drive to packages in the review queue: index the
// recording, plan the spans, cut each one, build its package, and move it
// through the queue (planned -> packaged -> review). A clip that cannot be
// made is moved to failed with the reason; the others go on.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "station/context.hpp"
#include "station/prelabel.hpp"
#include "clips/package.hpp"
#include "clips/planner.hpp"
#include "privacy/redactor.hpp"
#include "status.hpp"

namespace dashloop::app {

// Makes an ingested file the drive's recording: one segment, not owned
// (retention never deletes a user's file), with the file's keyframes.
Status index_recording(Context& ctx, int64_t drive_id, const std::filesystem::path& file);

// Makes recorded segments (in order) the drive's recording, their frames
// numbered on from one another. Refuses when the drive's analysed frames do
// not add up to theirs: labels would land on the wrong frames (-1: not
// counted, as in triage, where the reader numbered frames by the catalog's).
Status attach_recording(Context& ctx, int64_t drive_id, const std::vector<firmware::catalog::SegmentRecord>& segments,
                        int64_t analysed_frames);

struct ClipRun {
  std::vector<int64_t> ready;   // clips now in review
  std::vector<int64_t> packaged;  // clips waiting in packaged for the pre-label pass (prelabel_packaged)
  std::vector<int64_t> failed;  // clips moved to failed (reason in the catalog)
  int waiting = 0;              // clips left planned for want of space, built when there is room
  std::string skipped;          // why nothing was planned, if so
  std::vector<std::string> dropped;  // spans the budget did not keep, each with why
};

// A camera's clip budget over its last hour of driving (docs/CLIPS.md
// "Budget"): the drives before `before_id` (0: all), newest first, until
// they and the `next_s` of video about to be planned make an hour.
struct ClipBudget {
  double driving_s = 0;  // video of those drives
  double used_s = 0;     // seconds of their clips (any state but failed)
  double allowed_s = 0;  // [clips] budget_min_per_hour's share of driving_s + next_s, at least max_s
  std::vector<pipeline::clips::ClipView> kept;  // those clips' views, when asked for
};
Result<ClipBudget> clip_budget(Context& ctx, const std::string& camera, int64_t before_id, double next_s,
                               bool with_views);

// Plans and packages a drive's clips. Given a mark, only a clip around that
// mark (an operator asked for this moment, even inside an earlier clip).
// `stop` set (a station shutting down): the clip being built stays
// `planned`, the rest are not planned, and resume_planned() builds it at the
// next start.
Result<ClipRun> make_clips(Context& ctx, int64_t drive_id, const std::string& actor,
                           const firmware::catalog::TriggerRecord* mark = nullptr,
                           const std::atomic<bool>* stop = nullptr);

// Builds the clips a stop, a crash or a power cut left `planned` (planned,
// never packaged) and moves them on to review, or to failed with the reason.
Result<ClipRun> resume_planned(Context& ctx, const std::string& actor, const std::atomic<bool>* stop = nullptr);

// The pre-label pass on clips waiting in `packaged`, a trigger's or a mark's
// first (and never held by `control.pause`), then by priority, oldest first, each
// moved on to review; with the pass off, moved on as they are. A pass that
// fails leaves the package's live labels and says why in the move's reason:
// the clip is reviewed all the same. `stop` set: the clip being pre-labelled
// stays packaged (its package unchanged) and is done at the next start.
// `limit`: at most this many clips (0: all); `only`: only these clips (a
// command's own, never those a station on the same data dir is working on).
Result<ClipRun> prelabel_packaged(Context& ctx, const std::string& actor, const PrelabelControl& control,
                                  int limit = 0, const std::vector<int64_t>* only = nullptr);

// An operator's review edits, kept on the clip (the catalog's `edits`) and
// applied whenever its package is built: classes changed and tracks
// deleted, by track number; a trim to recording keyframes (drive frames,
// end excluded); boxes to redact that the detectors missed (keys on drive
// frames; the clip is redacted with them even where the camera's policy is
// off).
// An operator's boxes on one track, keyed on drive frames (the package
// interpolates between keys, as annotation tools do): an object the detector
// missed (`label` set), or an existing track's boxes put right.
struct TrackKeys {
  int track_no = 0;
  std::string label;  // an added object's class; empty: an existing track
  std::vector<std::pair<int64_t, cv::Rect2f>> keys;
};

struct ClipEdits {
  std::map<int, std::string> relabel;
  std::set<int> deleted;
  std::optional<std::pair<int64_t, int64_t>> trim;
  std::vector<pipeline::privacy::AddedMark> redact;
  std::vector<TrackKeys> added;  // objects drawn by the operator, numbered after the package's tracks
  std::vector<TrackKeys> moved;  // existing tracks' boxes the operator put right, one key each

  static Result<ClipEdits> from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
  // The operator's keys, then the deletions and relabels, by track number,
  // on a package's tracks (an added object is deleted or relabelled alike).
  void apply(std::vector<pipeline::clips::LabelTrack>& tracks) const;
};

// The catalog's facts of a package just written into `dir` from `in`.
firmware::catalog::PackageFacts package_facts(const std::filesystem::path& dir, const pipeline::clips::PackageInput& in,
                                              const pipeline::clips::PackageResult& written);

// Rebuilds a clip in review with `edits` (the whole set, replacing the
// stored one): cut again when trimmed, labels and manifest written by the
// package builder, and the move review -> review records who and what. The
// old package stays until the new one is whole.
Status edit_clip(Context& ctx, int64_t clip_id, const ClipEdits& edits, const std::string& actor);

// The camera's privacy policy on a package being written in `dir`: its
// clip.mp4 replaced by the redacted one (the original kept at `original`,
// outside the package), its keyframe images redacted into `images` (also
// outside: the builder copies them in), with an operator's `added` boxes (on
// drive frames). `seen`: the pre-label pass's people and vehicles on the
// clip's frames, used instead of the redactor's own detector. Returns the
// manifest's `privacy`.
Result<nlohmann::json> redact_package(const pipeline::privacy::PrivacyConfig& policy, const std::filesystem::path& dir,
                                      const std::filesystem::path& original, const std::filesystem::path& images,
                                      pipeline::clips::PackageInput& in,
                                      const std::vector<pipeline::privacy::AddedMark>& added,
                                      const std::atomic<bool>* stop,
                                      const pipeline::privacy::SeenObjects* seen = nullptr);

// A package's staging directory beside the packages: ".partial-<pid>-<what>".
// The pid tells a process clearing what a crashed one left which ones a
// running process (a station beside an ingest on one data dir) still writes.
std::string partial_name(const std::string& what);

// Deletes the half-written packages of processes no longer running (and of
// this one), and any staging directory named before the pid was in the name.
void remove_partial_packages(const std::filesystem::path& data_dir);

}  // namespace dashloop::app
