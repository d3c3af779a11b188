#include "media/source.hpp"

#include <glib.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include "media/gst.hpp"

namespace dashloop::pipeline::media {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// test://PATTERN?... and csi://N?...: the part before '?' returned, the
// parameters set on `s`.
Result<std::string> parse_query(const std::string& arg, const std::string& scheme, Source& s) {
  s.original = arg;
  std::string rest = arg.substr(scheme.size());
  const auto q = rest.find('?');
  if (q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    size_t pos = 0;
    while (pos <= query.size()) {
      const size_t amp = std::min(query.find('&', pos), query.size());
      const std::string kv = query.substr(pos, amp - pos);
      pos = amp + 1;
      if (kv.empty()) continue;
      const auto eq = kv.find('=');
      const std::string key = kv.substr(0, eq);
      const std::string val = eq == std::string::npos ? "" : kv.substr(eq + 1);
      int n = 0;
      auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
      if (ec != std::errc() || p != val.data() + val.size() || n <= 0)
        return Status::InvalidArgument(arg + ": '" + key + "' needs a positive whole number, got '" + val + "'");
      if (key == "frames" && s.kind == Source::Kind::kTest) s.frames = n;
      else if (key == "width") s.width = n;
      else if (key == "height") s.height = n;
      else if (key == "fps") s.fps = n;
      else
        return Status::InvalidArgument(arg + ": unknown parameter '" + key + "' (" +
                                       (s.kind == Source::Kind::kTest ? "frames, " : "") + "width, height, fps)");
    }
  }
  return rest;
}

// A camera's address that no retry can mend is a config error: no host, a
// port that is not a number, an IPv4 address out of range.
Status check_rtsp_uri(const std::string& arg) {
  GError* raw = nullptr;
  Handle<GUri, g_uri_unref> uri(g_uri_parse(arg.c_str(), G_URI_FLAGS_NONE, &raw));
  ErrorPtr err(raw);
  if (!uri) return Status::InvalidArgument(arg + ": not a valid URI (" + (err ? err->message : "?") + ")");
  const char* host = g_uri_get_host(uri.get());
  if (!host || !*host) return Status::InvalidArgument(arg + ": no camera host in the address");
  const std::string h = host;
  const bool dotted_digits = h.find_first_not_of("0123456789.") == std::string::npos;
  if (dotted_digits && !g_hostname_is_ip_address(host))
    return Status::InvalidArgument(arg + ": '" + h + "' is not an IPv4 address");
  if (!dotted_digits && h.find(':') == std::string::npos) {
    for (char c : h)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
        return Status::InvalidArgument(arg + ": '" + h + "' is not a host name");
  }
  return Status::Ok();
}

}  // namespace

Result<Source> parse_source(const std::string& arg) {
  if (arg.empty()) return Status::InvalidArgument("empty source");
  if (starts_with(arg, "test://")) {
    Source s;
    s.kind = Source::Kind::kTest;
    auto pattern = parse_query(arg, "test://", s);
    if (!pattern.ok()) return pattern.status();
    if (!pattern->empty()) s.pattern = *pattern;
    return s;
  }
  if (starts_with(arg, "csi://")) {
    Source s;
    s.kind = Source::Kind::kCsi;
    s.width = 1920;
    s.height = 1080;
    auto sensor = parse_query(arg, "csi://", s);
    if (!sensor.ok()) return sensor.status();
    s.location = sensor->empty() ? "0" : *sensor;
    if (s.location.find_first_not_of("0123456789") != std::string::npos)
      return Status::InvalidArgument(arg + ": the sensor is a number (csi://0)");
    return s;
  }
  if (starts_with(arg, "recording://")) {
    Source s;
    s.kind = Source::Kind::kSegments;
    s.original = arg;
    s.location = arg.substr(std::string("recording://").size());
    if (s.location.empty()) return Status::InvalidArgument(arg + ": name the camera (recording://front)");
    return s;
  }
  if (starts_with(arg, "rtsp://") || starts_with(arg, "rtsps://")) {
    if (Status st = check_rtsp_uri(arg); !st.ok()) return st;
    Source s;
    s.kind = Source::Kind::kRtsp;
    s.original = s.location = arg;
    return s;
  }
  if (starts_with(arg, "v4l2://")) {
    Source s;
    s.kind = Source::Kind::kV4l2;
    s.original = arg;
    s.location = arg.substr(std::string("v4l2://").size());
    if (s.location.empty()) s.location = "/dev/video0";
    // Whether the device is there is not the config's business: a camera
    // unplugged now is looked for again (recorder_description says so).
    if (s.location.front() != '/') return Status::InvalidArgument(arg + ": the device is a path (v4l2:///dev/video0)");
    return s;
  }
  std::string path = arg;
  if (starts_with(arg, "file://")) path = arg.substr(std::string("file://").size());
  else if (arg.find("://") != std::string::npos)
    return Status::InvalidArgument(arg + ": unsupported scheme (use a path, file://, rtsp://, v4l2://, csi://, test:// or recording://)");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound(arg + ": no such file");
  if (!std::ifstream(path, std::ios::binary).good()) return Status::IOError(arg + ": cannot be read");
  Source s;
  s.kind = Source::Kind::kFile;
  s.original = arg;
  s.location = std::filesystem::absolute(path).string();
  return s;
}

}  // namespace dashloop::pipeline::media
