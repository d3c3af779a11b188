#include "station/clip_maker.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cmath>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "station/objects.hpp"
#include "station/prelabel.hpp"
#include "clips/package.hpp"
#include "clips/planner.hpp"
#include "media/cutter.hpp"
#include "media/frame_reader.hpp"
#include "media/packets.hpp"
#include "media/recorder.hpp"
#include "privacy/redactor.hpp"
#include "retention/retention.hpp"
#include "vision/detectors.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dashloop::app {
namespace {

namespace cat = firmware::catalog;
namespace media = pipeline::media;
namespace clips = pipeline::clips;

constexpr const char* kTracker = "dashloop-bytetrack/" DASHLOOP_VERSION;

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '-';
  return out.empty() ? "vehicle" : out;
}

struct Recording {
  std::vector<cat::SegmentRecord> segments;
  std::vector<std::vector<cat::SegmentKeyframe>> keyframes;  // per segment
};

// Frames in the recording: what clips are planned and trimmed within (a
// triage drive analysed only its I-frames, yet any frame can be cut).
int64_t recorded_frames(const Recording& rec) {
  int64_t end = 0;
  for (const auto& s : rec.segments) end = std::max(end, s.first_frame + s.frames);
  return end;
}

// What a drive's clips are made from, read from the catalog once per run.
struct DriveData {
  cat::DriveRecord drive;
  Recording rec;
  std::vector<cat::TrackRecord> tracks;  // with their boxes
  std::vector<cat::KeyframeRecord> keyframes;
};

// A clip's view for the near-duplicate check: the drive's keyframes inside
// its span, or the last one before it when none falls inside.
clips::ClipView view_of(const std::vector<cat::KeyframeRecord>& keyframes, int64_t start, int64_t end,
                        std::set<std::string> classes) {
  clips::ClipView v;
  v.classes = std::move(classes);
  const cat::KeyframeRecord* before = nullptr;
  for (const auto& k : keyframes) {
    if (k.dhash.empty()) continue;
    if (k.frame_index >= start && k.frame_index < end) v.dhashes.push_back(std::stoull(k.dhash, nullptr, 16));
    if (k.frame_index < start && (!before || k.frame_index > before->frame_index)) before = &k;
  }
  if (v.dhashes.empty() && before) v.dhashes.push_back(std::stoull(before->dhash, nullptr, 16));
  return v;
}

// The drive's live tracks over frames [start, end) as a package's labels:
// what a clip is cut with, until its pre-label pass replaces them.
std::vector<clips::LabelTrack> live_labels(const std::vector<cat::TrackRecord>& tracks, int64_t start, int64_t end) {
  std::vector<clips::LabelTrack> out;
  for (const auto& t : tracks) {
    if (t.last_frame < start || t.first_frame >= end) continue;
    clips::LabelTrack lt{t.track_no, t.label, {}};
    for (const auto& b : t.boxes) lt.boxes.push_back({b.frame, b.x, b.y, b.w, b.h, b.score, b.predicted});
    out.push_back(std::move(lt));
  }
  return out;
}

Result<DriveData> load_drive(cat::Catalog& catalog, int64_t drive_id) {
  DriveData d;
  auto drive = catalog.drive(drive_id);
  if (!drive.ok()) return drive.status();
  if (!*drive) return Status::NotFound("drive " + std::to_string(drive_id) + " is not in the catalog");
  d.drive = std::move(**drive);
  auto segments = catalog.segments(drive_id);
  if (!segments.ok()) return segments.status();
  for (auto& s : *segments) {
    if (s.state == "deleted") continue;
    auto k = catalog.segment_keyframes(s.id);
    if (!k.ok()) return k.status();
    d.rec.segments.push_back(std::move(s));
    d.rec.keyframes.push_back(std::move(k.value()));
  }
  auto tracks = catalog.tracks(drive_id);
  if (!tracks.ok()) return tracks.status();
  d.tracks = std::move(tracks.value());
  for (auto& t : d.tracks) {
    auto boxes = catalog.track_boxes(t.id);
    if (!boxes.ok()) return boxes.status();
    t.boxes = std::move(boxes.value());
  }
  auto keyframes = catalog.keyframes(drive_id);
  if (!keyframes.ok()) return keyframes.status();
  d.keyframes = std::move(keyframes.value());
  return d;
}

}  // namespace

Result<json> redact_package(const pipeline::privacy::PrivacyConfig& policy, const fs::path& dir,
                            const fs::path& original, const fs::path& images, clips::PackageInput& in,
                            const std::vector<pipeline::privacy::AddedMark>& added, const std::atomic<bool>* stop,
                            const pipeline::privacy::SeenObjects* seen) {
  auto redactor = pipeline::privacy::Redactor::open(policy, seen == nullptr);
  if (!redactor.ok()) return redactor.status();
  std::error_code ec;
  fs::rename(dir / "clip.mp4", original, ec);
  if (ec) return Status::IOError(original.string() + ": " + ec.message());
  // The operator's keys from drive frames to the clip's; a key a trim cut away is dropped.
  std::vector<pipeline::privacy::AddedMark> marks;
  for (const auto& mark : added) {
    pipeline::privacy::AddedMark m{mark.id, mark.what, {}};
    for (const auto& [frame, box] : mark.keys)
      if (auto at = std::find(in.clip_frames.begin(), in.clip_frames.end(), frame); at != in.clip_frames.end())
        m.keys.emplace_back(at - in.clip_frames.begin(), box);
    if (!m.keys.empty()) marks.push_back(std::move(m));
  }
  auto report = (*redactor)->redact_video(original, dir / "clip.mp4", stop, marks, seen);
  if (!report.ok()) return report.status();
  fs::create_directories(images, ec);
  for (auto& k : in.keyframes) {
    const auto at = std::find(in.clip_frames.begin(), in.clip_frames.end(), k.frame);
    if (at == in.clip_frames.end()) return Status::Corruption(k.image.string() + ": its frame is not in the clip");
    const fs::path out = images / k.image.filename();
    if (Status st = (*redactor)->redact_image(k.image, out, report->by_frame[size_t(at - in.clip_frames.begin())],
                                              report->frame_size);
        !st.ok())
      return st;
    k.image = out;
  }
  spdlog::info("clip {}: redacted (faces {}, plates {}): {} of {} frames, {} boxes, {:.1f} s", in.id, policy.faces,
               policy.plates, report->frames_redacted, report->frames,
               [&] {
                 int64_t n = 0;
                 for (const auto& [kind, count] : report->boxes) n += count;
                 return n;
               }(),
               report->seconds);
  return (*redactor)->manifest(*report);
}

