#include "vision/mot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <charconv>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vision/assignment.hpp"
#include "vision/detection.hpp"

namespace dashloop::pipeline::vision {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<std::vector<MotRow>> read_mot(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + ": cannot open MOT file");
  std::vector<MotRow> rows;
  std::string line;
  int line_no = 0;
  auto fail = [&](const std::string& what) {
    return Status::InvalidArgument(path.string() + ":" + std::to_string(line_no) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::vector<std::string_view> f;
    std::string_view rest = line;
    for (size_t pos; (pos = rest.find(',')) != std::string_view::npos; rest.remove_prefix(pos + 1))
      f.push_back(rest.substr(0, pos));
    f.push_back(rest);
    if (f.size() < 6)
      return fail("expected frame,id,x,y,w,h[,conf,...], got " + std::to_string(f.size()) + " field(s)");
    MotRow row;
    double frame = 0, id = 0;
    float v[4];
    if (!parse_number(f[0], frame) || frame < 1 || frame != static_cast<int64_t>(frame))
      return fail("frame must be a whole number >= 1, got '" + std::string(trim(f[0])) + "'");
    if (!parse_number(f[1], id) || id != static_cast<int>(id))
      return fail("id must be a whole number, got '" + std::string(trim(f[1])) + "'");
    for (int i = 0; i < 4; ++i)
      if (!parse_number(f[2 + i], v[i])) return fail("box value '" + std::string(trim(f[2 + i])) + "' is not a number");
    if (v[2] < 0 || v[3] < 0) return fail("box width and height must not be negative");
    row.frame = static_cast<int64_t>(frame);
    row.id = static_cast<int>(id);
    row.box = {v[0], v[1], v[2], v[3]};
    if (f.size() > 6 && !parse_number(f[6], row.conf))
      return fail("conf '" + std::string(trim(f[6])) + "' is not a number");
    double cls = -1;
    if (f.size() > 7 && parse_number(f[7], cls)) row.class_id = static_cast<int>(cls);
    rows.push_back(row);
  }
  if (in.bad()) return Status::IOError(path.string() + ": read error");
  return rows;
}

Status write_mot(const std::filesystem::path& path, std::vector<MotRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const MotRow& a, const MotRow& b) {
    return a.frame != b.frame ? a.frame < b.frame : a.id < b.id;
  });
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IOError(path.string() + ": cannot write");
  char buf[160];
  for (const auto& r : rows) {
    const int n = std::snprintf(buf, sizeof buf, "%lld,%d,%.2f,%.2f,%.2f,%.2f,%.3f,-1,-1,-1\n",
                                static_cast<long long>(r.frame), r.id, r.box.x, r.box.y, r.box.width,
                                r.box.height, r.conf);
    out.write(buf, n);
  }
  out.flush();
  if (!out) return Status::IOError(path.string() + ": write failed (disk full?)");
  return Status::Ok();
}

std::vector<MotRow> track_rows(const std::vector<Track>& tracks, int fill_gap) {
  std::vector<MotRow> rows;
  for (const auto& t : tracks) {
    const auto& b = t.boxes;
    for (size_t i = 0; i < b.size(); ++i) {
      if (b[i].predicted) {
        size_t end = i;
        while (end < b.size() && b[end].predicted) ++end;
        if (end < b.size() && static_cast<int>(end - i) <= fill_gap)
          for (size_t k = i; k < end; ++k) rows.push_back({b[k].frame, t.id, b[k].box, 0.0f, t.class_id()});
        i = end - 1;
        continue;
      }
      rows.push_back({b[i].frame, t.id, b[i].box, b[i].score, t.class_id()});
    }
  }
  return rows;
}

