// MOTChallenge text files and the standard MOT metrics.
//
// Files: one box per line, `frame,id,x,y,w,h,conf[,class,visibility,...]`,
// 1-based frames, pixels, comma-separated (detections carry id -1).
// Metrics: CLEAR-MOT (MOTA, MOTP, ID switches, FP, FN) and identity metrics
// (IDF1, IDP, IDR), boxes matched at IoU >= 0.5 as MOTChallenge does:
//  * per frame, a ground-truth object keeps the track it matched last frame
//    while their IoU stays >= 0.5; the others are matched by the Hungarian
//    method (most matches, then the least total 1 - IoU);
//  * an ID switch is a ground-truth object matched to a different track than
//    the one it matched last (gaps in between do not reset this);
//  * MOTP is the mean IoU of the matches (TrackEval's convention; py-motmetrics
//    reports 1 - this);
//  * IDF1 matches whole ground-truth ids to whole track ids (one to one) to
//    maximise the frames where they agree;
//  * HOTA, DetA and AssA as TrackEval computes them (averaged over the 19
//    localisation thresholds 0.05 ... 0.95; their own matching, not the above).
// A ground-truth line with conf 0 is ignored, as MOTChallenge marks boxes
// not to be scored; distractor classes are not filtered.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "status.hpp"
#include "vision/offline_tracker.hpp"
#include "vision/tracker.hpp"

namespace dashloop::pipeline::vision {

struct MotRow {
  int64_t frame = 0;  // 1-based
  int id = -1;
  cv::Rect2f box;
  float conf = 1.0f;
  int class_id = -1;  // column 8 where present, else -1
};

// Errors name the file and the line ("det.txt:12: expected ...").
Result<std::vector<MotRow>> read_mot(const std::filesystem::path& path);
// frame,id,x,y,w,h,conf,-1,-1,-1 sorted by frame then id.
Status write_mot(const std::filesystem::path& path, std::vector<MotRow> rows);

struct MotMetrics {
  double mota = 0, motp = 0, idf1 = 0, idp = 0, idr = 0, precision = 0, recall = 0;
  double hota = 0, deta = 0, assa = 0;
  int64_t gt = 0, predicted = 0, matches = 0, false_positives = 0, misses = 0, id_switches = 0;
  int64_t idtp = 0, idfp = 0, idfn = 0;
  int gt_ids = 0, predicted_ids = 0;
};

// Scores that are not probabilities (an SVM margin, the ACF or DPM scores
// of MOTChallenge files, some above 1, some below 0) mean nothing to the
// tracker's thresholds. "quantile" puts each score at its mid-rank among all
// the file's scores (0.5 is the median detection), so high_score = 0.5 means
// "the better half" on any scale; "none" keeps them as they are (thresholds
// in the detector's own units, above 1 where it needs); "auto" is quantile
// when any score lies outside [0, 1], else none. Rows under `min_score` (the
// detector's own units) are dropped first.
struct ScoreCalibration {
  std::string method;  // "none" or "quantile", as applied
  size_t kept = 0, dropped = 0;
  float raw_min = 0, raw_max = 0;  // of the kept rows, before the mapping
  std::string describe() const;
};
Result<ScoreCalibration> calibrate_scores(std::vector<MotRow>& rows, float min_score, const std::string& method);

// Result rows of finished tracks: their matched boxes, plus the predicted
// boxes of gaps of at most `fill_gap` steps between two matches (a missed
// detection or two; longer gaps are occlusions and stay empty).
std::vector<MotRow> track_rows(const std::vector<Track>& tracks, int fill_gap);

// The tracker over MOTChallenge detections, one step per frame from 1 to the
// last frame that has a row; rows under `TrackerConfig::low_score` are ignored.
std::vector<MotRow> track_mot(const std::vector<MotRow>& detections, const TrackerConfig& config, int fill_gap);
// The offline tracker over the same (vision/offline_tracker.hpp): the whole
// file is known, so each track uses its future too; its gaps are filled as
// `offline.fill_gap` says.
std::vector<MotRow> track_mot_offline(const std::vector<MotRow>& detections, const TrackerConfig& online,
                                      const OfflineTrackerConfig& offline);

MotMetrics evaluate_mot(const std::vector<MotRow>& gt, const std::vector<MotRow>& predicted,
                        float min_iou = 0.5f);

}  // namespace dashloop::pipeline::vision