namespace {

// Cuts and packages one planned clip (with an operator's edits, if any);
// returns the package's facts.
// `pass`: the tracks of the package's earlier pre-label pass (covering the
// span), labelled from instead of the live ones.
Result<cat::PackageFacts> build(Context& ctx, const DriveData& data, const cat::ClipRecord& clip,
                                const ClipEdits* edits = nullptr, const json& review = nullptr,
                                const std::atomic<bool>* stop = nullptr, const PassLabels* pass = nullptr) {
  const cat::DriveRecord& drive = data.drive;
  const Recording& rec = data.rec;
  // The segments the span lies in, and the keyframes it starts and ends at.
  media::CutRequest cut;
  std::vector<const cat::SegmentRecord*> used;
  for (size_t i = 0; i < rec.segments.size(); ++i) {
    const auto& s = rec.segments[i];
    const int64_t seg_end = s.first_frame + s.frames;
    if (seg_end <= clip.start_frame || s.first_frame >= clip.end_frame) continue;
    if (!fs::exists(s.path)) return Status::NotFound(s.path + ": the recording segment is missing");
    auto key_pts = [&](int64_t frame) -> std::optional<int64_t> {
      for (const auto& k : rec.keyframes[i])
        if (s.first_frame + k.frame == frame) return k.pts;
      return std::nullopt;
    };
    if (used.empty()) {
      auto pts = key_pts(clip.start_frame);
      if (!pts) return Status::Corruption(s.path + ": no keyframe at frame " + std::to_string(clip.start_frame));
      cut.start_pts = *pts;
    }
    if (clip.end_frame < seg_end) {
      auto pts = key_pts(clip.end_frame);
      if (!pts) return Status::Corruption(s.path + ": no keyframe at frame " + std::to_string(clip.end_frame));
      cut.end_pts = *pts;
    }
    cut.segments.emplace_back(s.path);
    used.push_back(&s);
  }
  if (used.empty()) return Status::NotFound("drive " + std::to_string(drive.id) + ": no recording covers frames " +
                                            std::to_string(clip.start_frame) + "-" + std::to_string(clip.end_frame));

  // Room for it first: about the span's share of its segments.
  int64_t incoming = 0;
  for (const auto* s : used) incoming += s->frames > 0 ? s->bytes * (clip.end_frame - clip.start_frame) / s->frames : 0;
  auto kept = firmware::retention::enforce(*ctx.catalog, ctx.config.data_dir, retention_policy(ctx.config), incoming,
                                           clip.priority);
  if (!kept.ok()) return kept.status();
  if (kept->over && kept->protected_kept > 0)
    return Status::Unavailable(ctx.config.data_dir.string() + ": no room for the package (priority " +
                           std::to_string(clip.priority).substr(0, 4) + ") past the disk's hard limit: the " +
                           std::to_string(kept->protected_kept) +
                           " packages waiting are of its priority or higher and are kept");
  if (kept->over) return Status::Unavailable(ctx.config.data_dir.string() + ": no room for the package (disk quota)");

  const fs::path final_dir = fs::absolute(ctx.config.data_dir / "packages" / clip.uid).lexically_normal();
  const fs::path partial = final_dir.parent_path() / partial_name(clip.uid);
  std::error_code ec;
  fs::remove_all(partial, ec);
  fs::create_directories(partial, ec);
  if (ec) return Status::IOError(partial.string() + ": " + ec.message());
  // A redacted package's original and keyframe images wait beside it until it is whole.
  const fs::path original = partial.string() + ".original.mp4", images = partial.string() + ".keyframes";
  auto fail = [&](Status st) {
    fs::remove_all(partial, ec);
    fs::remove(original, ec);
    fs::remove_all(images, ec);
    return st;
  };

  auto cut_result = media::cut_clip(cut, partial / "clip.mp4");
  if (!cut_result.ok() && cut_result.status().kind() == Status::Kind::kUnsupported) {
    // A video MP4 cannot carry as it is (MJPEG, DivX): re-encoded instead.
    spdlog::info("clip {}: re-encoded to H.264: {}", clip.uid, cut_result.status().message());
    cut_result = media::reencode_clip(cut, partial / "clip.mp4");
  }
  if (!cut_result.ok()) return fail(cut_result.status());
  clips::PackageInput in;
  for (const auto& f : cut_result->frames) {
    const auto* s = used[size_t(f.segment)];
    const double fps = s->fps > 0 ? s->fps : drive.fps;
    in.clip_frames.push_back(s->first_frame + std::llround(double(f.pts - s->first_pts) * fps / 1e9));
  }
  if (in.clip_frames.front() != clip.start_frame)
    return fail(Status::Corruption("clip " + clip.uid + ": the cut starts at frame " +
                                   std::to_string(in.clip_frames.front()) + ", the plan at " +
                                   std::to_string(clip.start_frame)));

  in.id = clip.uid;
  in.drive_id = drive.id;
  in.vehicle = drive.vehicle;
  in.camera = drive.camera;
  in.source = drive.source;
  // a segment's UTC start is its first frame's: the clip starts that far into it
  if (auto start = media::parse_utc(used.front()->start_utc)) {
    const double into = double(clip.start_frame - used.front()->first_frame) /
                        (used.front()->fps > 0 ? used.front()->fps : drive.fps);
    in.utc_start = media::utc_at(*start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                              std::chrono::duration<double>(into)));
  }
  in.fps = cut_result->fps > 0 ? cut_result->fps : drive.fps;
  in.width = cut_result->width > 0 ? cut_result->width : drive.width;
  in.height = cut_result->height > 0 ? cut_result->height : drive.height;
  in.codec = cut_result->codec;
  in.detector = drive.detector.empty() ? "none" : drive.detector;
  in.detector_scores = pipeline::vision::score_scale_of(in.detector);
  in.tracker = kTracker;
  in.effort = ctx.config.clips.effort;
  in.plan = {{"reasons", json::parse(clip.reasons)},
             {"priority", clip.priority},
             {"priority_parts", json::parse(clip.priority_parts)},
             {"planned_frames", {clip.planned_start, clip.planned_end}},
             {"cut_frames", {clip.start_frame, clip.end_frame}}};
  std::set<std::string> labels;
  for (const auto& t : data.tracks) labels.insert(t.label);
  if (pass) {
    in.tracks = pass->tracks;
    in.detector = pass->detector;
    in.detector_scores = pipeline::vision::score_scale_of(pass->detector);
    in.labels_from = "redetected";
    in.prelabel = pass->setting;
    for (const auto& t : in.tracks) labels.insert(t.label);
  } else {
    in.tracks = live_labels(data.tracks, clip.start_frame, clip.end_frame);  // the pass replaces them later
  }
  if (edits) {
    edits->apply(in.tracks);
    for (const auto& [no, label] : edits->relabel) labels.insert(label);
  }
  in.review = review;
  in.labels.assign(labels.begin(), labels.end());
  for (const auto& k : data.keyframes)
    if (k.frame_index >= clip.start_frame && k.frame_index < clip.end_frame)
      in.keyframes.push_back({k.frame_index, k.image_path});

