#!/usr/bin/python3
"""Plain SORT (Bewley et al., "Simple Online and Realtime Tracking", ICIP
2016), the baseline `dashloop track` is measured against: one constant-velocity
Kalman filter per track on (centre x, centre y, area, aspect ratio), detections
matched to the predictions by the Hungarian method on IoU (a match needs IoU >=
0.3), a track reported once it has 3 hits in a row (or in the first 3 frames)
and dropped after 1 frame without a match. Written here from the paper.

  sort_reference.py DET OUT [--min-score S]   MOTChallenge rows in and out"""
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

MAX_AGE, MIN_HITS, IOU_MIN = 1, 3, 0.3


def to_z(b):  # x, y, w, h -> centre x, centre y, area, aspect
    return np.array([b[0] + b[2] / 2, b[1] + b[3] / 2, b[2] * b[3], b[2] / b[3]])


def to_box(x):
    w = np.sqrt(max(x[2], 1e-6) * x[3])
    h = max(x[2], 1e-6) / w
    return [x[0] - w / 2, x[1] - h / 2, w, h]


def iou(a, b):
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - w * h
    return w * h / union if union > 0 else 0.0


class Track:
    F = np.eye(7)
    F[0, 4] = F[1, 5] = F[2, 6] = 1
    H = np.eye(4, 7)
    R = np.diag([1.0, 1.0, 10.0, 10.0])
    Q = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 0.0001])

    def __init__(self, box, track_id):
        self.x = np.zeros(7)
        self.x[:4] = to_z(box)
        self.P = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
        self.id, self.hit_streak, self.since_update = track_id, 0, 0

    def predict(self):
        if self.x[2] + self.x[6] <= 0:
            self.x[6] = 0
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        if self.since_update > 0:
            self.hit_streak = 0
        self.since_update += 1
        return to_box(self.x)

    def update(self, box):
        y = to_z(box) - self.H @ self.x
        S = self.H @ self.P @ self.H.T + self.R
        K = self.P @ self.H.T @ np.linalg.inv(S)
        self.x = self.x + K @ y
        self.P = (np.eye(7) - K @ self.H) @ self.P
        self.since_update = 0
        self.hit_streak += 1


def main():
    min_score = float(sys.argv[sys.argv.index("--min-score") + 1]) if "--min-score" in sys.argv else -np.inf
    dets = {}
    for line in open(sys.argv[1]):
        f = line.strip().split(",")
        if len(f) >= 7 and float(f[6]) >= min_score:
            dets.setdefault(int(float(f[0])), []).append([float(v) for v in f[2:6]])
    tracks, next_id, out = [], 1, []
    for frame in range(1, max(dets, default=0) + 1):
        boxes = dets.get(frame, [])
        predicted = [t.predict() for t in tracks]
        keep = [i for i, p in enumerate(predicted) if np.all(np.isfinite(p))]
        tracks, predicted = [tracks[i] for i in keep], [predicted[i] for i in keep]
        matched_t, matched_d = set(), set()
        if boxes and tracks:
            ious = np.array([[iou(d, p) for p in predicted] for d in boxes])
            for d, t in zip(*linear_sum_assignment(-ious)):
                if ious[d, t] >= IOU_MIN:
                    tracks[t].update(boxes[d])
                    matched_t.add(t)
                    matched_d.add(d)
        for d, box in enumerate(boxes):
            if d not in matched_d:
                tracks.append(Track(box, next_id))
                next_id += 1
        for t in tracks:
            if t.since_update < 1 and (t.hit_streak >= MIN_HITS or frame <= MIN_HITS):
                out.append((frame, t.id, *to_box(t.x)))
        tracks = [t for t in tracks if t.since_update <= MAX_AGE]
    with open(sys.argv[2], "w") as f:
        for frame, tid, x, y, w, h in out:
            f.write(f"{frame},{tid},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,-1,-1,-1\n")


if __name__ == "__main__":
    main()
