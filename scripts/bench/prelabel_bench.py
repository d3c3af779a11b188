#!/usr/bin/python3
"""What an annotator receives, scored against ground truth, end to end.

A video and its MOTChallenge gt.txt (frame,id,x,y,w,h,consider,class,
visibility; 1-based frames of the video): the video is ingested with a config
(its clip budget lifted so any moment may be clipped), each package's MOT
labels are put back on the video's frames (manifest source_frames), and the
frames the packages cover are scored per class with `dashloop eval-mot`
(HOTA as TrackEval, MOTA, IDF1, recall, precision): pedestrians (MOT class 1)
and cars (3). Run once with the pre-label pass (the default) and once with
the live labels, in one run.

A second table sets the annotator's real work against the manifests' effort
estimate: the boxes to add (false negatives), to delete (false positives)
and to fix (ID switches) in both classes, next to what the estimate assumed
(its expected recall, and its expected missed boxes carried from detector
frames to every frame by the packages' labelled-to-detected box ratio).

  scripts/bench/prelabel_bench.py VIDEO GT_TXT [--build build] [--config extra.toml]
prints a Markdown table.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

CLASSES = {"pedestrians": 1, "cars": 3}


def read_rows(path):
    rows = []
    for line in open(path):
        f = line.strip().split(",")
        if len(f) >= 6:
            rows.append(f)
    return rows


def package_rows(data_dir):
    """The packages' MOT rows on the video's 1-based frames, ids unique across packages,
    the set of video frames the packages cover, and the estimate's expected missed
    boxes carried to every frame (each package's labelled rows per detected box)."""
    rows, covered, expected = [], set(), {"missed": 0.0, "minutes": 0.0, "recall": []}
    for n, manifest in enumerate(sorted(glob.glob(f"{data_dir}/packages/*/manifest.json"))):
        m = json.load(open(manifest))
        first, last = m["source_frames"]["first"], m["source_frames"]["last"]
        covered.update(range(first + 1, last + 2))
        labelled = read_rows(os.path.join(os.path.dirname(manifest), "labels/mot/gt/gt.txt"))
        for f in labelled:
            frame = first + int(f[0])  # clip frame 1 is source frame `first` (0-based)
            rows.append([str(frame), str((n + 1) * 100000 + int(f[1]))] + f[2:])
        e = m["effort"]
        if e["boxes_to_check"]:
            expected["missed"] += e["missed_boxes"] * len(labelled) / e["boxes_to_check"]
        expected["minutes"] += e["annotator_minutes"]
        expected["recall"].append(e["expected_recall"])
    return rows, covered, expected


def score(dashloop, gt_rows, pred_rows, cls, covered, work, tag):
    gt_path, pred_path = f"{work}/{tag}-gt.txt", f"{work}/{tag}-pred.txt"
    scored = 0
    with open(gt_path, "w") as g:
        for f in gt_rows:
            # This class on a frame a package covers; a row marked not to consider
            # (column 7 = 0) stays, and eval-mot ignores it as MOTChallenge does.
            if int(f[0]) in covered and len(f) >= 8 and int(f[7]) == cls:
                g.write(",".join(f[:7]) + "\n")
                scored += 1
    if not scored:
        return None
    with open(pred_path, "w") as p:
        for f in pred_rows:
            if len(f) >= 8 and int(f[7]) == cls:
                p.write(",".join(f[:7]) + "\n")
    out = subprocess.run([dashloop, "eval-mot", "--gt", gt_path, "--pred", pred_path, "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("gt")
    ap.add_argument("--build", default="build")
    ap.add_argument("--config", default="", help="TOML added to both runs' configs")
    a = ap.parse_args()
    dashloop = os.path.join(a.build, "dashloop")
    gt_rows = read_rows(a.gt)
    extra = open(a.config).read() if a.config else ""
    print("| labels | class | frames scored | HOTA | MOTA | IDF1 | recall | precision | boxes |")
    print("|---|---|---|---|---|---|---|---|---|")
    work_rows = []
    with tempfile.TemporaryDirectory(prefix="dashloop-prelabel-bench.") as work:
        for name, redetect in (("live tracks", "false"), ("pre-label pass", "true")):
            cfg = f"{work}/{redetect}.toml"
            with open(cfg, "w") as c:
                c.write("[clips]\nbudget_min_per_hour = 60\n"
                        '[privacy]\nfaces = "none"\nplates = "none"\n'
                        f"[prelabel]\nredetect = {redetect}\n" + extra)
            data = f"{work}/{redetect}"
            subprocess.run([dashloop, "-c", cfg, "-d", data, "ingest", "-q", a.video], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pred, covered, expected = package_rows(data)
            if not covered:
                print(f"| {name} | - | 0 | no package was made |  |  |  |  |  |")
                continue
            done = {"false_negatives": 0, "false_positives": 0, "id_switches": 0, "matches": 0, "gt_boxes": 0}
            for cname, cls in CLASSES.items():
                m = score(dashloop, gt_rows, pred, cls, covered, work, f"{redetect}-{cls}")
                if m is None:
                    print(f"| {name} | {cname} | {len(covered)} | none in the ground truth |  |  |  |  |  |")
                    continue
                for k in done:
                    done[k] += m[k]
                print(f"| {name} | {cname} | {len(covered)} | {m['hota']:.3f} | {m['mota']:.3f} | {m['idf1']:.3f} | "
                      f"{m['recall']:.3f} | {m['precision']:.3f} | {m['predicted_boxes']} |")
            recall = done["matches"] / done["gt_boxes"] if done["gt_boxes"] else float("nan")
            work_rows.append(f"| {name} | {done['false_negatives']} | {done['false_positives']} | {done['id_switches']} | "
                             f"{recall:.3f} | {min(expected['recall']):.2f}-{max(expected['recall']):.2f} | "
                             f"{expected['missed']:.0f} | {expected['minutes']:.1f} |")
    print()
    print("| labels | boxes to add (FN) | to delete (FP) | ID switches | recall, both classes | "
          "recall the estimate assumed | boxes to add, estimated | estimate, annotator minutes |")
    print("|---|---|---|---|---|---|---|---|")
    for row in work_rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