  // Redacted before anything is listed: what leaves the vehicle is only what the manifest lists.
  const auto policy = firmware::config::privacy_for(ctx.config, drive.camera);
  const std::vector<pipeline::privacy::AddedMark> no_marks;
  const auto& added = edits ? edits->redact : no_marks;
  bool redacting = policy.on() || !added.empty();
  if (redacting && !edits && !pass && prelabel_on(ctx.config)) {
    // The pass detects every kept clip anyway: redaction waits for it and
    // reuses its people and vehicles (prelabel_package), so the clip is
    // detected once, and the cut leaves the analysis thread at once. Until
    // then nothing of the package is served or uploaded.
    redacting = false;
    in.privacy = {{"pending", true}, {"faces", policy.faces}, {"plates", policy.plates},
                  {"why", "redacted with the pre-label pass's detections, before review"}};
  }
  if (redacting) {
    auto redacted = redact_package(policy, partial, original, images, in, added, stop);
    if (!redacted.ok()) return fail(redacted.status());
    in.privacy = std::move(*redacted);
  }
  auto package = clips::write_package(in, partial);
  fs::remove_all(images, ec);
  if (!package.ok()) return fail(package.status());
  fs::remove_all(final_dir, ec);
  fs::remove(clips::original_clip_of(final_dir), ec);
  if (!pass) fs::remove(clips::prelabel_cache_of(final_dir), ec);  // of another package in its place
  fs::remove(clips::pass_steps_of(final_dir), ec);                  // of a stopped pass on the clip replaced
  fs::rename(partial, final_dir, ec);  // whole, or not there
  if (ec) return fail(Status::IOError(final_dir.string() + ": " + ec.message()));
  if (redacting) fs::rename(original, clips::original_clip_of(final_dir), ec);
  return package_facts(final_dir, in, *package);
}

}  // namespace

namespace {
// An operator's box on `frame`: replaces the track's box there, or is a new one.
void put_key(clips::LabelTrack& t, int64_t frame, const cv::Rect2f& r) {
  const clips::LabelBox key{frame, r.x, r.y, r.width, r.height, 1.0, false};
  auto at = std::lower_bound(t.boxes.begin(), t.boxes.end(), frame,
                             [](const clips::LabelBox& b, int64_t f) { return b.frame < f; });
  if (at != t.boxes.end() && at->frame == frame) *at = key;
  else t.boxes.insert(at, key);
}

Result<std::vector<TrackKeys>> track_keys_from_json(const json& list, const char* field, bool labelled) {
  std::vector<TrackKeys> out;
  for (const auto& j : list) {
    TrackKeys t{j.at("track").get<int>(), labelled ? j.at("label").get<std::string>() : "", {}};
    const std::string name = std::string("edits: ") + field + " " + std::to_string(t.track_no);
    if (labelled && t.label.empty()) return Status::InvalidArgument(name + ": no class");
    for (const auto& k : j.at("keys")) {
      const cv::Rect2f box(k.at(1).get<float>(), k.at(2).get<float>(), k.at(3).get<float>(), k.at(4).get<float>());
      if (!(box.width > 0 && box.height > 0)) return Status::InvalidArgument(name + ": a box needs a width and a height");
      t.keys.emplace_back(k.at(0).get<int64_t>(), box);
    }
    if (t.keys.empty()) return Status::InvalidArgument(name + ": no keys");
    out.push_back(std::move(t));
  }
  return out;
}

json track_keys_to_json(const std::vector<TrackKeys>& list, bool labelled) {
  json out = json::array();
  for (const auto& t : list) {
    json keys = json::array();
    for (const auto& [frame, b] : t.keys) keys.push_back({frame, b.x, b.y, b.width, b.height});
    json j = {{"track", t.track_no}, {"keys", keys}};
    if (labelled) j["label"] = t.label;
    out.push_back(std::move(j));
  }
  return out;
}
}  // namespace