Result<ScoreCalibration> calibrate_scores(std::vector<MotRow>& rows, float min_score, const std::string& method) {
  if (method != "auto" && method != "none" && method != "quantile")
    return Status::InvalidArgument("score map '" + method + "': expected auto, none or quantile");
  ScoreCalibration c;
  const size_t before = rows.size();
  std::erase_if(rows, [min_score](const MotRow& r) { return r.conf < min_score; });
  c.kept = rows.size();
  c.dropped = before - rows.size();
  if (rows.empty()) {
    c.method = "none";
    return c;
  }
  auto [lo, hi] = std::minmax_element(rows.begin(), rows.end(), [](const MotRow& a, const MotRow& b) { return a.conf < b.conf; });
  c.raw_min = lo->conf;
  c.raw_max = hi->conf;
  c.method = method == "auto" ? (c.raw_min < 0.0f || c.raw_max > 1.0f ? "quantile" : "none") : method;
  if (c.method == "none") return c;
  std::vector<float> sorted;
  for (const auto& r : rows) sorted.push_back(r.conf);
  std::sort(sorted.begin(), sorted.end());
  const double n = double(sorted.size());
  for (auto& r : rows) {
    const auto [first, last] = std::equal_range(sorted.begin(), sorted.end(), r.conf);
    const double mid_rank = (double(first - sorted.begin()) + double(last - sorted.begin())) / 2.0;  // ties share one
    r.conf = float(mid_rank / n);
  }
  return c;
}

std::string ScoreCalibration::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "scores %s (%zu rows kept, raw %.4g..%.4g; %zu under the minimum dropped)",
                method == "quantile" ? "mapped to their quantile" : "as they are", kept, double(raw_min), double(raw_max),
                dropped);
  return buf;
}

namespace {

// One step per frame from 1 to the last frame that has a row.
std::vector<TrackStep> steps_of(const std::vector<MotRow>& detections) {
  int64_t last = 0;
  for (const auto& d : detections) last = std::max(last, d.frame);
  std::vector<TrackStep> steps(static_cast<size_t>(last));
  for (int64_t f = 1; f <= last; ++f) steps[f - 1].frame = f;
  for (const auto& d : detections) steps[d.frame - 1].detections.push_back({d.box, std::max(d.class_id, 0), d.conf});
  return steps;
}

}  // namespace

std::vector<MotRow> track_mot(const std::vector<MotRow>& detections, const TrackerConfig& config, int fill_gap) {
  Tracker tracker(config);
  for (const auto& step : steps_of(detections)) tracker.update(step.frame, step.detections);
  tracker.finish();
  return track_rows(tracker.take_finished(), fill_gap);
}

std::vector<MotRow> track_mot_offline(const std::vector<MotRow>& detections, const TrackerConfig& online,
                                      const OfflineTrackerConfig& offline) {
  // Interpolated boxes are within the bound already.
  return track_rows(track_offline(steps_of(detections), online, offline), std::numeric_limits<int>::max());
}

