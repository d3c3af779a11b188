#!/usr/bin/python3
"""Detection recall and precision against MOTChallenge ground truth, at IoU 0.5:

  det_eval.py GT DET [--class person|car] [--min-visibility 0.5] [--min-score S]   prints JSON

GT rows: frame, id, x, y, w, h, consider, class, visibility (MOT17). For
`person`, boxes of class 1 (pedestrian) with consider = 1 and visibility at
or above the floor are to be found; the other person-like classes (2 on a
vehicle, 7 static, 8 distractor, 12 reflection) and less visible pedestrians
are ignored: a detection matching one is neither a hit nor a false positive.
For `car`, class 3 is to be found and nothing else is ignored (MOT17 labels
cars only where they matter, so car precision is not measured: only recall).
Each frame: detections matched one to one to the boxes to find (Hungarian
on IoU, pairs under 0.5 not allowed), then the rest to the ignored boxes."""
import collections
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def iou(a, b):
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    u = a[2] * a[3] + b[2] * b[3] - w * h
    return w * h / u if u > 0 else 0.0


def match(dets, boxes):
    if not dets or not boxes:
        return set()
    m = np.array([[iou(d, b) for b in boxes] for d in dets])
    rows, cols = linear_sum_assignment(-m)
    return {r for r, c in zip(rows, cols) if m[r, c] >= 0.5}


def main():
    cls = arg("--class", "person")
    vis_floor = arg("--min-visibility", 0.5)
    min_score = arg("--min-score", -1e9)
    find, ignore, frames = collections.defaultdict(list), collections.defaultdict(list), set()
    for line in open(sys.argv[1]):
        f = line.strip().split(",")
        if len(f) < 9:
            continue
        frame, box, consider, c, vis = int(f[0]), list(map(float, f[2:6])), int(float(f[6])), int(float(f[7])), float(f[8])
        frames.add(frame)
        if cls == "person":
            if c == 1 and consider == 1 and vis >= vis_floor:
                find[frame].append(box)
            elif c in (1, 2, 7, 8, 12):
                ignore[frame].append(box)
        elif c == 3:
            find[frame].append(box)
    dets = collections.defaultdict(list)
    for line in open(sys.argv[2]):
        f = line.strip().split(",")
        if len(f) >= 7 and int(float(f[0])) in frames and float(f[6]) >= min_score:
            dets[int(float(f[0]))].append(list(map(float, f[2:6])))
    hits = fp = total = 0
    for frame in sorted(frames):
        d, g = dets.get(frame, []), find.get(frame, [])
        total += len(g)
        found = match(d, g)
        hits += len(found)
        rest = [x for i, x in enumerate(d) if i not in found]
        fp += len(rest) - len(match(rest, ignore.get(frame, [])))
    out = {"class": cls, "to_find": total, "found": hits, "false_positives": fp,
           "recall": hits / total if total else 0.0, "precision": hits / (hits + fp) if hits + fp else 0.0}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
