#include "vision/box_kalman.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>  // Matx::inv

namespace dashloop::pipeline::vision {
namespace {

// ByteTrack's weights, per step, relative to the box size.
constexpr float kPositionWeight = 1.0f / 20.0f;
constexpr float kVelocityWeight = 1.0f / 160.0f;

float sq(float v) { return v * v; }

}  // namespace

BoxKalman::BoxKalman(const cv::Rect2f& b) {
  const float w = std::max(b.width, 1.0f), h = std::max(b.height, 1.0f);
  x_ = State(b.x + b.width / 2, b.y + b.height / 2, w, h, 0, 0, 0, 0);
  const float sizes[4] = {w, h, w, h};
  p_ = Cov::zeros();
  for (int i = 0; i < 4; ++i) {
    p_(i, i) = sq(2 * kPositionWeight * sizes[i]);
    p_(i + 4, i + 4) = sq(10 * kVelocityWeight * sizes[i]);
  }
}

void BoxKalman::predict() {
  const float w = x_(2), h = x_(3);
  const float sizes[4] = {w, h, w, h};
  // x = F x with F = [I I; 0 I]; P = F P F^T + Q, written out for the block form.
  for (int i = 0; i < 4; ++i) x_(i) += x_(i + 4);
  Cov fp = p_;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) fp(i, j) += p_(i + 4, j);
  Cov fpf = fp;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) fpf(i, j) += fp(i, j + 4);
  for (int i = 0; i < 4; ++i) {
    fpf(i, i) += sq(kPositionWeight * sizes[i]);
    fpf(i + 4, i + 4) += sq(kVelocityWeight * sizes[i]);
  }
  p_ = fpf;
  x_(2) = std::max(x_(2), 1.0f);
  x_(3) = std::max(x_(3), 1.0f);
}

void BoxKalman::correct(const cv::Rect2f& b) {
  const cv::Vec4f z(b.x + b.width / 2, b.y + b.height / 2, b.width, b.height);
  const float w = x_(2), h = x_(3);
  const float sizes[4] = {w, h, w, h};
  // H = [I 0]: S = P[0:4,0:4] + R, K = P[:,0:4] S^-1.
  cv::Matx44f s = p_.get_minor<4, 4>(0, 0);
  for (int i = 0; i < 4; ++i) s(i, i) += sq(kPositionWeight * sizes[i]);
  const cv::Matx<float, 8, 4> pht = p_.get_minor<8, 4>(0, 0);
  const cv::Matx<float, 8, 4> k = pht * s.inv(cv::DECOMP_CHOLESKY);
  cv::Vec4f innovation;
  for (int i = 0; i < 4; ++i) innovation(i) = z(i) - x_(i);
  x_ += k * cv::Matx41f(innovation);
  // P = P - K H P, where H P is P's first four rows.
  p_ -= k * p_.get_minor<4, 8>(0, 0);
  x_(2) = std::max(x_(2), 1.0f);
  x_(3) = std::max(x_(3), 1.0f);
}

void BoxKalman::warp(const cv::Matx23f& m) {
  const cv::Matx22f a(m(0, 0), m(0, 1), m(1, 0), m(1, 1));
  // Each pair (cx,cy), (w,h), (vx,vy), (vw,vh) turns with A; the centre also moves by t.
  Cov r = Cov::zeros();
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) r(2 * b + i, 2 * b + j) = a(i, j);
  // The state is ordered (cx, cy, w, h, vx, vy, vw, vh), so pairs are adjacent.
  x_ = r * x_;
  x_(0) += m(0, 2);
  x_(1) += m(1, 2);
  // w and h are sizes, not a vector: keep them positive under a small rotation.
  x_(2) = std::max(std::abs(x_(2)), 1.0f);
  x_(3) = std::max(std::abs(x_(3)), 1.0f);
  p_ = r * p_ * r.t();
}

cv::Rect2f BoxKalman::box() const {
  return {x_(0) - x_(2) / 2, x_(1) - x_(3) / 2, x_(2), x_(3)};
}

}  // namespace dashloop::pipeline::vision
