#include "privacy/redactor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "clips/package.hpp"
#include "media/encoder.hpp"
#include "media/frame_reader.hpp"
#include "media/packets.hpp"
#include "vision/tracker.hpp"

namespace fs = std::filesystem;

namespace dashloop::pipeline::privacy {
namespace {

using vision::Detection;

constexpr float kWholeFrameFaceScore = 0.7f;
const std::set<std::string> kVehicles = {"car", "bus", "truck", "motorcycle"};

cv::Rect2f grow(const cv::Rect2f& r, double share) {
  const float dx = float(r.width * share / 2), dy = float(r.height * share / 2);
  return {r.x - dx, r.y - dy, r.width + 2 * dx, r.height + 2 * dy};
}

cv::Point2f centre(const cv::Rect2f& r) { return {r.x + r.width / 2, r.y + r.height / 2}; }

// Where a person's head is (top of the box, the middle of its width) and a
// vehicle's plate (the lower part): what conservative mode hides.
cv::Rect2f head_region(const cv::Rect2f& p) {
  const float w = std::min(p.width, 0.5f * p.height);  // a wide box (arms out, a crowd) has no wider head
  // From a fifth above the box: a box often stops at the brow, and a person
  // half hidden behind another stands higher in the frame (MOT17-04 id 75).
  return {p.x + (p.width - w) / 2, p.y - 0.2f * p.height, w, 0.45f * p.height};
}
cv::Rect2f plate_band(const cv::Rect2f& v) {
  return {v.x + 0.1f * v.width, v.y + 0.55f * v.height, 0.8f * v.width, 0.45f * v.height};
}

// Irreversible by construction: "blur" and "pixelate" first average the box
// down to a few cells (the detail is gone), blur then smooths the cells.
void hide(cv::Mat& image, cv::Rect r, const std::string& how, const cv::Scalar& fill) {
  r &= cv::Rect(0, 0, image.cols, image.rows);
  if (r.width < 1 || r.height < 1 || how == "none") return;
  cv::Mat roi = image(r);
  if (how == "fill") {
    roi.setTo(fill);
    return;
  }
  const int cell = std::max(2, std::max(r.width, r.height) / 8);
  cv::Mat small;
  cv::resize(roi, small, {std::max(1, r.width / cell), std::max(1, r.height / cell)}, 0, 0, cv::INTER_AREA);
  cv::resize(small, roi, roi.size(), 0, 0, how == "pixelate" ? cv::INTER_NEAREST : cv::INTER_LINEAR);
  if (how == "blur") {
    const int k = std::max(3, cell | 1);
    cv::blur(roi, roi, {k, k});
  }
}

cv::Rect to_pixels(const cv::Rect2f& r, double sx = 1, double sy = 1) {
  const int x0 = int(std::floor(r.x * sx)), y0 = int(std::floor(r.y * sy));
  const int x1 = int(std::ceil((r.x + r.width) * sx)), y1 = int(std::ceil((r.y + r.height) * sy));
  return {x0, y0, x1 - x0, y1 - y0};
}

// A kind of thing tracked across detect frames: every detection may start a
// track, a track is kept (predicted) for the hold, and its boxes between
// detect frames come from the two around them.
vision::TrackerConfig hold_tracker(int hold_steps) {
  vision::TrackerConfig c;
  c.high_score = c.low_score = c.new_track_score = 0.0f;
  c.match_iou = c.low_match_iou = c.tentative_match_iou = 0.1f;
  c.min_hits = 1;
  c.max_age = std::max(1, hold_steps);
  return c;
}

struct Kind {
  explicit Kind(int hold_steps) : tracker(hold_tracker(hold_steps)) {}
  vision::Tracker tracker;
  std::vector<vision::Track> tracks;