void ClipEdits::apply(std::vector<clips::LabelTrack>& tracks) const {
  for (const auto& m : moved)
    for (auto& t : tracks)
      if (t.track_no == m.track_no)
        for (const auto& [frame, box] : m.keys) put_key(t, frame, box);
  for (const auto& a : added) {
    clips::LabelTrack t{a.track_no, a.label, {}, true};
    for (const auto& [frame, box] : a.keys) put_key(t, frame, box);
    tracks.push_back(std::move(t));
  }
  std::erase_if(tracks, [&](const clips::LabelTrack& t) { return deleted.count(t.track_no) > 0; });
  for (auto& t : tracks)
    if (auto it = relabel.find(t.track_no); it != relabel.end()) t.label = it->second;
}

cat::PackageFacts package_facts(const fs::path& dir, const clips::PackageInput& in, const clips::PackageResult& written) {
  cat::PackageFacts facts{dir.string(), int64_t(in.clip_frames.size()), 0, written.effort.minutes, {}, "", {}};
  for (const auto& f : written.files) facts.bytes += f.bytes;
  std::set<std::string> classes;
  for (const auto& t : in.tracks) classes.insert(t.label);
  facts.classes.assign(classes.begin(), classes.end());
  return facts;
}

Result<ClipEdits> ClipEdits::from_json(const json& j) {
  ClipEdits e;
  if (!j.is_object()) return Status::InvalidArgument("edits: not a JSON object");
  try {
    if (auto it = j.find("relabel"); it != j.end())
      for (const auto& [no, label] : it->items()) e.relabel[std::stoi(no)] = label.get<std::string>();
    if (auto it = j.find("deleted"); it != j.end())
      for (const auto& no : *it) e.deleted.insert(no.get<int>());
    if (j.contains("trim")) e.trim = std::pair{j["trim"].at(0).get<int64_t>(), j["trim"].at(1).get<int64_t>()};
    if (auto it = j.find("redact"); it != j.end())
      for (const auto& m : *it) {
        pipeline::privacy::AddedMark mark{m.at("id").get<int>(), m.at("what").get<std::string>(), {}};
        if (mark.what != "face" && mark.what != "plate")
          return Status::InvalidArgument("edits: redact " + std::to_string(mark.id) + ": what must be face or plate");
        for (const auto& k : m.at("keys")) {
          const cv::Rect2f box(k.at(1).get<float>(), k.at(2).get<float>(), k.at(3).get<float>(), k.at(4).get<float>());
          if (!(box.width > 0 && box.height > 0))
            return Status::InvalidArgument("edits: redact " + std::to_string(mark.id) + ": a box needs a width and a height");
          mark.keys.emplace_back(k.at(0).get<int64_t>(), box);
        }
        if (mark.keys.empty()) return Status::InvalidArgument("edits: redact " + std::to_string(mark.id) + ": no keys");
        e.redact.push_back(std::move(mark));
      }
    for (auto [field, list, labelled] : {std::tuple{"added", &e.added, true}, std::tuple{"moved", &e.moved, false}})
      if (auto it = j.find(field); it != j.end()) {
        auto keys = track_keys_from_json(*it, field, labelled);
        if (!keys.ok()) return keys.status();
        *list = std::move(*keys);
      }
  } catch (const std::exception& ex) {
    return Status::InvalidArgument(std::string("edits: ") + ex.what());
  }
  return e;
}

json ClipEdits::to_json() const {
  json relabels = json::object();
  for (const auto& [no, label] : relabel) relabels[std::to_string(no)] = label;
  json j = {{"relabel", relabels}, {"deleted", deleted}};
  if (trim) j["trim"] = {trim->first, trim->second};
  if (!redact.empty()) {
    json marks = json::array();
    for (const auto& m : redact) {
      json keys = json::array();
      for (const auto& [frame, b] : m.keys) keys.push_back({frame, b.x, b.y, b.width, b.height});
      marks.push_back({{"id", m.id}, {"what", m.what}, {"keys", keys}});
    }
    j["redact"] = marks;
  }
  if (!added.empty()) j["added"] = track_keys_to_json(added, true);
  if (!moved.empty()) j["moved"] = track_keys_to_json(moved, false);
  return j;
}

namespace {
// Whether `edits` keep the clip's trim and added redaction boxes as its
// last edits (the catalog's, which its package was built with) had them.
bool same_cut_and_redaction(const cat::ClipRecord& c, const ClipEdits& edits) {
  auto stored = ClipEdits::from_json(json::parse(c.edits.empty() ? "{}" : c.edits, nullptr, false));
  if (!stored.ok()) return false;
  const json a = stored->to_json(), b = edits.to_json();
  return a.value("trim", json()) == b.value("trim", json()) && a.value("redact", json()) == b.value("redact", json());
}
}  // namespace

