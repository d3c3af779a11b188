#include "clips/package.hpp"

#include <openssl/evp.h>


#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "handle.hpp"

namespace dashloop::pipeline::clips {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {


// One box of a track on one clip frame.
struct FrameBox {
  int64_t frame = 0;  // clip frame
  double x = 0, y = 0, w = 0, h = 0;
  double score = 0;
  bool detected = false;  // a detector frame; false: interpolated between two
  bool occluded = false;
  bool keyframe = false;  // given to interpolating tools (mark_keyframes)
};

struct ClipTrack {
  int id = 0;  // 0-based within the clip
  const LabelTrack* track = nullptr;
  std::vector<FrameBox> boxes;
};

// Places a track's boxes on the clip's frames: detector frames as they are,
// the frames between two of them interpolated, clamped to the picture.
std::vector<FrameBox> place(const LabelTrack& t, const std::vector<int64_t>& clip_frames, int width, int height) {
  std::vector<FrameBox> out;
  const auto& b = t.boxes;
  for (size_t j = 0; j < clip_frames.size(); ++j) {
    const int64_t f = clip_frames[j];
    auto it = std::lower_bound(b.begin(), b.end(), f, [](const LabelBox& box, int64_t v) { return box.frame < v; });
    FrameBox fb;
    if (it != b.end() && it->frame == f) {
      fb = {int64_t(j), it->x, it->y, it->w, it->h, it->score, true, it->predicted, false};
    } else if (it != b.end() && it != b.begin()) {
      const LabelBox& p = *std::prev(it);
      const LabelBox& n = *it;
      const double a = double(f - p.frame) / double(n.frame - p.frame);
      auto mix = [a](double u, double v) { return u + (v - u) * a; };
      fb = {int64_t(j), mix(p.x, n.x), mix(p.y, n.y), mix(p.w, n.w), mix(p.h, n.h), mix(p.score, n.score), false,
            p.predicted || n.predicted, false};
    } else {
      continue;  // before the track's first box or after its last
    }
    const double x0 = std::clamp(fb.x, 0.0, double(width)), y0 = std::clamp(fb.y, 0.0, double(height));
    const double x1 = std::clamp(fb.x + fb.w, 0.0, double(width)), y1 = std::clamp(fb.y + fb.h, 0.0, double(height));
    if (x1 - x0 < 1 || y1 - y0 < 1) continue;  // outside the picture
    fb.x = x0, fb.y = y0, fb.w = x1 - x0, fb.h = y1 - y0;
    out.push_back(fb);
  }
  return out;
}

// Label files carry coordinates to 1/100 px.
double written(double v) { return std::round(v * 100.0) / 100.0; }

// What linear interpolation between keyframes a and b gives at frame k,
// against the box meant there, in px (the largest corner difference).
double interpolation_error(const FrameBox& a, const FrameBox& b, const FrameBox& k) {
  const double t = double(k.frame - a.frame) / double(b.frame - a.frame);
  auto at = [t](double u, double v) { return u + (v - u) * t; };
  const double ax1 = written(a.x + a.w), ay1 = written(a.y + a.h), bx1 = written(b.x + b.w), by1 = written(b.y + b.h);
  return std::max({std::abs(at(written(a.x), written(b.x)) - written(k.x)),
                   std::abs(at(written(a.y), written(b.y)) - written(k.y)),
                   std::abs(at(ax1, bx1) - written(k.x + k.w)), std::abs(at(ay1, by1) - written(k.y + k.h))});
}

// Interpolating tools (CVAT's TrackManager, Label Studio's editor) read only a
// track's keyframes: boxes between two are linear in between, a flag such as
// occlusion is the previous keyframe's, and a run of frames must start and end
// on one. Marks every box such a reader needs so that it reproduces each box
// within kKeyframeTolerance: the first and last of every run of consecutive
// frames, every detector frame, every occlusion change, and then, where the
// picture clamps a box (so interpolation is no longer linear), the frame that
// interpolation misses most, until none misses.
constexpr double kKeyframeTolerance = 0.05;  // px; the tests allow 0.5
void mark_keyframes(std::vector<FrameBox>& boxes) {
  size_t run = 0;
  for (size_t i = 0; i < boxes.size(); ++i) {
    FrameBox& b = boxes[i];
    const bool starts = i == run;
    b.keyframe = starts || b.detected || b.occluded != boxes[i - 1].occluded;
    const bool ends = i + 1 == boxes.size() || boxes[i + 1].frame != b.frame + 1;
    if (!ends) continue;
    b.keyframe = true;
    for (bool added = true; added;) {
      added = false;
      for (size_t a = run; a < i;) {
        size_t z = a + 1;
        while (!boxes[z].keyframe) ++z;
        size_t worst = 0;
        double worst_error = kKeyframeTolerance;
        for (size_t k = a + 1; k < z; ++k)
          if (double e = interpolation_error(boxes[a], boxes[z], boxes[k]); e > worst_error) worst = k, worst_error = e;
        if (worst) boxes[worst].keyframe = added = true;
        a = z;
      }
    }
    run = i + 1;
  }
}

std::string fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

Status write_text(const fs::path& file, const std::string& text) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Status::IOError(file.string() + ": cannot write");
  return Status::Ok();
}

// CVAT for video 1.1: one <track> per object, a box on every frame it is
// visible (keyframe="1" on the boxes mark_keyframes chose: CVAT's import keeps
// those and interpolates the rest), and an outside keyframe on the frame after
// each run of frames that ends before the clip does.
std::string cvat_xml(const PackageInput& in, const std::vector<ClipTrack>& tracks, const std::vector<std::string>& labels) {
  const int64_t n = int64_t(in.clip_frames.size());
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n"
    << "      <name>" << xml_escape(in.id) << "</name>\n      <size>" << n << "</size>\n"
    << "      <mode>interpolation</mode>\n      <overlap>0</overlap>\n      <start_frame>0</start_frame>\n"
    << "      <stop_frame>" << n - 1 << "</stop_frame>\n      <frame_filter></frame_filter>\n      <labels>\n";
  for (const auto& l : labels)
    x << "        <label>\n          <name>" << xml_escape(l) << "</name>\n          <type>rectangle</type>\n"
      << "          <attributes></attributes>\n        </label>\n";
  x << "      </labels>\n      <original_size>\n        <width>" << in.width << "</width>\n        <height>" << in.height
    << "</height>\n      </original_size>\n      <source>clip.mp4</source>\n    </task>\n  </meta>\n";
  for (const auto& t : tracks) {
    x << "  <track id=\"" << t.id << "\" label=\"" << xml_escape(t.track->label) << "\" source=\""
      << (t.track->operator_added ? "manual" : "auto") << "\">\n";
    auto box = [&](const FrameBox& b, bool outside, bool keyframe) {
      x << "    <box frame=\"" << b.frame << "\" keyframe=\"" << keyframe << "\" outside=\"" << outside
        << "\" occluded=\"" << b.occluded << "\" xtl=\"" << fixed(b.x) << "\" ytl=\"" << fixed(b.y) << "\" xbr=\""
        << fixed(b.x + b.w) << "\" ybr=\"" << fixed(b.y + b.h) << "\" z_order=\"0\">\n    </box>\n";
    };
    for (size_t i = 0; i < t.boxes.size(); ++i) {
      const FrameBox& b = t.boxes[i];
      // a gap (the box left the picture) starts with an outside box
      if (i > 0 && b.frame != t.boxes[i - 1].frame + 1) {
        FrameBox gap = t.boxes[i - 1];
        gap.frame += 1;
        box(gap, true, true);
      }
      box(b, false, b.keyframe);
    }
    if (t.boxes.back().frame + 1 < n) {
      FrameBox end = t.boxes.back();
      end.frame += 1;
      box(end, true, true);
    }
    x << "  </track>\n";
  }
  x << "</annotations>\n";
  return x.str();
}

// The sha256 a detector description carries ("... sha256:<64 hex>"), or null.
json model_sha256_of(const std::string& detector) {
  const auto at = detector.find("sha256:");
  if (at == std::string::npos || detector.size() < at + 7 + 64) return nullptr;
  return detector.substr(at + 7, 64);
}

// The drive frames a clip's frames are: first and last, and every one when
// they do not follow one another (a camera that dropped frames).
json source_frames(const std::vector<int64_t>& clip_frames) {
  json j = {{"first", clip_frames.front()}, {"last", clip_frames.back()}};
  if (clip_frames.back() - clip_frames.front() + 1 != int64_t(clip_frames.size())) j["frames"] = clip_frames;
  return j;
}

}  // namespace