namespace {

struct FrameRows {
  std::vector<const MotRow*> gt, pred;
};

// HOTA (Luiten et al., IJCV 2021, as TrackEval computes it): one matching per
// frame that maximises IoU weighted by how well the two ids align over the
// whole sequence; then, for each localisation threshold alpha = 0.05 ... 0.95,
// DetA = TP / (TP + FN + FP) and AssA = the mean over true positives of their
// ids' association IoU; HOTA_alpha = sqrt(DetA * AssA), averaged over alpha.
void add_hota(const std::map<int64_t, FrameRows>& frames, MotMetrics& m) {
  std::map<int, double> gt_count, pred_count;
  std::map<std::pair<int, int>, double> potential;  // (gt, pred) -> summed IoU share
  std::vector<CostMatrix> sims;
  for (const auto& [frame, rows] : frames) {
    CostMatrix sim(int(rows.gt.size()), int(rows.pred.size()), 0.0f);
    std::vector<double> row_sum(rows.gt.size(), 0.0), col_sum(rows.pred.size(), 0.0);
    for (size_t i = 0; i < rows.gt.size(); ++i)
      for (size_t j = 0; j < rows.pred.size(); ++j) {
        const float v = iou(rows.gt[i]->box, rows.pred[j]->box);
        sim.at(int(i), int(j)) = v;
        row_sum[i] += v;
        col_sum[j] += v;
      }
    for (size_t i = 0; i < rows.gt.size(); ++i)
      for (size_t j = 0; j < rows.pred.size(); ++j)
        if (const double v = sim.at(int(i), int(j)); v > 0)
          potential[{rows.gt[i]->id, rows.pred[j]->id}] += v / (row_sum[i] + col_sum[j] - v);
    for (const auto* g : rows.gt) ++gt_count[g->id];
    for (const auto* p : rows.pred) ++pred_count[p->id];
    sims.push_back(std::move(sim));
  }
  auto alignment = [&](int g, int p) {
    auto it = potential.find({g, p});
    return it == potential.end() ? 0.0 : it->second / (gt_count[g] + pred_count[p] - it->second);
  };
  constexpr int kAlphas = 19;
  std::array<double, kAlphas> tp{}, fn{}, fp{};
  std::array<std::map<std::pair<int, int>, double>, kAlphas> matched;  // (gt, pred) -> matched frames
  size_t k = 0;
  for (const auto& [frame, rows] : frames) {
    const CostMatrix& sim = sims[k++];
    CostMatrix cost(sim.rows, sim.cols, std::numeric_limits<float>::infinity());
    for (int i = 0; i < sim.rows; ++i)
      for (int j = 0; j < sim.cols; ++j)
        if (sim.at(i, j) > 0) cost.at(i, j) = -float(alignment(rows.gt[i]->id, rows.pred[j]->id) * sim.at(i, j));
    const auto pairs = solve_assignment(cost, 0.0f);
    for (int a = 0; a < kAlphas; ++a) {
      const float alpha = 0.05f * float(a + 1);
      double hits = 0;
      for (const auto& mt : pairs)
        if (sim.at(mt.row, mt.col) >= alpha - 1e-6f) {
          ++hits;
          ++matched[a][{rows.gt[mt.row]->id, rows.pred[mt.col]->id}];
        }
      tp[a] += hits;
      fn[a] += double(rows.gt.size()) - hits;
      fp[a] += double(rows.pred.size()) - hits;
    }
  }
  double hota = 0, deta = 0, assa = 0;
  for (int a = 0; a < kAlphas; ++a) {
    double ass = 0;
    for (const auto& [ids, n] : matched[a]) ass += n * n / (gt_count[ids.first] + pred_count[ids.second] - n);
    const double d = tp[a] + fn[a] + fp[a] > 0 ? tp[a] / (tp[a] + fn[a] + fp[a]) : 0.0;
    const double s = tp[a] > 0 ? ass / tp[a] : 0.0;
    deta += d / kAlphas;
    assa += s / kAlphas;
    hota += std::sqrt(d * s) / kAlphas;
  }
  m.hota = hota;
  m.deta = deta;
  m.assa = assa;
}

}  // namespace

