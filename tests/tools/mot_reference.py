#!/usr/bin/python3
"""An independent reference for `dashloop eval-mot`, in the manner of
py-motmetrics (which cannot be installed here: no PyPI), with SciPy's
linear_sum_assignment in place of our Hungarian code:

  per frame, keep last frame's match while IoU >= 0.5; match the rest with
  linear_sum_assignment on 1 - IoU (infeasible pairs priced out); a switch
  is a match to another track than the object's last one. IDF1: one-to-one
  id matching that maximises the frames two ids agree on.

  HOTA as TrackEval defines it: per frame, one matching maximising IoU times
  the two ids' global alignment; per alpha in 0.05..0.95, DetA and AssA;
  HOTA = mean over alpha of sqrt(DetA * AssA).

  mot_reference.py GT RES   prints JSON: matches, fp, fn, idsw, idtp, mota, idf1, hota, deta, assa"""
import collections
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def load(path):
    frames = collections.defaultdict(list)
    for line in open(path):
        f = line.strip().split(",")
        if len(f) < 6:
            continue
        conf = float(f[6]) if len(f) > 6 else 1.0
        if path == sys.argv[1] and conf == 0:
            continue
        frames[int(float(f[0]))].append((int(float(f[1])), *map(float, f[2:6])))
    return frames


def iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def hota(gt, res):
    frames = sorted(set(gt) | set(res))
    gt_n, res_n, potential, sims = collections.Counter(), collections.Counter(), collections.Counter(), {}
    for f in frames:
        g, r = gt.get(f, []), res.get(f, [])
        sim = np.array([[iou(o[1:], h[1:]) for h in r] for o in g]).reshape(len(g), len(r))
        denom = sim.sum(axis=1, keepdims=True) + sim.sum(axis=0, keepdims=True) - sim
        share = np.divide(sim, denom, out=np.zeros_like(sim), where=denom > 0)
        for i, o in enumerate(g):
            for j, h in enumerate(r):
                potential[(o[0], h[0])] += share[i, j]
        gt_n.update(o[0] for o in g)
        res_n.update(h[0] for h in r)
        sims[f] = sim
    alphas = np.arange(0.05, 0.99, 0.05)
    tp, fn, fp = np.zeros(len(alphas)), np.zeros(len(alphas)), np.zeros(len(alphas))
    matched = [collections.Counter() for _ in alphas]
    for f in frames:
        g, r, sim = gt.get(f, []), res.get(f, []), sims[f]
        if g and r:
            align = np.array([[potential[(o[0], h[0])] / (gt_n[o[0]] + res_n[h[0]] - potential[(o[0], h[0])])
                               for h in r] for o in g])
            rows, cols = linear_sum_assignment(-(align * sim))
        else:
            rows, cols = [], []
        for a, alpha in enumerate(alphas):
            hits = [(i, j) for i, j in zip(rows, cols) if sim[i, j] >= alpha - 1e-6]
            tp[a] += len(hits)
            fn[a] += len(g) - len(hits)
            fp[a] += len(r) - len(hits)
            for i, j in hits:
                matched[a][(g[i][0], r[j][0])] += 1
    deta = tp / np.maximum(1, tp + fn + fp)
    assa = np.array([sum(n * n / (gt_n[o] + res_n[h] - n) for (o, h), n in matched[a].items()) / max(1, tp[a])
                     for a in range(len(alphas))])
    return float(np.mean(np.sqrt(deta * assa))), float(np.mean(deta)), float(np.mean(assa))


def main():
    gt, res = load(sys.argv[1]), load(sys.argv[2])
    last = {}
    matches = fp = fn = idsw = 0
    agree = collections.Counter()
    n_gt = n_res = 0
    gt_ids, res_ids = set(), set()
    for frame in sorted(set(gt) | set(res)):
        g, r = gt.get(frame, []), res.get(frame, [])
        n_gt += len(g)
        n_res += len(r)
        gt_ids.update(o[0] for o in g)
        res_ids.update(h[0] for h in r)
        ious = np.array([[iou(o[1:], h[1:]) for h in r] for o in g]).reshape(len(g), len(r))
        for i in range(len(g)):
            for j in range(len(r)):
                if ious[i, j] >= 0.5:
                    agree[(g[i][0], r[j][0])] += 1
        pairs = {}
        used = set()
        for i, o in enumerate(g):
            if o[0] in last:
                for j, h in enumerate(r):
                    if j not in used and h[0] == last[o[0]] and ious[i, j] >= 0.5:
                        pairs[i] = j
                        used.add(j)
                        break
        free_g = [i for i in range(len(g)) if i not in pairs]
        free_r = [j for j in range(len(r)) if j not in used]
        if free_g and free_r:
            cost = np.array([[1.0 - ious[i, j] if ious[i, j] >= 0.5 else 1e6 for j in free_r] for i in free_g])
            rows, cols = linear_sum_assignment(cost)
            for a, b in zip(rows, cols):
                if cost[a, b] < 1e6:
                    pairs[free_g[a]] = free_r[b]
                    used.add(free_r[b])
        for i, o in enumerate(g):
            if i not in pairs:
                fn += 1
                continue
            matches += 1
            h = r[pairs[i]][0]
            if o[0] in last and last[o[0]] != h:
                idsw += 1
            last[o[0]] = h
        fp += len(r) - len(used)
    gl, rl = sorted(gt_ids), sorted(res_ids)
    gi, ri = {v: k for k, v in enumerate(gl)}, {v: k for k, v in enumerate(rl)}
    weight = np.zeros((len(gl), len(rl)))
    for (o, h), n in agree.items():
        weight[gi[o], ri[h]] = n
    rows, cols = linear_sum_assignment(-weight) if weight.size else ([], [])
    idtp = int(sum(weight[a, b] for a, b in zip(rows, cols)))
    h, deta, assa = hota(gt, res)
    print(json.dumps({"matches": matches, "false_positives": fp, "false_negatives": fn, "id_switches": idsw,
                      "idtp": idtp, "mota": 1 - (fn + fp + idsw) / n_gt, "idf1": 2 * idtp / (n_gt + n_res),
                      "hota": h, "deta": deta, "assa": assa}))


if __name__ == "__main__":
    main()