std::string labelstudio_config(double fps, const std::vector<std::string>& labels) {
  // The project's <Video framerate> must be the clip's, or the editor puts
  // every keyframe on another frame than the one written.
  std::ostringstream x;
  x << "<View>\n  <Video name=\"video\" value=\"$video\" framerate=\"" << fixed(fps, 6) << "\"/>\n"
    << "  <VideoRectangle name=\"box\" toName=\"video\"/>\n  <Labels name=\"label\" toName=\"video\">\n";
  for (const auto& l : labels) x << "    <Label value=\"" << xml_escape(l) << "\"/>\n";
  x << "  </Labels>\n</View>\n";
  return x.str();
}

Effort estimate_effort(int64_t boxes_to_check, int64_t tracks, int64_t keyframes, double video_s,
                       const std::string& labels_from, const EffortConfig& c) {
  Effort e{boxes_to_check, tracks, keyframes, video_s, 1, 0, 0, 0};
  // The boxes that are objects (precision) are the share `recall` of all
  // there are: the rest are the annotator's to draw, and so are the objects
  // no track holds. A clip with no boxes is assumed to miss nothing: the
  // estimate cannot tell an empty street from a blind detector.
  e.recall = std::clamp(labels_from == "redetected" ? c.recall_redetected : c.recall_live, 0.01, 1.0);
  const double missed_per_found = c.precision * (1.0 - e.recall) / e.recall;
  e.missed_boxes = double(boxes_to_check) * missed_per_found;
  e.missed_tracks = double(tracks) * missed_per_found;
  e.minutes = (c.watch_passes * video_s + c.per_track_s * (double(tracks) + e.missed_tracks) +
               c.per_box_s * double(boxes_to_check) + c.per_missed_box_s * e.missed_boxes +
               c.per_keyframe_s * double(keyframes)) / 60.0;
  return e;
}