MotMetrics evaluate_mot(const std::vector<MotRow>& gt_rows, const std::vector<MotRow>& pred_rows, float min_iou) {
  std::map<int64_t, FrameRows> frames;
  for (const auto& r : gt_rows)
    if (r.conf != 0.0f) frames[r.frame].gt.push_back(&r);
  for (const auto& r : pred_rows) frames[r.frame].pred.push_back(&r);

  MotMetrics m;
  std::unordered_map<int, int> last_match;  // gt id -> track id it matched last
  std::map<std::pair<int, int>, int64_t> agree;  // (gt id, track id) -> frames with IoU >= min_iou
  std::set<int> gt_ids, pred_ids;
  double iou_sum = 0;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  // Weight per match far above any cost sum: most matches first, then least cost.
  constexpr float kMatchWeight = 1e4f;

  for (const auto& [frame, rows] : frames) {
    const auto& gts = rows.gt;
    const auto& preds = rows.pred;
    m.gt += static_cast<int64_t>(gts.size());
    m.predicted += static_cast<int64_t>(preds.size());
    for (const auto* g : gts) gt_ids.insert(g->id);
    for (const auto* p : preds) pred_ids.insert(p->id);

    CostMatrix iou_m(static_cast<int>(gts.size()), static_cast<int>(preds.size()), 0.0f);
    for (size_t i = 0; i < gts.size(); ++i)
      for (size_t j = 0; j < preds.size(); ++j) {
        const float v = iou(gts[i]->box, preds[j]->box);
        iou_m.at(static_cast<int>(i), static_cast<int>(j)) = v;
        if (v >= min_iou) ++agree[{gts[i]->id, preds[j]->id}];
      }

    std::vector<int> match_of_gt(gts.size(), -1);
    std::vector<char> pred_used(preds.size(), 0);
    // Keep last frame's correspondences that still hold.
    for (size_t i = 0; i < gts.size(); ++i) {
      auto lm = last_match.find(gts[i]->id);
      if (lm == last_match.end()) continue;
      for (size_t j = 0; j < preds.size(); ++j)
        if (!pred_used[j] && preds[j]->id == lm->second && iou_m.at(static_cast<int>(i), static_cast<int>(j)) >= min_iou) {
          match_of_gt[i] = static_cast<int>(j);
          pred_used[j] = 1;
          break;
        }
    }
    std::vector<int> free_gt, free_pred;
    for (size_t i = 0; i < gts.size(); ++i)
      if (match_of_gt[i] < 0) free_gt.push_back(static_cast<int>(i));
    for (size_t j = 0; j < preds.size(); ++j)
      if (!pred_used[j]) free_pred.push_back(static_cast<int>(j));
    CostMatrix cost(static_cast<int>(free_gt.size()), static_cast<int>(free_pred.size()), kInf);
    for (size_t a = 0; a < free_gt.size(); ++a)
      for (size_t b = 0; b < free_pred.size(); ++b) {
        const float v = iou_m.at(free_gt[a], free_pred[b]);
        if (v >= min_iou) cost.at(static_cast<int>(a), static_cast<int>(b)) = 1.0f - v;
      }
    for (const auto& mt : solve_assignment(cost, kMatchWeight)) {
      match_of_gt[free_gt[mt.row]] = free_pred[mt.col];
      pred_used[free_pred[mt.col]] = 1;
    }

    for (size_t i = 0; i < gts.size(); ++i) {
      const int j = match_of_gt[i];
      if (j < 0) {
        ++m.misses;
        continue;
      }
      ++m.matches;
      iou_sum += iou_m.at(static_cast<int>(i), j);
      auto [it, inserted] = last_match.try_emplace(gts[i]->id, preds[j]->id);
      if (!inserted && it->second != preds[j]->id) {
        ++m.id_switches;
        it->second = preds[j]->id;
      }
    }
    for (size_t j = 0; j < preds.size(); ++j)
      if (!pred_used[j]) ++m.false_positives;
  }

  // Identity: one-to-one ids maximising the frames they agree on.
  std::unordered_map<int, int> gt_index, pred_index;
  for (int id : gt_ids) gt_index.emplace(id, static_cast<int>(gt_index.size()));
  for (int id : pred_ids) pred_index.emplace(id, static_cast<int>(pred_index.size()));
  CostMatrix id_cost(static_cast<int>(gt_ids.size()), static_cast<int>(pred_ids.size()), 0.0f);
  for (const auto& [pair, n] : agree)
    id_cost.at(gt_index[pair.first], pred_index[pair.second]) = -static_cast<float>(n);
  for (const auto& mt : solve_assignment(id_cost, 0.0f)) m.idtp += static_cast<int64_t>(-id_cost.at(mt.row, mt.col));

  m.gt_ids = static_cast<int>(gt_ids.size());
  m.predicted_ids = static_cast<int>(pred_ids.size());
  m.idfn = m.gt - m.idtp;
  m.idfp = m.predicted - m.idtp;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  m.mota = m.gt > 0 ? 1.0 - static_cast<double>(m.misses + m.false_positives + m.id_switches) / m.gt : 0.0;
  m.motp = ratio(iou_sum, static_cast<double>(m.matches));
  m.idf1 = ratio(2.0 * m.idtp, static_cast<double>(m.gt + m.predicted));
  m.idp = ratio(m.idtp, m.predicted);
  m.idr = ratio(m.idtp, m.gt);
  m.precision = ratio(m.matches, m.predicted);
  m.recall = ratio(m.matches, m.gt);
  add_hota(frames, m);
  return m;
}

}  // namespace dashloop::pipeline::vision
