// The package and media routes: the clip's files (never one not redacted yet), its original,
// its boxes, its frame times, the thumbnail, and the cloud job's ack.
#include "server_impl.hpp"

namespace dashloop::ui {

// Each frame's presentation time in the clip (s, from its first frame):
// what the page maps the video's time to a frame by. A live camera's frames
// do not come every 1/fps (frame 21 at 30 fps shown at 0.699 s), and
// rounding time to a frame drew its boxes one frame late. Null where the
// container gives no timestamps: the page then goes by fps.
json UiServer::Impl::frame_times(const fs::path& clip) {
  auto reader = pipeline::media::PacketReader::open(clip);
  if (!reader.ok()) return nullptr;
  std::vector<int64_t> pts;
  for (;;) {
    auto packet = (*reader)->next();
    if (!packet.ok() || (packet->has_value() && (*packet)->pts < 0)) return nullptr;
    if (!packet->has_value()) break;
    pts.push_back((*packet)->pts);
  }
  std::sort(pts.begin(), pts.end());  // decode order to presentation order
  json out = json::array();
  for (int64_t p : pts) out.push_back(double(p - pts.front()) / 1e9);
  return out;
}

// Kept in ui-cache/, named by the clip file's size and time: its frames'
// times change only when the file does (a trim, a redaction), and the
// clip screen asks for them on every look at a clip.
json UiServer::Impl::cached_frame_times(const cat::ClipRecord& c) {
  const fs::path clip = fs::path(c.package_dir) / "clip.mp4";
  std::error_code ec;
  const auto size = fs::file_size(clip, ec);
  const auto written = fs::last_write_time(clip, ec);
  if (ec) return nullptr;
  const fs::path cached = options.data_dir / "ui-cache" / "frame_times" /
                          (c.uid + "-" + std::to_string(size) + "-" +
                           std::to_string(written.time_since_epoch().count()) + ".json");
  if (auto kept = read_json_file(cached); kept && kept->is_array()) return *kept;
  // One demux at a time: the clip screens that open together wait for it, not each make it.
  std::lock_guard lock(times_mutex);
  if (auto kept = read_json_file(cached); kept && kept->is_array()) return *kept;
  json times = frame_times(clip);
  if (!times.is_array()) return times;
  fs::create_directories(cached.parent_path(), ec);
  const fs::path tmp = cached.string() + ".tmp";
  std::ofstream out(tmp);
  out << times.dump();
  out.close();
  if (out) fs::rename(tmp, cached, ec);  // a reader sees all of it or none
  return times;
}

// The unredacted clip a redacted package keeps beside it on the box: an
// operator's only (a reader token is how packages leave), never uploaded.
void UiServer::Impl::original(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, true, false)) return;
  auto c = clip_of(req.matches[1], res);
  if (!c) return;
  const fs::path file = clips::original_clip_of(c->package_dir);
  std::error_code ec;
  if (c->package_dir.empty() || !fs::exists(file, ec))
    return fail(res, 404, "clip " + c->uid + ": no original kept (the package is not redacted, or it was purged)");
  if (!inside(fs::path(c->package_dir).parent_path(), file))
    return fail(res, 404, "clip " + c->uid + ": its original leads out of the packages folder");
  if (!serve_file(req, res, file, "video/mp4")) return fail(res, 404, file.string() + ": unreadable");
}

void UiServer::Impl::clip_boxes(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, false, false)) return;
  auto c = clip_of(req.matches[1], res);
  if (!c) return;
  auto tracks = read_mot(c->package_dir);
  if (!tracks.ok()) return fail(res, code_of(tracks.status()), tracks.status().message());
  json out = json::array();
  for (const auto& t : *tracks) out.push_back({{"track", t.track}, {"label", t.label}, {"boxes", t.boxes}});
  reply(res, {{"uid", c->uid}, {"tracks", out}});
}

std::string UiServer::Impl::not_redacted(const cat::ClipRecord& c) {
  return "clip " + c.uid + " is not redacted yet: its pre-label pass redacts it before review";
}

// A file of the package: only a path its manifest lists (or the manifest);
// none of one not redacted yet.
void UiServer::Impl::clip_file(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, false, false)) return;
  auto c = clip_of(req.matches[1], res);
  if (!c) return;
  const std::string path = req.matches[2];
  const auto manifest = read_json_file(fs::path(c->package_dir) / "manifest.json");
  if (!manifest) return fail(res, 404, "clip " + c->uid + ": no package (purged or not yet written)");
  if (path != "manifest.json" && clips::privacy_pending(manifest->value("privacy", json())))
    return fail(res, 409, not_redacted(*c));
  bool listed = path == "manifest.json";
  for (const auto& f : (*manifest)["files"]) listed = listed || f.value("path", "") == path;
  if (!listed) return fail(res, 404, "clip " + c->uid + ": '" + path.substr(0, 120) + "' is not a file of the package");
  const fs::path file = fs::path(c->package_dir) / path;
  if (!inside(c->package_dir, file)) return fail(res, 404, "clip " + c->uid + ": '" + path.substr(0, 120) + "' leads out of the package");
  if (!serve_file(req, res, file, content_type_of(file))) return fail(res, 404, file.string() + ": unreadable");
}