namespace {
using DigestPtr = Handle<EVP_MD_CTX, EVP_MD_CTX_free>;

std::string hex(const unsigned char* digest, unsigned int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}
}  // namespace

// OpenSSL's SHA-256 (SHA-NI where the CPU has it: ~1 GB/s here, 6x GLib's).
std::string sha256_bytes(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha256(), nullptr);
  return hex(digest, n);
}

Result<std::string> sha256_range(const fs::path& file, int64_t offset, int64_t bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::IOError(file.string() + ": cannot read");
  in.seekg(offset);
  DigestPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Status::Internal("OpenSSL: no SHA-256");
  std::vector<char> buf(1 << 20);
  while (in && bytes != 0) {
    const auto want = bytes < 0 ? int64_t(buf.size()) : std::min<int64_t>(bytes, int64_t(buf.size()));
    in.read(buf.data(), std::streamsize(want));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), size_t(in.gcount()));
    if (bytes > 0) bytes -= in.gcount();
  }
  if (in.bad() || bytes > 0) return Status::IOError(file.string() + ": read error");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  return hex(digest, n);
}

Result<std::string> sha256_file(const fs::path& file) { return sha256_range(file, 0, -1); }

MotClasses mot_classes(const std::vector<std::string>& labels) {
  // MOTChallenge's ids 1-12 (MOT16/17 gt.txt), by their names there.
  static constexpr const char* kMot[] = {"pedestrian",    "person_on_vehicle",  "car",           "bicycle",
                                         "motorbike",     "non_motorized_vehicle", "static_person", "distractor",
                                         "occluder",      "occluder_on_ground", "occluder_full", "reflection"};
  // The names a detector (COCO) gives the same classes.
  static constexpr std::pair<const char*, int> kSame[] = {{"person", 1}, {"motorcycle", 5}};
  MotClasses out;
  out.names.assign(std::begin(kMot), std::end(kMot));
  std::vector<std::string> others;
  for (const auto& label : std::set<std::string>(labels.begin(), labels.end())) {
    int id = 0;
    for (int i = 0; i < 12; ++i)
      if (label == kMot[i]) id = i + 1;
    for (const auto& [name, same] : kSame)
      if (label == name) id = same;
    bool taken = false;  // "person" and "pedestrian" both in one package: the second counts as another class
    for (const auto& [l, i] : out.id) taken = taken || i == id;
    if (id > 0 && !taken) {
      out.id[label] = id;
      out.names[size_t(id - 1)] = label;
    } else {
      others.push_back(label);
    }
  }
  for (const auto& label : others) {
    out.id[label] = int(out.names.size()) + 1;
    out.names.push_back(label);
  }
  return out;
}