Status edit_clip(Context& ctx, int64_t clip_id, const ClipEdits& edits, const std::string& actor) {
  auto clip = ctx.catalog->clip(clip_id);
  if (!clip.ok()) return clip.status();
  if (!*clip) return Status::NotFound("clip " + std::to_string(clip_id) + " is not in the catalog");
  cat::ClipRecord c = **clip;
  // Only in review: an approved package may be uploading, and is never changed under the uploader.
  if (c.state != "review")
    return Status::InvalidArgument("clip " + c.uid + " is " + c.state + ": only a clip in review can be edited");
  auto data = load_drive(*ctx.catalog, c.drive_id);
  if (!data.ok()) return data.status();
  const double fps = data->drive.fps > 0 ? data->drive.fps : 30.0;
  if (edits.trim) {
    const auto [start, end] = *edits.trim;
    if (start < 0 || start >= end || end > recorded_frames(data->rec))
      return Status::InvalidArgument("clip " + c.uid + ": trim " + std::to_string(start) + "-" + std::to_string(end) +
                                     " is not a span");
    c.start_frame = start;
    c.end_frame = end;
  }
  const json review = {{"by", actor}, {"at_utc", media::utc_at(std::chrono::system_clock::now())},
                       {"edits", edits.to_json()}};
  // The pass's kept tracks where they cover the span: no second pass for an edit.
  std::optional<PassLabels> pass;
  if (prelabel_on(ctx.config) && !c.package_dir.empty()) pass = kept_pass(c.package_dir);
  if (pass && (pass->first_frame > c.start_frame || pass->last_frame < c.end_frame - 1)) pass.reset();
  // Labels only (the cut and the redaction as they were): the labels and the
  // manifest are written again, the clip kept; a relabel took 100 s when it
  // cut and redacted again.
  Result<cat::PackageFacts> facts = Status::NotFound("");
  if (pass && same_cut_and_redaction(c, edits)) {
    facts = relabel_package(c.package_dir, *pass, edits, review);
    if (!facts.ok())
      spdlog::warn("clip {}: labels not rewritten in place ({}); the package is built again", c.uid,
                   facts.status().message());
  }
  if (!facts.ok()) facts = build(ctx, *data, c, &edits, review, nullptr, pass ? &*pass : nullptr);
  if (!facts.ok()) return facts.status();
  if (prelabel_on(ctx.config) && !pass) {
    // The labels the operator saw and edited were the pass's: made again (the
    // pass is deterministic: the same track numbers), the edits applied to them.
    // A pass that fails leaves the rebuilt package's live labels, as for a new clip.
    if (auto pre = prelabel_package(ctx.config, facts->dir, {}); !pre.ok()) {
      spdlog::error("clip {}: pre-label pass after an edit: {}; the live labels stay", c.uid, pre.status().message());
    } else {
      facts->bytes = pre->facts.bytes;
      facts->effort_minutes = pre->facts.effort_minutes;
      facts->classes = pre->facts.classes;
    }
  }
  facts->edits = edits.to_json().dump();
  facts->span = cat::PackageFacts::Span{c.start_frame, c.end_frame, double(c.start_frame) / fps,
                                        double(c.end_frame) / fps};
  std::string what;
  if (!edits.relabel.empty()) what += std::to_string(edits.relabel.size()) + " tracks relabelled";
  if (!edits.deleted.empty()) what += (what.empty() ? "" : ", ") + std::to_string(edits.deleted.size()) + " deleted";
  if (edits.trim) {
    // In the clip as planned, frames and seconds: what the operator saw on the
    // scrub bar; the drive's frames mean nothing on the review screen.
    char line[160];
    std::snprintf(line, sizeof line, "trimmed to %.2f-%.2f s of the clip as planned (its frames %lld-%lld, %lld kept)",
                  double(c.start_frame - c.planned_start) / fps, double(c.end_frame - c.planned_start) / fps,
                  static_cast<long long>(c.start_frame - c.planned_start),
                  static_cast<long long>(c.end_frame - c.planned_start), static_cast<long long>(c.end_frame - c.start_frame));
    what += (what.empty() ? "" : ", ") + std::string(line);
  }
  if (!edits.added.empty())
    what += (what.empty() ? "" : ", ") + std::to_string(edits.added.size()) + " missed objects drawn";
  if (!edits.moved.empty())
    what += (what.empty() ? "" : ", ") + std::to_string(edits.moved.size()) + " tracks' boxes put right";
  if (!edits.redact.empty())
    what += (what.empty() ? "" : ", ") + std::to_string(edits.redact.size()) + " boxes added to the redaction";
  return ctx.catalog->move_clip(clip_id, "review", actor, "edited: " + (what.empty() ? "edits undone" : what),
                                &facts.value(), "review");
}

std::string partial_name(const std::string& what) { return ".partial-" + std::to_string(getpid()) + "-" + what; }

void remove_partial_packages(const fs::path& data_dir) {
  constexpr std::string_view kPrefix = ".partial-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_dir / "packages", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    pid_t pid = 0;
    const char* digits = name.c_str() + kPrefix.size();
    const auto [end, err] = std::from_chars(digits, name.c_str() + name.size(), pid);
    const bool named = err == std::errc() && *end == '-' && pid > 0;
    // Alive (EPERM: alive, another user's) and not this process: its own, being written.
    if (named && pid != getpid() && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
    fs::remove_all(e.path(), ec);
  }
}

