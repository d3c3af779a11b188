#include "vision/assignment.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

namespace dashloop::pipeline::vision {
namespace {

// Hungarian method on a dense n x m matrix, n <= m (e-maxx formulation with
// potentials, 1-based inside). Returns for each row the column it takes.
std::vector<int> hungarian(const std::vector<double>& a, int n, int m) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), minv(m + 1);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = p[j0];
      double delta = kInf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = a[static_cast<size_t>(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) minv[j] = cur, way[j] = j0;
        if (minv[j] < delta) delta = minv[j], j1 = j;
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) u[p[j]] += delta, v[j] -= delta;
        else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> col_of_row(n, -1);
  for (int j = 1; j <= m; ++j)
    if (p[j] != 0) col_of_row[p[j] - 1] = j - 1;
  return col_of_row;
}

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

}  // namespace

std::vector<Match> solve_assignment(const CostMatrix& m, float max_cost) {
  std::vector<Match> out;
  if (m.rows == 0 || m.cols == 0) return out;

  // Union-find over rows [0, rows) and columns [rows, rows + cols).
  std::vector<int> parent(m.rows + m.cols);
  std::iota(parent.begin(), parent.end(), 0);
  for (int r = 0; r < m.rows; ++r)
    for (int c = 0; c < m.cols; ++c)
      if (m.at(r, c) < max_cost) parent[find_root(parent, r)] = find_root(parent, m.rows + c);

  std::vector<std::vector<int>> group_rows(m.rows + m.cols), group_cols(m.rows + m.cols);
  for (int r = 0; r < m.rows; ++r) group_rows[find_root(parent, r)].push_back(r);
  for (int c = 0; c < m.cols; ++c) group_cols[find_root(parent, m.rows + c)].push_back(c);

  std::vector<double> dense;
  for (size_t g = 0; g < group_rows.size(); ++g) {
    const auto& rows = group_rows[g];
    const auto& cols = group_cols[g];
    if (rows.empty() || cols.empty()) continue;
    if (rows.size() == 1 && cols.size() == 1) {  // the common case: one track, one detection
      out.push_back({rows[0], cols[0]});
      continue;
    }
    // Weight of a pair = max_cost - cost (> 0 when feasible); minimise its
    // negative, with 0 for infeasible pairs, which is the same as unmatched.
    const bool transpose = rows.size() > cols.size();
    const int n = static_cast<int>(transpose ? cols.size() : rows.size());
    const int k = static_cast<int>(transpose ? rows.size() : cols.size());
    dense.assign(static_cast<size_t>(n) * k, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < k; ++j) {
        const int r = transpose ? rows[j] : rows[i];
        const int c = transpose ? cols[i] : cols[j];
        const float cost = m.at(r, c);
        if (cost < max_cost) dense[static_cast<size_t>(i) * k + j] = static_cast<double>(cost) - max_cost;
      }
    const auto assigned = hungarian(dense, n, k);
    for (int i = 0; i < n; ++i) {
      const int j = assigned[i];
      if (j < 0) continue;
      const int r = transpose ? rows[j] : rows[i];
      const int c = transpose ? cols[i] : cols[j];
      if (m.at(r, c) < max_cost) out.push_back({r, c});
    }
  }
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.row < b.row; });
  return out;
}

}  // namespace dashloop::pipeline::vision