Result<PackageResult> write_package(const PackageInput& in, const fs::path& dir) {
  if (in.clip_frames.empty()) return Status::InvalidArgument(in.id + ": a package needs frames");
  if (in.fps <= 0) return Status::InvalidArgument(in.id + ": a package needs the frame rate");
  const int64_t n = int64_t(in.clip_frames.size());
  std::map<int64_t, int64_t> clip_frame_of;  // drive frame -> clip frame
  for (int64_t j = 0; j < n; ++j) clip_frame_of[in.clip_frames[size_t(j)]] = j;

  std::vector<ClipTrack> tracks;
  std::set<std::string> label_set(in.labels.begin(), in.labels.end());
  for (const auto& t : in.tracks) {
    auto boxes = place(t, in.clip_frames, in.width, in.height);
    if (boxes.empty()) continue;
    mark_keyframes(boxes);
    tracks.push_back({int(tracks.size()), &t, std::move(boxes)});
    label_set.insert(t.label);
  }
  const std::vector<std::string> labels(label_set.begin(), label_set.end());
  auto class_id = [&](const std::string& l) { return int(std::find(labels.begin(), labels.end(), l) - labels.begin()) + 1; };

  const fs::path label_dir = dir / "labels";
  if (Status st = write_text(label_dir / "cvat-video.xml", cvat_xml(in, tracks, labels)); !st.ok()) return st;

  // MOT 1.1 (CVAT's MOT import): frame (1-based), id, x, y, w, h, not ignored, class id, visibility;
  // class ids as MOTChallenge numbers them (mot_classes).
  const MotClasses mot = mot_classes(labels);
  std::ostringstream gt;
  for (const auto& t : tracks)
    for (const auto& b : t.boxes)
      gt << b.frame + 1 << ',' << t.id + 1 << ',' << fixed(b.x) << ',' << fixed(b.y) << ',' << fixed(b.w) << ','
         << fixed(b.h) << ",1," << mot.id.at(t.track->label) << ',' << (b.occluded ? "0.0" : "1.0") << '\n';
  std::string label_lines;
  for (const auto& l : mot.names) label_lines += l + "\n";
  if (Status st = write_text(label_dir / "mot" / "gt" / "gt.txt", gt.str()); !st.ok()) return st;
  if (Status st = write_text(label_dir / "mot" / "gt" / "labels.txt", label_lines); !st.ok()) return st;

  // Keyframes inside the clip, named by clip frame; they are COCO's images.
  json images = json::array(), annotations = json::array(), categories = json::array();
  for (size_t i = 0; i < labels.size(); ++i) categories.push_back({{"id", i + 1}, {"name", labels[i]}, {"supercategory", ""}});
  std::error_code ec;
  fs::create_directories(dir / "keyframes", ec);
  int64_t keyframes = 0;
  for (const auto& k : in.keyframes) {
    auto at = clip_frame_of.find(k.frame);
    if (at == clip_frame_of.end()) continue;
    char name[32];
    std::snprintf(name, sizeof name, "frame_%06lld.jpg", static_cast<long long>(at->second));
    fs::copy_file(k.image, dir / "keyframes" / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError(k.image.string() + ": cannot copy into the package: " + ec.message());
    const int64_t image_id = ++keyframes;
    images.push_back({{"id", image_id}, {"file_name", name}, {"width", in.width}, {"height", in.height},
                      {"frame", at->second}});
    for (const auto& t : tracks)
      for (const auto& b : t.boxes)
        if (b.frame == at->second)
          annotations.push_back({{"id", annotations.size() + 1}, {"image_id", image_id},
                                 {"category_id", class_id(t.track->label)}, {"bbox", {b.x, b.y, b.w, b.h}},
                                 {"area", b.w * b.h}, {"iscrowd", 0}, {"segmentation", json::array()},
                                 {"attributes", {{"track_id", t.id}, {"occluded", b.occluded}, {"keyframe", b.keyframe},
                                                  {"detected", b.detected}}}});
  }
  json coco = {{"info", {{"description", in.id}, {"version", "1.0"}}},
               {"licenses", json::array()},
               {"images", images},
               {"annotations", annotations},
               {"categories", categories}};
  if (Status st = write_text(label_dir / "coco.json", coco.dump(1) + "\n"); !st.ok()) return st;

  // Label Studio video (VideoRectangle) as predictions, in percent, 1-based
  // frames, time = frame / fps as its editor writes it. The same keyframes as
  // CVAT's: the editor (VideoRegion.isInLifespan) draws a box from an enabled
  // keyframe on, interpolated towards the next, and a disabled keyframe on
  // its own frame only; so the last frame of a run that ends before the clip
  // does is a disabled keyframe, every other keyframe is enabled.
  const double duration = double(n) / in.fps;
  json results = json::array();
  int64_t boxes_to_check = 0;
  for (const auto& t : tracks) {
    json seq = json::array();
    for (size_t i = 0; i < t.boxes.size(); ++i) {
      const FrameBox& b = t.boxes[i];
      if (b.detected) ++boxes_to_check;
      if (!b.keyframe) continue;
      const bool run_ends = i + 1 == t.boxes.size() || t.boxes[i + 1].frame != b.frame + 1;
      seq.push_back({{"frame", b.frame + 1}, {"enabled", !(run_ends && b.frame + 1 < n)}, {"rotation", 0},
                     {"x", 100.0 * b.x / in.width}, {"y", 100.0 * b.y / in.height}, {"width", 100.0 * b.w / in.width},
                     {"height", 100.0 * b.h / in.height}, {"time", double(b.frame + 1) / in.fps}});
    }
    results.push_back({{"id", "track" + std::to_string(t.id)}, {"type", "videorectangle"}, {"from_name", "box"},
                       {"to_name", "video"}, {"origin", "prediction"},
                       {"value", {{"framesCount", n}, {"duration", duration}, {"sequence", seq},
                                  {"labels", {t.track->label}}}}});
  }
  json ls = json::array({{{"data", {{"video", "clip.mp4"}, {"clip_id", in.id}}},
                          {"predictions", {{{"model_version", in.detector + " + " + in.tracker}, {"result", results}}}}}});
  if (Status st = write_text(label_dir / "labelstudio.json", ls.dump(1) + "\n"); !st.ok()) return st;
  if (Status st = write_text(label_dir / "labelstudio-config.xml", labelstudio_config(in.fps, labels)); !st.ok())
    return st;

  PackageResult result;
  result.effort = estimate_effort(boxes_to_check, int64_t(tracks.size()), keyframes, duration, in.labels_from, in.effort);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "manifest.json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  json listed = json::array();
  for (const auto& f : files) {
    auto sum = sha256_file(f);
    if (!sum.ok()) return sum.status();
    PackageFile pf{fs::relative(f, dir).generic_string(), int64_t(fs::file_size(f)), *sum};
    listed.push_back({{"path", pf.path}, {"bytes", pf.bytes}, {"sha256", pf.sha256}});
    result.files.push_back(std::move(pf));
  }
  const Effort& e = result.effort;
  result.manifest = {
      {"schema", "dashloop.package"},
      {"version", kPackageVersion},
      {"id", in.id},
      {"drive_id", in.drive_id},
      {"vehicle", in.vehicle},
      {"camera", in.camera},
      {"source", in.source},
      {"utc_start", in.utc_start.empty() ? json(nullptr) : json(in.utc_start)},
      {"fps", in.fps},
      {"frame_count", n},
      {"duration_s", duration},
      {"width", in.width},
      {"height", in.height},
      {"codec", in.codec},
      {"source_frames", source_frames(in.clip_frames)},
      {"model", in.detector},
      {"model_sha256", model_sha256_of(in.detector)},
      {"labels_from", in.labels_from},
      {"detector_scores", in.detector_scores},
      {"tracker", in.tracker},
      {"prelabel", in.prelabel},
      {"labels", labels},
      {"plan", in.plan},
      {"effort",
       {{"boxes_to_check", e.boxes_to_check},
        {"tracks", e.tracks},
        {"keyframes", e.keyframes},
        {"video_s", e.video_s},
        {"expected_recall", e.recall},
        {"missed_boxes", e.missed_boxes},
        {"missed_tracks", e.missed_tracks},
        {"annotator_minutes", e.minutes},
        {"formula", "(watch_passes*video_s + per_track_s*(tracks + missed_tracks) + per_box_s*boxes_to_check + "
                    "per_missed_box_s*missed_boxes + per_keyframe_s*keyframes) / 60; missed_* = "
                    "(tracks, boxes_to_check) * precision * (1 - expected_recall) / expected_recall"},
        {"constants",
         {{"watch_passes", in.effort.watch_passes},
          {"per_track_s", in.effort.per_track_s},
          {"per_box_s", in.effort.per_box_s},
          {"per_keyframe_s", in.effort.per_keyframe_s},
          {"per_missed_box_s", in.effort.per_missed_box_s},
          {"recall_live", in.effort.recall_live},
          {"recall_redetected", in.effort.recall_redetected},
          {"precision", in.effort.precision}}}}},
      {"files", listed}};
  // Each object's number in the label files and the drive's track it is:
  // what an operator's edit names, whatever the clip's span.
  // `source` says who made it: "auto" (the detector) or "manual" (an operator's drawn object), as CVAT's tracks do.
  json track_list = json::array();
  int64_t operator_added = 0;
  for (const auto& t : tracks) {
    track_list.push_back({{"id", t.id}, {"mot_id", t.id + 1}, {"track_no", t.track->track_no}, {"label", t.track->label},
                          {"source", t.track->operator_added ? "manual" : "auto"}});
    operator_added += t.track->operator_added ? 1 : 0;
  }
  result.manifest["tracks"] = track_list;
  result.manifest["operator_added_tracks"] = operator_added;
  if (!in.review.is_null()) result.manifest["review"] = in.review;
  result.manifest["privacy"] = in.privacy.is_null() ? json{{"faces", "none"}, {"plates", "none"}} : in.privacy;
  // Last: a package is whole exactly when its manifest exists.
  if (Status st = write_text(dir / "manifest.json", result.manifest.dump(2) + "\n"); !st.ok()) return st;
  return result;
}

Result<PackageInput> read_package_input(const fs::path& dir) {
  const fs::path file = dir / "manifest.json";
  std::ifstream stream(file);
  if (!stream) return Status::NotFound(dir.string() + ": no manifest.json (not a package, or an incomplete one)");
  const json m = json::parse(stream, nullptr, false);
  if (m.is_discarded() || m.value("schema", "") != "dashloop.package")
    return Status::Corruption(file.string() + ": not a Dashloop package manifest");
  PackageInput in;
  try {
    in.id = m.at("id").get<std::string>();
    in.drive_id = m.at("drive_id").get<int64_t>();
    in.vehicle = m.at("vehicle").get<std::string>();
    in.camera = m.at("camera").get<std::string>();
    in.source = m.at("source").get<std::string>();
    in.utc_start = m.at("utc_start").is_string() ? m["utc_start"].get<std::string>() : "";
    in.fps = m.at("fps").get<double>();
    in.width = m.at("width").get<int>();
    in.height = m.at("height").get<int>();
    in.codec = m.at("codec").get<std::string>();
    const json& frames = m.at("source_frames");
    if (frames.contains("frames")) {
      in.clip_frames = frames["frames"].get<std::vector<int64_t>>();
    } else {
      for (int64_t f = frames.at("first").get<int64_t>(); f <= frames.at("last").get<int64_t>(); ++f)
        in.clip_frames.push_back(f);
    }
    if (int64_t(in.clip_frames.size()) != m.at("frame_count").get<int64_t>())
      return Status::Corruption(file.string() + ": source_frames and frame_count disagree");
    in.labels = m.at("labels").get<std::vector<std::string>>();
    in.detector = m.at("model").get<std::string>();
    in.labels_from = m.at("labels_from").get<std::string>();
    in.detector_scores = m.at("detector_scores").get<std::string>();
    in.tracker = m.at("tracker").get<std::string>();
    in.prelabel = m.value("prelabel", json(nullptr));
    in.plan = m.value("plan", json(nullptr));
    in.review = m.value("review", json(nullptr));
    in.privacy = m.value("privacy", json(nullptr));
    const json& c = m.at("effort").at("constants");
    // Packages written before the expected misses counted carry none: no misses.
    in.effort = {c.at("watch_passes").get<double>(), c.at("per_track_s").get<double>(), c.at("per_box_s").get<double>(),
                 c.at("per_keyframe_s").get<double>(), c.value("per_missed_box_s", 0.0), c.value("recall_live", 1.0),
                 c.value("recall_redetected", 1.0), c.value("precision", 1.0)};
    for (const auto& f : m.at("files")) {
      const std::string path = f.at("path").get<std::string>();
      long long frame = 0;
      if (std::sscanf(path.c_str(), "keyframes/frame_%lld.jpg", &frame) != 1) continue;
      if (frame < 0 || frame >= (long long)in.clip_frames.size())
        return Status::Corruption(file.string() + ": " + path + " is not a frame of the clip");
      in.keyframes.push_back({in.clip_frames[size_t(frame)], dir / path});
    }
  } catch (const json::exception& e) {
    return Status::Corruption(file.string() + ": " + e.what());
  }
  return in;
}

Status verify_package(const fs::path& dir) {
  std::ifstream in(dir / "manifest.json");
  if (!in) return Status::NotFound(dir.string() + ": no manifest.json (an incomplete package)");
  json m = json::parse(in, nullptr, false);
  if (m.is_discarded() || !m.contains("files")) return Status::Corruption((dir / "manifest.json").string() + ": not a manifest");
  for (const auto& f : m["files"]) {
    const fs::path file = dir / f.value("path", "");
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return Status::NotFound(file.string() + ": listed in the manifest but missing");
    if (int64_t(size) != f.value("bytes", int64_t{-1})) return Status::Corruption(file.string() + ": size differs from the manifest");
    auto sum = sha256_file(file);
    if (!sum.ok()) return sum.status();
    if (*sum != f.value("sha256", "")) return Status::Corruption(file.string() + ": sha256 differs from the manifest");
  }
  return Status::Ok();
}

}  // namespace dashloop::pipeline::clips