Status index_recording(Context& ctx, int64_t drive_id, const fs::path& file) {
  auto index = media::index_stream(file);
  if (!index.ok()) return index.status();
  cat::SegmentRecord s;
  s.drive_id = drive_id;
  s.camera = ctx.config.camera;
  s.path = fs::absolute(file).lexically_normal().string();
  s.owned = false;
  s.state = "closed";
  s.frames = index->frames;
  s.first_pts = index->first_pts;
  s.duration_s = double(index->duration_ns) / 1e9;
  s.fps = index->fps;
  s.codec = index->codec;
  std::error_code ec;
  s.bytes = int64_t(fs::file_size(file, ec));
  std::vector<cat::SegmentKeyframe> keys;
  for (const auto& k : index->keyframes) keys.push_back({k.frame, k.pts});
  auto id = ctx.catalog->add_segment(s, keys);
  return id.ok() ? Status::Ok() : id.status();
}

Status attach_recording(Context& ctx, int64_t drive_id, const std::vector<cat::SegmentRecord>& segments,
                        int64_t analysed_frames) {
  std::vector<std::pair<int64_t, int64_t>> first_frames;
  int64_t next = 0;
  for (const auto& s : segments) {
    first_frames.emplace_back(s.id, next);
    next += s.frames;
  }
  // The segments stay free for a later ingest when the counts disagree.
  if (analysed_frames >= 0 && next != analysed_frames)
    return Status::Corruption("the recording's segments hold " + std::to_string(next) + " frames, its analysis saw " +
                              std::to_string(analysed_frames));
  return ctx.catalog->attach_segments(drive_id, first_frames);
}

namespace {

// A failure that passes (no room now, a full disk) rather than one of the
// clip's own: kUnavailable, or the data disk found nearly full afterwards.
bool transient(const Context& ctx, const Status& st) {
  if (st.kind() == Status::Kind::kUnavailable) return true;
  std::error_code ec;
  const auto space = fs::space(ctx.config.data_dir, ec);
  return !ec && space.available < uintmax_t(64) << 20;
}

// Builds a clip the catalog holds as planned and moves it to review (or to
// failed with the reason). Returns false when `stop` interrupted it: it stays planned.
Result<bool> package_planned(Context& ctx, const DriveData& data, int64_t id, const std::string& actor, ClipRun& run,
                             const std::atomic<bool>* stop) {
  auto stored = ctx.catalog->clip(id);
  if (!stored.ok()) return stored.status();
  auto facts_or = build(ctx, data, **stored, nullptr, nullptr, stop);
  if (!facts_or.ok() && stop && stop->load()) {
    spdlog::info("clip {}: left planned, built at the next start: {}", (*stored)->uid, facts_or.status().message());
    return false;
  }
  if (!facts_or.ok() && transient(ctx, facts_or.status())) {
    // Want of space passes: the clip waits planned (retention keeps its
    // recording up to the hard limit) and is built when there is room.
    spdlog::warn("clip {}: {}; left planned, tried again when there is room", (*stored)->uid,
                 facts_or.status().message());
    ++run.waiting;
    return true;
  }
  if (!facts_or.ok()) {
    spdlog::error("clip {}: {}", (*stored)->uid, facts_or.status().message());
    if (Status st = ctx.catalog->move_clip(id, "failed", actor, facts_or.status().message()); !st.ok()) return st;
    run.failed.push_back(id);
    return true;
  }
  if (prelabel_on(ctx.config)) {
    // Waits in packaged for the pre-label pass (prelabel_packaged).
    if (Status st = ctx.catalog->move_clip(id, "packaged", actor, "package written; pre-labels to come", &facts_or.value());
        !st.ok())
      return st;
    run.packaged.push_back(id);
    return true;
  }
  if (Status st = ctx.catalog->move_clip(id, "packaged", actor, "package written", &facts_or.value()); !st.ok()) return st;
  if (Status st = ctx.catalog->move_clip(id, "review", actor, "ready for review"); !st.ok()) return st;
  run.ready.push_back(id);
  return true;
}

}  // namespace

Result<ClipBudget> clip_budget(Context& ctx, const std::string& camera, int64_t before_id, double next_s,
                               bool with_views) {
  constexpr double kHour = 3600;
  ClipBudget b;
  // 60-s analysis chunks make 60 drives an hour; a limit bounds the read.
  auto drives = ctx.catalog->camera_drives(camera, before_id, 2000);
  if (!drives.ok()) return drives.status();
  for (const auto& d : *drives) {
    if (b.driving_s + next_s >= kHour) break;
    b.driving_s += d.duration_s;
    auto rows = ctx.catalog->clips("", d.id);
    if (!rows.ok()) return rows.status();
    std::vector<cat::KeyframeRecord> keyframes;
    if (with_views && !rows->empty()) {
      auto k = ctx.catalog->keyframes(d.id);
      if (!k.ok()) return k.status();
      keyframes = std::move(*k);
    }
    for (const auto& c : *rows) {
      if (c.state == "failed") continue;
      b.used_s += c.end_s - c.start_s;
      if (!with_views) continue;
      std::set<std::string> classes;
      if (const json labels = json::parse(c.classes, nullptr, false); labels.is_array())
        for (const auto& label : labels)
          if (label.is_string()) classes.insert(label.get<std::string>());
      b.kept.push_back(view_of(keyframes, c.start_frame, c.end_frame, std::move(classes)));
    }
  }
  // A rate, not a lump per hour: a 20-minute drive earns 20 minutes' worth,
  // so what a vehicle uploads stays in proportion to what it drives. A new
  // camera's first minutes still earn one whole clip (max_s).
  b.allowed_s = std::max(ctx.config.clips.budget_min_per_hour / 60 * (b.driving_s + next_s),
                         ctx.config.clips.planner.max_s);
  return b;
}