  void finish() {
    tracker.finish();
    tracks = tracker.take_finished();
  }
  // Boxes on every frame in [0, frames): `span` (union of the two detect
  // frames around it: recall first) or interpolated (where the box moves a
  // person's head region with it).
  std::vector<std::vector<cv::Rect2f>> per_frame(int64_t frames, int64_t hold, bool span) const {
    std::vector<std::vector<cv::Rect2f>> out(size_t(std::max<int64_t>(frames, 0)));
    for (const auto& t : tracks) {
      // The hits only: a small box's predicted size and speed drift.
      std::vector<const vision::TrackBox*> hits;
      for (const auto& b : t.boxes)
        if (!b.predicted) hits.push_back(&b);
      if (hits.empty()) continue;
      size_t k = 0;
      for (int64_t f = std::max<int64_t>(0, hits.front()->frame - hold);
           f <= std::min(frames - 1, hits.back()->frame + hold); ++f) {
        while (k + 1 < hits.size() && hits[k + 1]->frame <= f) ++k;
        const vision::TrackBox& a = *hits[k];
        const vision::TrackBox& b = k + 1 < hits.size() && f > a.frame ? *hits[k + 1] : a;
        cv::Rect2f box = a.box;
        if (&a != &b) {
          if (span) {
            box = a.box | b.box;
          } else {
            const float w = float(f - a.frame) / float(b.frame - a.frame);
            box = {a.box.x + w * (b.box.x - a.box.x), a.box.y + w * (b.box.y - a.box.y),
                   a.box.width + w * (b.box.width - a.box.width), a.box.height + w * (b.box.height - a.box.height)};
          }
        }
        out[size_t(f)].push_back(box);
      }
    }
    return out;
  }
};

std::string sha256_or_unreadable(const fs::path& file) {
  auto sum = clips::sha256_file(file);
  return sum.ok() ? *sum : "unreadable";
}

// How a drawn box is hidden: faces and heads by the faces policy, plates and
// bands by the plates one; an operator's box by its kind's, else blurred.
const std::string& policy_of(const RedactionBox& box, const PrivacyConfig& c) {
  static const std::string blur = "blur";
  const std::string& policy = box.kind == "face" || box.kind == "head" || box.kind == "added_face" ? c.faces : c.plates;
  return box.kind.rfind("added_", 0) == 0 && policy == "none" ? blur : policy;
}

cv::Scalar yuv_of(const std::array<int, 3>& rgb) {
  const double r = rgb[0], g = rgb[1], b = rgb[2];
  return {0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.169 * r - 0.331 * g + 0.5 * b, 128 + 0.5 * r - 0.419 * g - 0.081 * b};
}

}  // namespace

SeenObjects seen_objects(const std::vector<vision::TrackStep>& steps, const std::vector<std::string>& labels,
                         nlohmann::json detector) {
  SeenObjects seen{std::move(detector), {}};
  for (const auto& step : steps) {
    SeenObjects::Frame f{step.frame, {}, {}};
    for (const auto& d : step.detections) {
      const std::string label = size_t(d.class_id) < labels.size() ? labels[size_t(d.class_id)] : "";
      if (label == "person") f.people.push_back(d);
      else if (kVehicles.count(label)) f.vehicles.push_back(d);
    }
    seen.frames.push_back(std::move(f));
  }
  return seen;
}

const std::set<std::string>& policies() {
  static const std::set<std::string> names = {"none", "blur", "pixelate", "fill"};
  return names;
}

Status validate(const PrivacyConfig& c) {
  for (const auto& [name, value] : {std::pair{"faces", c.faces}, std::pair{"plates", c.plates}})
    if (!policies().count(value))
      return Status::InvalidArgument(std::string("privacy.") + name + " must be none, blur, pixelate or fill, got '" +
                                     value + "'");
  if (c.detect_hz <= 0) return Status::InvalidArgument("privacy.detect_hz must be above 0");
  for (int v : c.fill_rgb)
    if (v < 0 || v > 255) return Status::InvalidArgument("privacy.fill: each colour part must be 0-255");
  return Status::Ok();
}

struct Redactor::Impl {
  PrivacyConfig config;
  std::unique_ptr<vision::Detector> objects, faces, plates, plate_net;
  nlohmann::json detectors;
};

Redactor::Redactor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Redactor::~Redactor() = default;

Result<std::unique_ptr<Redactor>> Redactor::open(const PrivacyConfig& config, bool own_objects) {
  if (Status st = validate(config); !st.ok()) return st;
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (!config.on()) return std::unique_ptr<Redactor>(new Redactor(std::move(impl)));
  if (own_objects) {
    auto objects = vision::make_detector(config.objects);
    if (!objects.ok()) return Status::InvalidArgument("privacy: people and vehicles: " + objects.status().message());
    impl->objects = std::move(*objects);
    impl->detectors["objects"] = {{"detector", impl->objects->describe()},
                                  {"model_sha256", sha256_or_unreadable(config.objects.model)}};
  }
  if (config.faces != "none") {
    vision::DetectorConfig f;
    f.kind = "blazeface";
    f.model = config.face_model;
    f.min_score = config.face_min_score;
    auto made = vision::make_detector(f);
    if (!made.ok()) return Status::InvalidArgument("privacy: faces: " + made.status().message());
    impl->faces = std::move(*made);
    impl->detectors["faces"] = {{"detector", impl->faces->describe()}, {"model_sha256", sha256_or_unreadable(f.model)}};
  }
  if (config.plates != "none") {
    vision::DetectorConfig p;
    p.kind = "cascade";
    p.cascades = config.plate_cascades;
    p.cascade_min_size = 12;
    p.min_score = 0.5f;
    auto made = vision::make_detector(p);
    if (!made.ok()) return Status::InvalidArgument("privacy: plates: " + made.status().message());
    impl->plates = std::move(*made);
    nlohmann::json files = nlohmann::json::array();
    for (const auto& c : config.plate_cascades) files.push_back({{"file", c.filename().string()}, {"sha256", sha256_or_unreadable(c)}});
    impl->detectors["plates"] = {{"detector", impl->plates->describe()}, {"cascades", files}};
    if (!config.plate_model.empty()) {
      vision::DetectorConfig n;
      n.kind = "onnx";
      n.model = config.plate_model;
      n.labels = config.plate_labels;
      n.format = config.plate_format;
      n.input_size = config.plate_input_size;
      n.min_score = config.plate_min_score;
      auto net = vision::make_detector(n);
      if (!net.ok()) return Status::InvalidArgument("privacy: plate_model: " + net.status().message());
      impl->plate_net = std::move(*net);
      impl->detectors["plates"]["model"] = {{"detector", impl->plate_net->describe()},
                                            {"model_sha256", sha256_or_unreadable(config.plate_model)}};
    }
  }
  return std::unique_ptr<Redactor>(new Redactor(std::move(impl)));
}

Result<RedactionReport> Redactor::redact_video(const fs::path& in, const fs::path& out, const std::atomic<bool>* stop,
                                               const std::vector<AddedMark>& added, const SeenObjects* seen) {
  auto stopping = [stop] { return stop && stop->load(); };
  const Status interrupted = Status::Unavailable(in.string() + ": redaction interrupted (stopping)");
  const Impl& m = *impl_;
  const PrivacyConfig& c = m.config;
  const auto began = std::chrono::steady_clock::now();
  RedactionReport report;
  auto index = media::index_stream(in);
  if (!index.ok()) return index.status();
  const double fps = index->fps > 0 ? index->fps : 30.0;
  int step = std::max(1, int(std::lround(fps / c.detect_hz)));
  if (seen) {
    // Another pass's frames: the hold spans its widest gap.
    step = 1;
    for (size_t i = 1; i < seen->frames.size(); ++i)
      step = std::max<int>(step, int(seen->frames[i].frame - seen->frames[i - 1].frame));
    report.objects = seen->detector;
    report.objects["detect_frames"] = seen->frames.size();
  } else if (c.on() && !m.objects) {
    return Status::InvalidArgument(in.string() + ": no people and vehicles to redact by: the redactor was opened "
                                   "without its detector and given none found");
  } else if (m.objects) {
    report.objects = m.detectors.at("objects");
  }
  const int64_t hold = std::max<int64_t>(step, std::llround(c.hold_s * fps));
  const int hold_steps = int((hold + step - 1) / step);
  Kind people(hold_steps), vehicles(hold_steps), faces(hold_steps), plates(hold_steps);

  media::Source source;
  source.original = source.location = in.string();
  // Pass 1: what to hide, on the detect frames.
  auto reader = media::FrameReader::open(source, {});
  if (!reader.ok()) return reader.status();
  int64_t n = 0;
  size_t next_seen = 0;
  for (;; ++n) {
    auto next = (*reader)->next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    if (stopping()) return interrupted;
    // The seen frame at this one, if any (both ascending).
    while (seen && next_seen < seen->frames.size() && seen->frames[next_seen].frame < n) ++next_seen;
    const bool given = seen && next_seen < seen->frames.size() && seen->frames[next_seen].frame == n;
    if (seen ? !given : (n % step || !m.objects)) continue;
    ++report.detect_frames;
    cv::Mat bgr;
    cv::cvtColor(media::copy_i420(**next), bgr, cv::COLOR_YUV2BGR_I420);
    report.frame_size = bgr.size();
    const cv::Rect2f frame(0, 0, float(bgr.cols), float(bgr.rows));
    std::vector<Detection> persons, cars;
    if (given) {
      // The other pass's boxes, held to this policy's score floor.
      const float floor = c.objects.min_score;
      for (const auto& d : seen->frames[next_seen].people)
        if (d.score >= floor) persons.push_back({d.box, 0, d.score});
      for (const auto& d : seen->frames[next_seen].vehicles)
        if (d.score >= floor) cars.push_back({d.box, 0, d.score});
    } else {
      auto found = m.objects->detect(bgr);
      if (!found.ok()) return found.status();
      for (const auto& d : *found) {
        const std::string& label = m.objects->labels().at(size_t(d.class_id));
        if (label == "person") persons.push_back({d.box, 0, d.score});
        else if (kVehicles.count(label)) cars.push_back({d.box, 0, d.score});
      }
    }
    report.detections["person"] += int64_t(persons.size());
    report.detections["vehicle"] += int64_t(cars.size());
    people.tracker.update(n, persons);
    vehicles.tracker.update(n, cars);
    // Search where people and vehicles are now, seen or (for the hold) predicted.
    auto current = [n](const vision::Tracker& t) {
      std::vector<cv::Rect2f> v;
      for (const auto* track : t.live())
        if (!track->boxes.empty() && track->boxes.back().frame == n) v.push_back(track->boxes.back().box);
      return v;
    };
    // A crop scaled so its longer side is at least `min_side` (small faces and
    // plates grow into the detectors' range); boxes come back in frame pixels.
    auto detect_in = [&](vision::Detector& d, cv::Rect2f area, int min_side) -> Result<std::vector<Detection>> {
      const cv::Rect r = to_pixels(area & frame) & cv::Rect(0, 0, bgr.cols, bgr.rows);
      if (r.width < 8 || r.height < 8) return std::vector<Detection>{};
      const double s = std::clamp(double(min_side) / std::max(r.width, r.height), 1.0, 6.0);
      cv::Mat crop = bgr(r);
      if (s > 1.0) cv::resize(bgr(r), crop, {}, s, s, cv::INTER_LINEAR);
      auto dets = d.detect(crop);
      if (!dets.ok()) return dets.status();
      for (auto& x : *dets)
        x.box = {float(x.box.x / s + r.x), float(x.box.y / s + r.y), float(x.box.width / s), float(x.box.height / s)};
      return dets;
    };
    if (m.faces) {
      auto whole = m.faces->detect(bgr);
      if (!whole.ok()) return whole.status();
      // The whole frame shrunk to 256 px is where BlazeFace sees faces in
      // crowds and foliage at about 0.5: there a hit must be surer. Faces of
      // people found are searched (and taken at face_min_score) in their bodies.
      std::vector<Detection> all;
      for (const auto& x : *whole)
        if (x.score >= std::max(c.face_min_score, kWholeFrameFaceScore)) all.push_back(x);
      for (const auto& p : current(people.tracker)) {
        // The upper body, squared: the face is small in the frame, large in here.
        const float side = std::max(p.width, 0.45f * p.height);
        auto in_body = detect_in(*m.faces, {p.x + p.width / 2 - side / 2, p.y - 0.05f * p.height, side, side}, 256);
        if (!in_body.ok()) return in_body.status();
        for (const auto& x : *in_body)
          // No face is wider than its body: a larger hit in a crop scaled up is the crowd behind.
          if (x.box.width <= 0.7f * p.width && x.box.height <= 0.5f * p.height &&
              std::none_of(all.begin(), all.end(), [&](const Detection& y) { return vision::iou(x.box, y.box) > 0.3f; }))
            all.push_back(x);
      }
      report.detections["face"] += int64_t(all.size());
      faces.tracker.update(n, all);
    }
    if (m.plates) {
      std::vector<Detection> all;
      for (const auto& v : current(vehicles.tracker)) {
        if (v.width < 40) continue;
        const cv::Rect2f lower(v.x, v.y + 0.4f * v.height, v.width, 0.6f * v.height);
        auto in_car = detect_in(*m.plates, lower, 480);
        if (!in_car.ok()) return in_car.status();
        all.insert(all.end(), in_car->begin(), in_car->end());
        if (m.plate_net) {
          auto by_net = detect_in(*m.plate_net, lower, c.plate_input_size);
          if (!by_net.ok()) return by_net.status();
          all.insert(all.end(), by_net->begin(), by_net->end());
        }
      }
      report.detections["plate"] += int64_t(all.size());
      plates.tracker.update(n, all);
    }
  }
  if (n == 0) return Status::InvalidArgument(in.string() + ": no frames to redact");
  report.frames = n;
  for (Kind* k : {&people, &vehicles, &faces, &plates}) k->finish();
  const auto person_at = people.per_frame(n, hold, false), vehicle_at = vehicles.per_frame(n, hold, false);
  const auto face_at = faces.per_frame(n, hold, true), plate_at = plates.per_frame(n, hold, true);
  // The operator's marks: each a track whose hits are its keys.
  Kind added_faces(hold_steps), added_plates(hold_steps);
  for (const auto& mark : added) {
    if (mark.what != "face" && mark.what != "plate")
      return Status::InvalidArgument("added box " + std::to_string(mark.id) + ": '" + mark.what + "' is not face or plate");
    vision::Track t;
    t.id = mark.id;
    for (const auto& [frame, box] : mark.keys) {
      if (frame < 0 || frame >= n)
        return Status::InvalidArgument("added box " + std::to_string(mark.id) + ": frame " + std::to_string(frame) +
                                       " is not in the clip's " + std::to_string(n));
      t.boxes.push_back({frame, box, 1.0f, 0, false});
    }
    std::sort(t.boxes.begin(), t.boxes.end(), [](const auto& a, const auto& b) { return a.frame < b.frame; });
    (mark.what == "face" ? added_faces : added_plates).tracks.push_back(std::move(t));
  }
  report.added_marks = int64_t(added.size());
  const auto added_face_at = added_faces.per_frame(n, hold, false), added_plate_at = added_plates.per_frame(n, hold, false);

  report.by_frame.resize(size_t(n));
  for (int64_t f = 0; f < n; ++f) {
    auto& drawn = report.by_frame[size_t(f)];
    if (c.faces != "none") {
      for (const auto& b : face_at[size_t(f)]) drawn.push_back({grow(b, c.pad), "face"});
      if (c.conservative)
        for (const auto& p : person_at[size_t(f)]) {
          if (p.height < c.min_person_px) continue;
          // Drawn even where a face was found in it: a face box is tight
          // (brows to chin); the head region also takes hair, ears and the
          // face of someone seen from above.
          drawn.push_back({grow(head_region(p), c.pad), "head"});
        }
    }
    if (c.plates != "none") {
      for (const auto& b : plate_at[size_t(f)]) drawn.push_back({grow(b, c.pad), "plate"});
      if (c.conservative)
        for (const auto& v : vehicle_at[size_t(f)]) {
          if (v.width < c.min_vehicle_px) continue;
          const cv::Rect2f band = plate_band(v);
          const bool seen = std::any_of(plate_at[size_t(f)].begin(), plate_at[size_t(f)].end(),
                                        [&](const cv::Rect2f& b) { return band.contains(centre(b)); });
          if (!seen) drawn.push_back({band, "band"});
        }
    }
    for (const auto& b : added_face_at[size_t(f)]) drawn.push_back({grow(b, c.pad), "added_face"});
    for (const auto& b : added_plate_at[size_t(f)]) drawn.push_back({grow(b, c.pad), "added_plate"});
    for (const auto& d : drawn) ++report.boxes[d.kind];
    if (!drawn.empty()) ++report.frames_redacted;
  }

  // Nothing to hide in an H.264 MP4: the clip is kept as it was cut, its
  // bytes and quality untouched, and the second pass's decode and encode
  // (most of redaction's time) are not spent.
  if (report.frames_redacted == 0 && index->codec == "video/x-h264" && in.extension() == ".mp4") {
    // A hard link where it can be (the original kept beside a package costs
    // no second copy: nothing rewrites a clip file in place), else a copy.
    std::error_code ec;
    fs::remove(out, ec);
    fs::create_hard_link(in, out, ec);
    if (ec) fs::copy_file(in, out, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError(out.string() + ": " + ec.message());
    report.encoder = "none (nothing to redact: the clip as cut)";
    report.reencoded = false;
    report.keyframes_kept = true;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    return report;
  }

  // Pass 2: draw on every frame and re-encode, keyframes where the input has them.
  reader = media::FrameReader::open(source, {});
  if (!reader.ok()) return reader.status();
  std::unique_ptr<media::H264Writer> writer;
  const cv::Scalar yuv = yuv_of(c.fill_rgb);
  const int64_t frame_ns = std::llround(1e9 / fps);
  int64_t i = 0;
  for (;; ++i) {
    auto next = (*reader)->next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    if (i >= n) return Status::Corruption(in.string() + ": more frames on the second pass than on the first");
    if (stopping()) return interrupted;
    const media::DecodedFrame& frame = **next;
    cv::Mat i420 = media::copy_i420(frame);
    const int w = i420.cols, h = i420.rows * 2 / 3;
    if (!writer) {
      media::EncoderOptions o;
      o.width = w;
      o.height = h;
      o.fps = fps;
      o.quality = c.quality;
      auto opened = media::H264Writer::open(out, o);
      if (!opened.ok()) return opened.status();
      writer = std::move(*opened);
      report.encoder = writer->encoder();
      report.frame_size = {w, h};  // also where no detector ran (only an operator's boxes)
    }
    cv::Mat y(h, w, CV_8UC1, i420.data), u(h / 2, w / 2, CV_8UC1, i420.data + size_t(w) * h),
        v(h / 2, w / 2, CV_8UC1, i420.data + size_t(w) * h * 5 / 4);
    for (const auto& d : report.by_frame[size_t(i)]) {
      const std::string& how = policy_of(d, c);
      cv::Rect r = to_pixels(d.box);
      r.x &= ~1, r.y &= ~1;  // chroma is half size: even edges keep the planes in step
      r.width = (r.width + 1) & ~1, r.height = (r.height + 1) & ~1;
      hide(y, r, how, cv::Scalar(yuv[0]));
      const cv::Rect half(r.x / 2, r.y / 2, r.width / 2, r.height / 2);
      hide(u, half, how, cv::Scalar(yuv[1]));
      hide(v, half, how, cv::Scalar(yuv[2]));
    }
    const int64_t pts = frame.pts_ns >= 0 ? frame.pts_ns : index->first_pts + i * frame_ns;
    const bool key = std::any_of(index->keyframes.begin(), index->keyframes.end(),
                                 [&](const media::KeyframePos& k) { return std::llabs(k.pts - pts) <= 1000000; });
    if (Status st = writer->push(i420, pts, frame_ns, key || i == 0); !st.ok()) return st;
  }
  if (!writer || i != n)
    return Status::Corruption(in.string() + ": " + std::to_string(i) + " frames on the second pass, " +
                              std::to_string(n) + " on the first");
  if (Status st = writer->finish(); !st.ok()) return st;
  auto written = media::index_stream(out);
  if (!written.ok()) return written.status();
  if (written->frames != n)
    return Status::Corruption(out.string() + ": the redacted clip holds " + std::to_string(written->frames) +
                              " frames, the original " + std::to_string(n));
  report.keyframes_kept = written->keyframes.size() == index->keyframes.size() &&
                          std::equal(written->keyframes.begin(), written->keyframes.end(), index->keyframes.begin(),
                                     [](const media::KeyframePos& a, const media::KeyframePos& b) { return a.frame == b.frame; });
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return report;
}

Status Redactor::redact_image(const fs::path& in, const fs::path& out, const std::vector<RedactionBox>& boxes,
                              cv::Size frame_size) const {
  const PrivacyConfig& c = impl_->config;
  cv::Mat image = cv::imread(in.string(), cv::IMREAD_COLOR);
  if (image.empty()) return Status::IOError(in.string() + ": cannot read the image to redact");
  const double sx = frame_size.width > 0 ? double(image.cols) / frame_size.width : 1.0;
  const double sy = frame_size.height > 0 ? double(image.rows) / frame_size.height : 1.0;
  const cv::Scalar bgr(c.fill_rgb[2], c.fill_rgb[1], c.fill_rgb[0]);
  for (const auto& d : boxes) hide(image, to_pixels(d.box, sx, sy), policy_of(d, c), bgr);
  if (!cv::imwrite(out.string(), image)) return Status::IOError(out.string() + ": cannot write the redacted image");
  return Status::Ok();
}

nlohmann::json Redactor::manifest(const RedactionReport& r) const {
  const PrivacyConfig& c = impl_->config;
  nlohmann::json detectors = impl_->detectors;
  if (!r.objects.is_null()) detectors["objects"] = r.objects;
  return {{"faces", c.faces},
          {"plates", c.plates},
          {"conservative", c.conservative},
          {"min_person_px", c.min_person_px},
          {"min_vehicle_px", c.min_vehicle_px},
          {"detect_hz", c.detect_hz},
          {"hold_s", c.hold_s},
          {"pad", c.pad},
          {"detectors", detectors},
          {"encoder", r.encoder},
          {"frames", r.frames},
          {"frames_redacted", r.frames_redacted},
          {"detect_frames", r.detect_frames},
          {"detections", r.detections},
          {"boxes", r.boxes},
          {"added_marks", r.added_marks},
          {"keyframes_kept", r.keyframes_kept},
          {"reencoded", r.reencoded},
          {"original_uploaded", false}};
}

}  // namespace dashloop::pipeline::privacy
