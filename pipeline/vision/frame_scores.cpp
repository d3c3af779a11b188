#include "vision/frame_scores.hpp"

#include <algorithm>
#include <bit>
#include <optional>
#include <utility>
#include <opencv2/imgproc.hpp>

namespace dashloop::pipeline::vision {
namespace {
constexpr int kThumbWidth = 128;
constexpr int kDarkLevel = 20;
constexpr int kBlownLevel = 240;
}  // namespace

double FrameScores::quality() const {
  // Exposure weighs as much as focus: a black or blown-out frame is worth
  // little however sharp its few edges are.
  const double exposure = std::clamp(1.0 - dark_fraction - bright_fraction, 0.0, 1.0);
  return sharpness * exposure * exposure;
}

double thumb_distance(const cv::Mat& a, const cv::Mat& b) {
  if (a.empty() || b.empty() || a.size() != b.size()) return 255.0;
  return cv::norm(a, b, cv::NORM_L1) / double(a.total());
}

namespace {
// Whole-pixel shift of b against a, from the luma parts of two thumbnails.
// Estimated at half size (a quarter of the DFT work; subpixel precision
// keeps it within half a pixel at full thumbnail size).
cv::Point luma_shift(const cv::Mat& a, const cv::Mat& b) {
  const int w = a.cols * 2 / 3;
  const cv::Size half(w / 2, a.rows / 2);
  cv::Mat sa, sb, fa, fb;
  cv::resize(a(cv::Rect(0, 0, w, a.rows)), sa, half, 0, 0, cv::INTER_AREA);
  cv::resize(b(cv::Rect(0, 0, w, b.rows)), sb, half, 0, 0, cv::INTER_AREA);
  sa.convertTo(fa, CV_32F);
  sb.convertTo(fb, CV_32F);
  const cv::Point2d shift = cv::phaseCorrelate(fa, fb);
  return {int(std::lround(2 * shift.x)), int(std::lround(2 * shift.y))};
}

// Where two lumas of size `luma` overlap once b is shifted by `shift` onto a:
// the rectangle in a and the one in b; none when they share under half of
// either side (no plausible shift).
std::optional<std::pair<cv::Rect, cv::Rect>> overlap(cv::Point shift, cv::Size luma) {
  const int x0 = std::max(0, shift.x), x1 = std::min(luma.width, luma.width + shift.x);
  const int y0 = std::max(0, shift.y), y1 = std::min(luma.height, luma.height + shift.y);
  if (x1 - x0 < luma.width / 2 || y1 - y0 < luma.height / 2) return std::nullopt;
  return std::pair{cv::Rect(x0 - shift.x, y0 - shift.y, x1 - x0, y1 - y0), cv::Rect(x0, y0, x1 - x0, y1 - y0)};
}
}  // namespace

cv::Mat align_to(const cv::Mat& moving, const cv::Mat& fixed) {
  if (moving.empty() || moving.size() != fixed.size()) return moving;
  const cv::Point s = luma_shift(moving, fixed);
  const int w = moving.cols * 2 / 3;
  if (std::abs(s.x) > w / 2 || std::abs(s.y) > moving.rows / 2) return moving;
  cv::Mat out = moving.clone();
  const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, s.x, 0, 1, s.y);
  cv::Mat luma = out(cv::Rect(0, 0, w, out.rows));
  cv::warpAffine(moving(cv::Rect(0, 0, w, moving.rows)), luma, m, luma.size(), cv::INTER_NEAREST,
                 cv::BORDER_REPLICATE);
  // chroma planes are half size: shift them by half as much
  const cv::Mat mc = (cv::Mat_<double>(2, 3) << 1, 0, s.x / 2.0, 0, 1, s.y / 2.0);
  for (int plane = 0; plane < 2; ++plane) {
    const cv::Rect r(w, plane * (moving.rows / 2), moving.cols - w, moving.rows / 2);
    cv::Mat dst = out(r);
    cv::warpAffine(moving(r), dst, mc, r.size(), cv::INTER_NEAREST, cv::BORDER_REPLICATE);
  }
  return out;
}