Result<ClipRun> resume_planned(Context& ctx, const std::string& actor, const std::atomic<bool>* stop) {
  ClipRun run;
  auto planned = ctx.catalog->clips("planned");
  if (!planned.ok()) return planned.status();
  std::map<int64_t, DriveData> drives;
  for (const auto& c : *planned) {
    if (stop && stop->load()) break;
    if (!drives.count(c.drive_id)) {
      auto data = load_drive(*ctx.catalog, c.drive_id);
      if (!data.ok()) return data.status();
      drives.emplace(c.drive_id, std::move(*data));
    }
    spdlog::info("clip {}: planned before a stop or crash, built now", c.uid);
    auto done = package_planned(ctx, drives.at(c.drive_id), c.id, actor, run, stop);
    if (!done.ok()) return done.status();
    if (!*done) break;
  }
  return run;
}

namespace {
// A clip someone asked for: a trigger's or an operator's mark.
bool asked_for(const cat::ClipRecord& c) {
  const json reasons = json::parse(c.reasons, nullptr, false);
  if (!reasons.is_array()) return false;
  return std::any_of(reasons.begin(), reasons.end(), [](const json& r) {
    const std::string rule = r.is_object() ? r.value("rule", "") : "";
    return rule == "trigger" || rule == "mark";
  });
}
}  // namespace

Result<ClipRun> prelabel_packaged(Context& ctx, const std::string& actor, const PrelabelControl& control, int limit,
                                  const std::vector<int64_t>* only) {
  ClipRun run;
  auto waiting = ctx.catalog->clips("packaged");
  if (!waiting.ok()) return waiting.status();
  // A trigger's clip first (someone is waiting to see it), then by priority, then oldest.
  std::vector<std::pair<bool, cat::ClipRecord>> order;
  for (auto& c : *waiting) order.emplace_back(asked_for(c), std::move(c));
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first;
    if (a.second.priority != b.second.priority) return a.second.priority > b.second.priority;
    return a.second.id < b.second.id;
  });
  for (const auto& [asked, c] : order) {
    if (only && std::find(only->begin(), only->end(), c.id) == only->end()) continue;
    if (control.stop && control.stop->load()) break;
    if (limit > 0 && int(run.ready.size()) >= limit) break;
    // A package whose redaction waited for a pass that will not run (turned
    // off since, or failed) is redacted without it before anyone sees it.
    auto to_review = [&](std::string reason, const cat::PackageFacts* facts) -> Result<bool> {
      std::optional<cat::PackageFacts> redacted;
      if (!facts) {
        // The package keeps the live labels it was cut with (read only where a redaction waits).
        auto live = [&]() -> Result<std::vector<clips::LabelTrack>> {
          auto tracks = ctx.catalog->tracks(c.drive_id);
          if (!tracks.ok()) return tracks.status();
          std::erase_if(*tracks, [&](const cat::TrackRecord& t) { return t.last_frame < c.start_frame || t.first_frame >= c.end_frame; });
          for (auto& t : *tracks) {
            auto boxes = ctx.catalog->track_boxes(t.id);
            if (!boxes.ok()) return boxes.status();
            t.boxes = std::move(*boxes);
          }
          return live_labels(*tracks, c.start_frame, c.end_frame);
        };
        auto r = redact_pending(ctx.config, c.package_dir, live, control.stop);
        if (!r.ok() && control.stop && control.stop->load()) {
          spdlog::info("clip {}: left packaged, redacted at the next start: {}", c.uid, r.status().message());
          return false;
        }
        if (!r.ok()) {
          spdlog::error("clip {}: redaction: {}", c.uid, r.status().message());
          if (Status st = ctx.catalog->move_clip(c.id, "failed", actor, "redaction: " + r.status().message()); !st.ok())
            return st;
          run.failed.push_back(c.id);
          return true;
        }
        redacted = std::move(*r);
        if (redacted) {
          facts = &*redacted;
          reason += "; redacted without the pass's detections";
        }
      }
      if (Status st = ctx.catalog->move_clip(c.id, "review", actor, reason, facts); !st.ok()) return st;
      run.ready.push_back(c.id);
      return true;
    };
    if (!prelabel_on(ctx.config)) {
      auto went = to_review("ready for review", nullptr);
      if (!went.ok()) return went.status();
      if (!*went) break;
      continue;
    }
    // Nor does a trigger's clip wait for analysis to rest: it still runs niced.
    PrelabelControl clip_control = control;
    if (asked) clip_control.pause = nullptr;
    auto pre = prelabel_package(ctx.config, c.package_dir, clip_control);
    if (!pre.ok() && control.stop && control.stop->load()) {
      spdlog::info("clip {}: left packaged, pre-labelled at the next start: {}", c.uid, pre.status().message());
      break;
    }
    std::string reason = "ready for review";
    if (!pre.ok()) {
      spdlog::error("clip {}: pre-label pass: {}; reviewed with the live labels", c.uid, pre.status().message());
      reason += "; the pre-label pass failed (" + pre.status().message() + "), live labels";
    } else {
      spdlog::info("clip {}: pre-labelled, {} tracks, {:.1f} s for {:.1f} s of clip", c.uid, pre->tracks,
                   pre->seconds, pre->clip_s);
      reason = "pre-labelled (" + std::to_string(pre->tracks) + " tracks); ready for review";
    }
    auto went = to_review(reason, pre.ok() ? &pre->facts : nullptr);
    if (!went.ok()) return went.status();
    if (!*went) break;
  }
  return run;
}

