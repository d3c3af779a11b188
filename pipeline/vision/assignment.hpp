// Optimal assignment with a cost limit: the matching the tracker and the MOT
// metrics both need.
//
// Among pairs whose cost is below `max_cost`, choose the set (each row and
// each column at most once) that maximises the sum of (max_cost - cost): a
// pair is taken only when it is worth more than leaving both ends unmatched,
// as lapjv with `cost_limit` does in ByteTrack. The matrix is first split
// into the connected groups of feasible pairs; each group is solved exactly
// with the Hungarian method (shortest augmenting paths, O(n^2 m)). Tracking
// matrices gated by IoU fall apart into groups of one to three, so a frame
// with 50 objects costs microseconds, not a 50x50 solve.
#pragma once

#include <cstddef>
#include <vector>

namespace dashloop::pipeline::vision {

struct CostMatrix {
  int rows = 0;
  int cols = 0;
  std::vector<float> cost;  // row-major, rows * cols

  CostMatrix() = default;
  CostMatrix(int r, int c, float fill) : rows(r), cols(c), cost(static_cast<std::size_t>(r) * c, fill) {}
  float& at(int r, int c) { return cost[static_cast<std::size_t>(r) * cols + c]; }
  float at(int r, int c) const { return cost[static_cast<std::size_t>(r) * cols + c]; }
};

struct Match {
  int row = 0;
  int col = 0;
  friend bool operator==(const Match&, const Match&) = default;
};

// Matches sorted by row.
std::vector<Match> solve_assignment(const CostMatrix& m, float max_cost);

}  // namespace dashloop::pipeline::vision