double aligned_distance(const cv::Mat& a, const cv::Mat& b) {
  if (a.empty() || b.empty() || a.size() != b.size()) return 255.0;
  const int w = a.cols * 2 / 3;  // the luma part of a thumbnail
  const auto o = overlap(luma_shift(a, b), {w, a.rows});
  if (!o) return thumb_distance(a, b);  // no plausible shift
  return cv::norm(a(o->first), b(o->second), cv::NORM_L1) / double(o->second.area());
}

double structure_distance(const cv::Mat& a, const cv::Mat& b) {
  if (a.empty() || b.empty() || a.size() != b.size()) return 255.0;
  constexpr double kSpread = 40.0;
  const int w = a.cols * 2 / 3;
  auto normalised = [&](const cv::Mat& thumb) {
    cv::Mat y;
    thumb(cv::Rect(0, 0, w, thumb.rows)).convertTo(y, CV_32F);
    cv::Scalar mean, sd;
    cv::meanStdDev(y, mean, sd);
    y = (y - mean[0]) * (kSpread / std::max(sd[0], 1.0));
    return y;
  };
  const cv::Mat na = normalised(a), nb = normalised(b);
  const auto o = overlap(luma_shift(a, b), {w, a.rows});
  if (!o) return cv::norm(na, nb, cv::NORM_L1) / double(na.total());
  return cv::norm(na(o->first), nb(o->second), cv::NORM_L1) / double(o->second.area());
}

int hamming(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

void FrameAnalyzer::shrink(const cv::Mat& src, cv::Mat& dst) {
  // Nearest to three times the target, then area averaging: reads a fraction
  // of a 1080p plane's rows, where averaging the whole plane costs 8x more.
  const cv::Size mid(dst.cols * 3, dst.rows * 3);
  if (src.cols > mid.width && src.rows > mid.height) {
    cv::resize(src, mid_, mid, 0, 0, cv::INTER_NEAREST);
    cv::resize(mid_, dst, dst.size(), 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_AREA);
  }
}

double FrameAnalyzer::measure_sharpness(const cv::Mat& y) {
  const int aw = std::min(analysis_width_, y.cols);
  const int ah = std::max(2, int(std::lround(double(y.rows) * aw / y.cols)) & ~1);
  if (aw == y.cols && ah == y.rows) small_y_ = y;
  else cv::resize(y, small_y_, cv::Size(aw, ah), 0, 0, cv::INTER_NEAREST);
  cv::Laplacian(small_y_, lap_, CV_16S);
  const double n = double(lap_.total());
  const double mean = cv::sum(lap_)[0] / n;  // variance = E[x^2] - E[x]^2 (meanStdDev is 2x slower)
  return std::max(0.0, cv::norm(lap_, cv::NORM_L2SQR) / n - mean * mean);
}

FrameScores FrameAnalyzer::analyze(int64_t index, double t_s, const cv::Mat& y, const cv::Mat& u,
                                   const cv::Mat& v, bool with_sharpness) {
  FrameScores s;
  s.index = index;
  s.t_s = t_s;

  const int tw = std::min(kThumbWidth, y.cols) & ~1;
  const int th = std::max(2, int(std::lround(double(y.rows) * tw / y.cols)) & ~1);
  s.thumb.create(th, tw + tw / 2, CV_8UC1);
  cv::Mat ty = s.thumb(cv::Rect(0, 0, tw, th));
  cv::Mat tu = s.thumb(cv::Rect(tw, 0, tw / 2, th / 2));
  cv::Mat tv = s.thumb(cv::Rect(tw, th / 2, tw / 2, th / 2));
  shrink(y, ty);
  shrink(u, tu);
  shrink(v, tv);

  s.content = prev_thumb_.empty() ? 0.0 : thumb_distance(s.thumb, prev_thumb_);
  prev_thumb_ = s.thumb;
  s.sharpness = with_sharpness ? measure_sharpness(y) : -1.0;

  s.brightness = cv::mean(ty)[0];
  const double n = double(ty.total());
  s.dark_fraction = cv::countNonZero(ty < kDarkLevel) / n;
  s.bright_fraction = cv::countNonZero(ty > kBlownLevel) / n;

  cv::Mat hash_img;
  cv::resize(ty, hash_img, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
  uint64_t h = 0;
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) h = (h << 1) | (hash_img.at<uint8_t>(r, c) > hash_img.at<uint8_t>(r, c + 1) ? 1 : 0);
  s.dhash = h;
  return s;
}

}  // namespace dashloop::pipeline::vision