Result<ClipRun> make_clips(Context& ctx, int64_t drive_id, const std::string& actor, const cat::TriggerRecord* mark,
                           const std::atomic<bool>* stop) {
  ClipRun run;
  auto data = load_drive(*ctx.catalog, drive_id);
  if (!data.ok()) return data.status();
  const cat::DriveRecord& drive = data->drive;
  const Recording& rec = data->rec;
  if (rec.segments.empty()) {
    run.skipped = "no recording to cut clips from (a live source is recorded with `dashloop record`)";
    return run;
  }

  clips::DriveFacts facts;
  facts.fps = drive.fps > 0 ? drive.fps : rec.segments.front().fps;
  facts.frames = recorded_frames(rec);
  facts.seed = uint64_t(drive_id);
  for (size_t i = 0; i < rec.segments.size(); ++i)
    for (const auto& k : rec.keyframes[i]) facts.keyframes.push_back(rec.segments[i].first_frame + k.frame);
  std::sort(facts.keyframes.begin(), facts.keyframes.end());
  for (const auto& t : data->tracks) {
    clips::TrackFacts f{t.track_no, t.label, t.first_frame, t.last_frame, 0, t.first_frame};
    for (const auto& b : t.boxes)
      if (!b.predicted && drive.height > 0 && b.h / drive.height > f.max_height) {
        f.max_height = b.h / drive.height;
        f.tallest_frame = b.frame;
      }
    facts.tracks.push_back(std::move(f));
  }
  for (const auto& k : data->keyframes)
    if (k.reason == "cut") facts.scene_cuts.push_back(k.frame_index);
  auto triggers = ctx.catalog->triggers(drive_id);
  if (!triggers.ok()) return triggers.status();
  for (const auto& t : *triggers)
    if (!mark || t.id == mark->id) facts.triggers.push_back({t.frame, t.kind, t.note});
  auto counts = ctx.catalog->class_counts();
  if (!counts.ok()) return counts.status();
  int64_t all = 0;
  for (const auto& [label, n] : *counts) all += n;
  for (const auto& [label, n] : *counts) facts.class_share[label] = all > 0 ? double(n) / double(all) : 0.0;

  clips::PlannerConfig planner = ctx.config.clips.planner;
  if (mark) {
    planner.track_min_s = 1e12;
    planner.person_min_height = 0;
    planner.scene_cuts = false;
    planner.sample_every_s = 0;
  }
  auto plans = clips::plan_clips(facts, planner);
  if (plans.empty()) {
    run.skipped = "the planner found no span";
    return run;
  }
  // An operator's mark is always made; the rules' spans are held to the budget.
  if (!mark && ctx.config.clips.budget_min_per_hour > 0) {
    auto budget = clip_budget(ctx, drive.camera, drive_id, drive.duration_s, true);
    if (!budget.ok()) return budget.status();
    std::map<int, std::string> label_of;
    for (const auto& t : facts.tracks) label_of[t.track_no] = t.label;
    std::vector<clips::ClipView> views;
    for (const auto& p : plans) {
      std::set<std::string> classes;
      for (int n : p.track_nos) classes.insert(label_of[n]);
      views.push_back(view_of(data->keyframes, p.start_frame, p.end_frame, std::move(classes)));
    }
    const auto chosen = clips::select_clips(plans, views, facts.fps, budget->allowed_s - budget->used_s, budget->kept,
                                            ctx.config.keyframes.selector.duplicate_hamming);
    for (const auto& d : chosen.dropped) {
      char line[96];
      std::snprintf(line, sizeof line, "%.1f-%.1f s (priority %.2f)", double(plans[d.plan].start_frame) / facts.fps,
                    double(plans[d.plan].end_frame) / facts.fps, plans[d.plan].priority);
      run.dropped.push_back(std::string(line) + ": " + d.why);
      spdlog::info("drive {}: clip {} not kept: {}", drive_id, line, d.why);
    }
    std::vector<clips::ClipPlan> kept;
    for (size_t i : chosen.kept) kept.push_back(std::move(plans[i]));
    plans = std::move(kept);
    if (plans.empty()) {
      run.skipped = "the clip budget kept none of the planner's spans";
      return run;
    }
  }
  std::error_code ec;
  fs::create_directories(ctx.config.data_dir / "packages", ec);
  const double fps = facts.fps;
  bool building = true;
  for (const auto& p : plans) {
    cat::ClipRecord c;
    c.uid = safe_name(drive.vehicle) + "_d" + std::to_string(drive_id);
    c.drive_id = drive_id;
    c.planned_start = p.planned_start;
    c.planned_end = p.planned_end;
    c.start_frame = p.start_frame;
    c.end_frame = p.end_frame;
    c.start_s = double(p.start_frame) / fps;
    c.end_s = double(p.end_frame) / fps;
    c.priority = p.priority;
    c.priority_parts = json(p.priority_parts).dump();
    json reasons = json::array();
    for (const auto& r : p.reasons) reasons.push_back({{"rule", r.rule}, {"frame", r.frame}, {"detail", r.detail}});
    c.reasons = reasons.dump();
    std::set<std::string> rules;
    for (const auto& r : p.reasons) rules.insert(r.rule);
    std::string why;
    for (const auto& r : rules) why += (why.empty() ? "" : ", ") + r;
    c.state_reason = "planned: " + why;
    auto id = ctx.catalog->add_clip(c, actor);
    if (!id.ok()) return id.status();
    // Stopping: every clip is still planned (rows are cheap), none more built.
    if (!building || (stop && stop->load())) {
      building = false;
      continue;
    }
    auto done = package_planned(ctx, *data, *id, actor, run, stop);
    if (!done.ok()) return done.status();
    building = *done;
  }
  return run;
}

}  // namespace dashloop::app
