// Tiling: small, far objects vanish when a 1080p frame is squeezed into a
// 416 px network input. The frame is also cut into overlapping tiles, each
// detected at the same input size (a tile is shrunk far less), and the boxes
// are merged: the whole-frame pass keeps large objects whole, the tiles add
// the small ones. A box cut by a tile's inner edge is only part of an object:
// it merges into the box it overlaps (their union), never stands beside it.
#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>

#include "vision/detectors/family.hpp"

namespace dashloop::pipeline::vision::detectors {
namespace {

struct Piece {
  Detection d;
  bool cut = false;  // touches a tile edge that is not the frame's
};

// Intersection over the smaller box: a part inside its whole scores 1.
float overlap_of_smaller(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float smaller = std::min(a.area(), b.area());
  return smaller > 0.0f ? (a & b).area() / smaller : 0.0f;
}

class TiledDetector final : public Detector {
 public:
  TiledDetector(std::unique_ptr<Detector> inner, int columns, float overlap, float nms_iou)
      : inner_(std::move(inner)), columns_(columns), overlap_(overlap), nms_iou_(nms_iou) {}

  Result<std::vector<Detection>> detect(const cv::Mat& bgr) override {
    std::vector<Piece> pieces;
    auto whole = inner_->detect(bgr);
    if (!whole.ok()) return whole.status();
    for (const auto& d : *whole) pieces.push_back({d, false});
    for (const cv::Rect& tile : tiles(bgr.size())) {
      auto found = inner_->detect(bgr(tile));
      if (!found.ok()) return found.status();
      for (auto d : *found) {
        d.box.x += float(tile.x);
        d.box.y += float(tile.y);
        constexpr float kEdge = 2.0f;  // px: a box this close to an inner edge was cut by it
        const bool cut = (tile.x > 0 && d.box.x <= float(tile.x) + kEdge) ||
                         (tile.y > 0 && d.box.y <= float(tile.y) + kEdge) ||
                         (tile.br().x < bgr.cols && d.box.br().x >= float(tile.br().x) - kEdge) ||
                         (tile.br().y < bgr.rows && d.box.br().y >= float(tile.br().y) - kEdge);
        pieces.push_back({d, cut});
      }
    }
    return merge(std::move(pieces));
  }
  const std::vector<std::string>& labels() const override { return inner_->labels(); }
  std::string describe() const override {
    return inner_->describe() + " + " + std::to_string(columns_) + " tiles across, " +
           std::to_string(int(overlap_ * 100.0f + 0.5f)) + "% overlap";
  }

 private:
  // `columns_` tiles across, overlapping by `overlap_`; as many rows as keep
  // them nearest to square (the network's input is).
  std::vector<cv::Rect> tiles(cv::Size frame) const {
    const double step = 1.0 - overlap_;
    const int w = int(frame.width / (1.0 + step * (columns_ - 1)) + 0.5);
    const int rows = std::max(1, int(std::lround((double(frame.height) / w - 1.0) / step + 1.0)));
    const int h = rows == 1 ? frame.height : int(frame.height / (1.0 + step * (rows - 1)) + 0.5);
    std::vector<cv::Rect> out;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < columns_; ++c) {
        const int x = c == columns_ - 1 ? frame.width - w : int(c * w * step);
        const int y = r == rows - 1 ? frame.height - h : int(r * h * step);
        out.emplace_back(x, y, w, h);
      }
    return out;
  }

  // Greedy by score within a class: a box that matches a kept one (IoU over
  // nms_iou, or mostly inside it) is dropped, or grows it when one of the two
  // is a tile-cut part.
  std::vector<Detection> merge(std::vector<Piece> pieces) const {
    std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.d.score > b.d.score; });
    std::vector<Piece> kept;
    for (const auto& p : pieces) {
      auto same = std::find_if(kept.begin(), kept.end(), [&](const Piece& k) {
        return k.d.class_id == p.d.class_id &&
               (iou(k.d.box, p.d.box) > nms_iou_ || overlap_of_smaller(k.d.box, p.d.box) > 0.7f);
      });
      if (same == kept.end()) {
        kept.push_back(p);
      } else if (same->cut || p.cut) {
        same->d.box |= p.d.box;
        same->cut = same->cut && p.cut;
      }
    }
    std::vector<Detection> out;
    for (const auto& k : kept) out.push_back(k.d);
    return out;
  }

  std::unique_ptr<Detector> inner_;
  int columns_;
  float overlap_;
  float nms_iou_;
};

}  // namespace

std::unique_ptr<Detector> make_tiled(std::unique_ptr<Detector> inner, const DetectorConfig& config) {
  return std::make_unique<TiledDetector>(std::move(inner), config.tiles, config.tile_overlap, config.nms_iou);
}

}  // namespace dashloop::pipeline::vision::detectors