// Made once per package version and kept in ui-cache/: the first
// keyframe image, else the clip's first frame, 320 px wide.
void UiServer::Impl::thumbnail(const httplib::Request& req, httplib::Response& res) {
  if (!require(req, res, false, false)) return;
  auto c = clip_of(req.matches[1], res);
  if (!c) return;
  const fs::path package = c->package_dir;
  const fs::path cached = options.data_dir / "ui-cache" / "thumbs" /
                          (c->uid + "-" + std::to_string(c->start_frame) + "-" + std::to_string(c->frames) + ".jpg");
  std::lock_guard lock(thumbs_mutex);
  if (!fs::exists(cached)) {
    const auto manifest = read_json_file(package / "manifest.json");
    if (!manifest) return fail(res, 404, "clip " + c->uid + ": no package");
    // Cached by span: one made before the redaction would outlive it.
    if (clips::privacy_pending(manifest->value("privacy", json()))) return fail(res, 409, not_redacted(*c));
    cv::Mat bgr;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(package / "keyframes", ec)) {
      bgr = cv::imread(e.path().string());
      if (!bgr.empty()) break;
    }
    if (bgr.empty()) {
      pipeline::media::Source source;
      source.original = source.location = (package / "clip.mp4").string();
      auto reader = pipeline::media::FrameReader::open(source, {});
      if (reader.ok())
        if (auto frame = (*reader)->next(); frame.ok() && frame->has_value())
          cv::cvtColor(pipeline::media::copy_i420(**frame), bgr, cv::COLOR_YUV2BGR_I420);
    }
    if (bgr.empty()) return fail(res, 500, (package / "clip.mp4").string() + ": no frame to make a thumbnail from");
    cv::Mat small;
    cv::resize(bgr, small, cv::Size(320, std::max(1, bgr.rows * 320 / std::max(1, bgr.cols))), 0, 0, cv::INTER_AREA);
    fs::create_directories(cached.parent_path(), ec);
    const fs::path tmp = cached.string() + ".tmp.jpg";
    if (!cv::imwrite(tmp.string(), small, {cv::IMWRITE_JPEG_QUALITY, 80})) return fail(res, 500, tmp.string() + ": cannot write");
    fs::rename(tmp, cached, ec);
  }
  if (!serve_file(req, res, cached, "image/jpeg")) fail(res, 500, cached.string() + ": unreadable");
}

// The cloud job pulled a package: {ok, manifest_sha256, failed_file}.
// ok: approved (or uploaded) -> acked, each step through the one
// transition function. An ack lets retention delete the package first,
// so it takes a token of scope ack and the sha256 of the manifest the job
// verified against, which must be the package's own.
void UiServer::Impl::ack(const httplib::Request& req, httplib::Response& res) {
  auto who = require(req, res, false, true);
  if (!who) return;
  if (who->role == "reader" && who->scope != "ack")
    return fail(res, 403, "a read token cannot ack; the cloud job's token is made with `dashloop token add NAME "
                          "--scope ack`");
  auto c = clip_of(req.matches[1], res);
  if (!c) return;
  auto body = body_object(req, res);
  if (!body) return;
  auto ok = body->find("ok");
  if (ok == body->end() || !ok->is_boolean()) return fail(res, 400, "ok: true or false");
  auto failed = string_field(*body, "failed_file", res, false, 300);
  if (!failed) return;
  auto verified = string_field(*body, "manifest_sha256", res, ok->get<bool>(), 64);
  if (!verified) return;
  if (c->state == "uploading") return fail(res, 409, "clip " + c->uid + " is being uploaded by sync: its ack comes through the bucket");
  if (!ok->get<bool>()) {
    spdlog::warn("ui: {} could not verify clip {} ({}); it stays {}", who->actor(), c->uid, *failed, c->state);
    return reply(res, {{"ok", true}, {"uid", c->uid}, {"state", c->state}});
  }
  std::vector<std::string> path;
  if (c->state == "approved") path = {"uploading", "uploaded", "acked"};
  else if (c->state == "uploaded") path = {"acked"};
  else return fail(res, 409, "clip " + c->uid + " is " + c->state + ": only an approved or uploaded clip can be acked");
  std::ifstream in(fs::path(c->package_dir) / "manifest.json", std::ios::binary);
  const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return fail(res, 500, c->package_dir + "/manifest.json: unreadable");
  if (const std::string own = sha256_hex(manifest); *verified != own)
    return fail(res, 409, "manifest_sha256: " + verified->substr(0, 64) + " is not the sha256 of clip " + c->uid +
                              "'s manifest (" + own + "): download and verify it again");
  {
    std::lock_guard lock(db_mutex);
    for (const auto& to : path)
      if (Status st = catalog->move_clip(c->id, to, who->actor(),
                                         "pulled over the UI's API and verified against manifest sha256 " +
                                             verified->substr(0, 12));
          !st.ok())
        return fail(res, 409, st.message());
  }
  changed(c->uid, "acked", *who, "pulled and verified");
  reply(res, {{"ok", true}, {"uid", c->uid}, {"state", "acked"}});
}

}  // namespace dashloop::ui
