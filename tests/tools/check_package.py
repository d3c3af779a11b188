#!/usr/bin/python3
"""Checks a Dashloop clip package against its documented structure
(docs/CLIPS.md) and against the video it labels, independently of the C++:

  check_package.py PACKAGE_DIR CATALOG [--stamped]

- manifest: schema, version, every file listed with its size and sha256;
- clip.mp4: decodes (ffmpeg), frame count = manifest, first frame a keyframe;
  --stamped: every decoded frame j shows source frame source_frames.first + j
  (the drive was rendered by dashloop-make-drive --stamp);
- CVAT for video 1.1, MOT 1.1, COCO 1.0, Label Studio: structure, frame
  ranges, and the same boxes on the same frames in every format;
- every detector-frame box equals a box the catalog holds for that source frame;
- each format read back by its tool's own rule gives every box the package
  means (the MOT file: one row per box) within half a pixel, and no other:
  CVAT's TrackManager (keyframe="1" boxes only, linear in between, flags and
  outside from the previous keyframe, the last one held to the end), Label
  Studio's editor (VideoRegion.isInLifespan: from an enabled keyframe on,
  interpolated to the next; a disabled one on its own frame only) and its
  SDK's extract_key_frames, COCO's boxes on the keyframe images.
  --counts prints those differences per format as one JSON line.
Exit 0 when all hold; otherwise prints each failure and exits 1.
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

failures = []
# MOTChallenge's class ids (MOT16/17 gt.txt) for the names a package uses.
MOTCHALLENGE_IDS = {"person": 1, "pedestrian": 1, "car": 3, "bicycle": 4, "motorcycle": 5, "motorbike": 5}


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decoded_stamps(video, n_expected):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", video, "-vf", "crop=256:16:0:0", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    frame = 256 * 16
    stamps = []
    for k in range(len(raw) // frame):
        row = raw[k * frame + 8 * 256:k * frame + 9 * 256]
        stamps.append(sum(1 << b for b in range(16) if row[b * 16 + 8] > 128))
    return stamps


TOLERANCE = 0.5  # px


def lerp(a, b, t):
    return tuple(u + (v - u) * t for u, v in zip(a, b))


def cvat_by_rule(root, n):
    """{(track, frame): (x0, y0, x1, y1, occluded)} as CVAT's import reads it."""
    out = {}
    for t in root.findall("track"):
        tid = int(t.get("id"))
        keys = sorted((int(b.get("frame")), b) for b in t.findall("box") if b.get("keyframe") == "1")
        shapes = [(f, tuple(float(b.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")), b.get("outside") == "1",
                   b.get("occluded") == "1") for f, b in keys]
        for i, (f, box, outside, occ) in enumerate(shapes):
            if outside:
                continue
            end = shapes[i + 1][0] if i + 1 < len(shapes) else n
            for g in range(f, end):
                nxt = shapes[i + 1] if i + 1 < len(shapes) else None
                b = lerp(box, nxt[1], (g - f) / (nxt[0] - f)) if nxt else box
                out[(tid, g)] = (*b, occ)
    return out


def ls_box(s, W, H):
    x, y = s["x"] * W / 100, s["y"] * H / 100
    return (x, y, x + s["width"] * W / 100, y + s["height"] * H / 100)


def ls_editor(results, n, W, H):
    """{(track, frame): box} as Label Studio's editor draws it (1-based frames)."""
    out = {}
    for r in results:
        tid = int(r["id"].removeprefix("track"))
        seq = sorted(r["value"]["sequence"], key=lambda s: s["frame"])
        for f in range(1, n + 1):
            prev = [s for s in seq if s["frame"] <= f]
            if not prev:
                continue
            p = prev[-1]
            if not (p["enabled"] or p["frame"] == f):
                continue
            nxt = next((s for s in seq if s["frame"] > f), None)
            b = ls_box(p, W, H)
            if nxt and p["frame"] != f:
                b = lerp(b, ls_box(nxt, W, H), (f - p["frame"]) / (nxt["frame"] - p["frame"]))
            out[(tid, f - 1)] = b
    return out


def ls_sdk(results, n, W, H):
    """The same, as the Label Studio SDK's extract_key_frames expands it: every
    keyframe as it is, the frames after an enabled one interpolated to the next
    keyframe, or held to the end of the video after the last."""
    out = {}
    for r in results:
        tid = int(r["id"].removeprefix("track"))
        seq = sorted(r["value"]["sequence"], key=lambda s: s["frame"])
        for i, s in enumerate(seq):
            out[(tid, s["frame"] - 1)] = ls_box(s, W, H)
            if not s["enabled"]:
                continue
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            end = nxt["frame"] if nxt else r["value"]["framesCount"] + 1
            for f in range(s["frame"] + 1, end):
                b = ls_box(s, W, H)
                if nxt:
                    b = lerp(b, ls_box(nxt, W, H), (f - s["frame"]) / (nxt["frame"] - s["frame"]))
                out[(tid, f - 1)] = b
    return out


def differing(meant, read):
    """Boxes meant but read otherwise (or not at all), plus boxes read but not meant."""
    bad = [k for k, m in meant.items() if k not in read or max(abs(a - b) for a, b in zip(m[:4], read[k][:4])) > TOLERANCE
           or (len(m) > 4 and len(read[k]) > 4 and m[4] != read[k][4])]
    return len(bad) + sum(1 for k in read if k not in meant), sorted(bad)[:3]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit("usage: check_package.py PACKAGE_DIR CATALOG [--stamped] [--counts]")
    pkg, catalog = args
    stamped = "--stamped" in sys.argv
    m = json.load(open(os.path.join(pkg, "manifest.json")))
    check(m.get("schema") == "dashloop.package" and m.get("version") == 1, "manifest schema/version")
    for key in ("id", "vehicle", "camera", "fps", "frame_count", "width", "height", "codec", "source_frames",
                "model", "model_sha256", "detector_scores", "tracker", "labels", "plan", "effort", "files"):
        check(key in m, f"manifest lacks {key}")
    listed = {f["path"] for f in m["files"]}
    on_disk = set()
    for root, _, files in os.walk(pkg):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), pkg)
            if rel != "manifest.json":
                on_disk.add(rel)
    check(listed == on_disk, f"manifest lists {sorted(listed ^ on_disk)} wrongly")
    for f in m["files"]:
        p = os.path.join(pkg, f["path"])
        check(os.path.getsize(p) == f["bytes"], f"{f['path']}: size")
        check(sha256(p) == f["sha256"], f"{f['path']}: sha256")
    e = m["effort"]
    c = e["constants"]
    recall = c["recall_redetected"] if m["labels_from"] == "redetected" else c["recall_live"]
    missed_per_found = c["precision"] * (1 - recall) / recall
    check(abs(e["expected_recall"] - recall) < 1e-9, "effort: the expected recall of the labels' source")
    check(abs(e["missed_boxes"] - e["boxes_to_check"] * missed_per_found) < 1e-6, "effort: missed boxes")
    check(abs(e["missed_tracks"] - e["tracks"] * missed_per_found) < 1e-6, "effort: missed tracks")
    minutes = (c["watch_passes"] * e["video_s"] + c["per_track_s"] * (e["tracks"] + e["missed_tracks"])
               + c["per_box_s"] * e["boxes_to_check"] + c["per_missed_box_s"] * e["missed_boxes"]
               + c["per_keyframe_s"] * e["keyframes"]) / 60
    check(abs(minutes - e["annotator_minutes"]) < 1e-6, "effort: formula")

    n = m["frame_count"]
    first = m["source_frames"]["first"]
    video = os.path.join(pkg, "clip.mp4")
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames",
                                       "-show_entries", "stream=nb_read_frames,codec_name", "-of", "json", video],
                                      check=True, capture_output=True).stdout)
    check(int(probe["streams"][0]["nb_read_frames"]) == n, f"clip.mp4 decodes {probe['streams'][0]['nb_read_frames']} frames, manifest says {n}")
    key = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames", "-read_intervals",
                                     "%+#1", "-show_entries", "frame=key_frame", "-of", "json", video],
                                    check=True, capture_output=True).stdout)
    check(key["frames"][0]["key_frame"] == 1, "clip.mp4: first frame is not a keyframe")
    with open(video, "rb") as f:
        head = f.read(1 << 16)
    check(head.find(b"moov") < head.find(b"mdat") if b"moov" in head else False, "clip.mp4: moov not before mdat (faststart)")
    if stamped:
        stamps = decoded_stamps(video, n)
        check(len(stamps) == n, "stamps: frame count")
        bad = [j for j, s in enumerate(stamps) if s != (first + j) & 0xFFFF]
        check(not bad, f"clip frames {bad[:5]} show other source frames than first + j")

    labels = m["labels"]
    W, H = m["width"], m["height"]
    # CVAT for video 1.1
    root = ET.parse(os.path.join(pkg, "labels/cvat-video.xml")).getroot()
    check(root.tag == "annotations" and root.findtext("version") == "1.1", "cvat: root/version")
    task = root.find("meta/task")
    check(int(task.findtext("size")) == n and int(task.findtext("stop_frame")) == n - 1, "cvat: size")
    check([l.findtext("name") for l in task.findall("labels/label")] == labels, "cvat: label set")
    cvat = {}  # frame -> [(label, x0, y0, w, h)], the visible boxes
    ncvat = 0

    def in_cvat(f, x, y, label=None):
        return any(abs(b[1] - x) < 0.02 and abs(b[2] - y) < 0.02 and (label is None or b[0] == label)
                   for b in cvat.get(f, []))
    for t in root.findall("track"):
        check(t.get("label") in labels, "cvat: track label")
        for b in t.findall("box"):
            f = int(b.get("frame"))
            check(0 <= f < n, f"cvat: frame {f} outside the clip")
            for a in ("keyframe", "outside", "occluded"):
                check(b.get(a) in ("0", "1"), f"cvat: {a}")
            if b.get("outside") == "1":
                continue
            x0, y0, x1, y1 = (float(b.get(k)) for k in ("xtl", "ytl", "xbr", "ybr"))
            check(0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, "cvat: box inside the picture")
            cvat.setdefault(f, []).append((t.get("label"), x0, y0, x1 - x0, y1 - y0))
            ncvat += 1
    # MOT 1.1: the same boxes on the same frames
    # labels.txt: line k names class id k (CVAT's MOT 1.1 importer reads it so);
    # ids are MOTChallenge's where the class has one, so TrackEval reads them too.
    mot_labels = open(os.path.join(pkg, "labels/mot/gt/labels.txt")).read().splitlines()
    check(set(labels) <= set(mot_labels), "mot: labels.txt names every label")
    for name, want in MOTCHALLENGE_IDS.items():
        if name in labels:
            check(mot_labels.index(name) + 1 == want, f"mot: '{name}' is MOTChallenge class {want}")
    check(all(mot_labels.index(l) + 1 > 12 for l in labels if l not in MOTCHALLENGE_IDS), "mot: other classes after 12")
    rows = [l.split(",") for l in open(os.path.join(pkg, "labels/mot/gt/gt.txt")).read().splitlines()]
    check(len(rows) == ncvat, f"mot: {len(rows)} boxes, cvat {ncvat}")
    meant = {}  # (track, clip frame) -> (x0, y0, x1, y1, occluded): what the package means
    for r in rows:
        if len(r) == 9:
            x, y, w, h = map(float, r[2:6])
            meant[(int(r[1]) - 1, int(r[0]) - 1)] = (x, y, x + w, y + h, float(r[8]) == 0.0)
    for r in rows:
        check(len(r) == 9, "mot: 9 columns")
        f = int(r[0]) - 1
        check(in_cvat(f, float(r[2]), float(r[3]), mot_labels[int(r[7]) - 1]), f"mot: box at frame {f} not in cvat")
    # TrackEval's MOTChallenge reader, MOT17 rules: ground truth is the rows
    # with a non-zero 7th column and class 1 (pedestrian); 2, 7, 8 and 12 are
    # distractors. It must keep exactly the package's person boxes, every one.
    kept = {(int(r[1]) - 1, int(r[0]) - 1) for r in rows if len(r) == 9 and float(r[6]) != 0 and int(r[7]) == 1}
    people = {(t, f) for (t, f) in meant if any(abs(b[1] - meant[(t, f)][0]) < 0.02 and abs(b[2] - meant[(t, f)][1]) < 0.02
                                                and b[0] in ("person", "pedestrian") for b in cvat.get(f, []))}
    check(kept == people, f"trackeval (MOT17): {len(kept)} pedestrian boxes kept, the package means {len(people)}")
    cars = sum(1 for r in rows if len(r) == 9 and int(r[7]) == 3)
    check(cars == sum(1 for bs in cvat.values() for b in bs if b[0] == "car"), "trackeval: class 3 = the car boxes")
    # COCO 1.0
    coco = json.load(open(os.path.join(pkg, "labels/coco.json")))
    check({"images", "annotations", "categories"} <= coco.keys(), "coco: keys")
    check([c["name"] for c in coco["categories"]] == labels, "coco: categories")
    images = {i["id"]: i for i in coco["images"]}
    check(len(images) == e["keyframes"], "coco: images = keyframes")
    for i in images.values():
        check(os.path.exists(os.path.join(pkg, "keyframes", i["file_name"])), f"coco: {i['file_name']} missing")
        check(0 <= i["frame"] < n, "coco: image frame")
    for a in coco["annotations"]:
        img = images.get(a["image_id"])
        check(img is not None and len(a["bbox"]) == 4, "coco: annotation")
        if img:
            check(in_cvat(img["frame"], a["bbox"][0], a["bbox"][1]), f"coco: box on frame {img['frame']} not in cvat")
    # Label Studio video
    ls = json.load(open(os.path.join(pkg, "labels/labelstudio.json")))
    check(isinstance(ls, list) and len(ls) == 1 and "video" in ls[0]["data"], "labelstudio: task")
    results = ls[0]["predictions"][0]["result"]
    ls_boxes = 0
    for r in results:
        check(r["type"] == "videorectangle" and r["value"]["framesCount"] == n, "labelstudio: result")
        check(all(l in labels for l in r["value"]["labels"]), "labelstudio: label")
        for s in r["value"]["sequence"]:
            f = s["frame"] - 1
            check(0 <= f < n, "labelstudio: frame")
            check(all(0 <= s[k] <= 100 for k in ("x", "y", "width", "height")), "labelstudio: percent")
            check(in_cvat(f, s["x"] * W / 100, s["y"] * H / 100), f"labelstudio: box on frame {f} not in cvat")
            ls_boxes += 1
    detected = sum(1 for a in coco["annotations"] if a["attributes"].get("detected"))
    check(e["boxes_to_check"] >= detected, "effort: boxes_to_check counts every detector-frame box")
    # Each format by its tool's reading rule against what the package means.
    counts = {}
    for fmt, read in (("cvat", cvat_by_rule(root, n)), ("labelstudio", ls_editor(results, n, W, H)),
                      ("labelstudio-sdk", ls_sdk(results, n, W, H))):
        counts[fmt], examples = differing(meant, read)
        check(counts[fmt] == 0, f"{fmt} read by its tool's rule: {counts[fmt]} boxes differ from the MOT rows, "
                                f"e.g. (track, frame) {examples}")
    coco_read = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        coco_read[(a["attributes"]["track_id"], images[a["image_id"]]["frame"])] = (x, y, x + w, y + h)
    keyframe_frames = {i["frame"] for i in images.values()}
    counts["coco"], examples = differing({k: v for k, v in meant.items() if k[1] in keyframe_frames}, coco_read)
    check(counts["coco"] == 0, f"coco: {counts['coco']} boxes differ on the keyframe images, e.g. {examples}")
    counts["mot"] = 0  # the MOT rows are the boxes meant; the other checks compare against them
    check(ls_boxes > 0 or not meant, "labelstudio: keyframes written")
    config = os.path.join(pkg, "labels/labelstudio-config.xml")
    if check(os.path.exists(config), "labelstudio: labeling config missing"):
        view = ET.parse(config).getroot()
        video = view.find("Video")
        check(video is not None and abs(float(video.get("framerate")) - m["fps"]) < 1e-6, "labelstudio config: framerate = fps")
        check(view.find("VideoRectangle").get("name") == "box", "labelstudio config: VideoRectangle box")
        check([l.get("value") for l in view.findall("Labels/Label")] == labels, "labelstudio config: labels")
    if "--counts" in sys.argv:
        print(json.dumps({"package": m["id"], "boxes": len(meant), "differing": counts}))
    # Every box the catalog holds inside the clip's span (a detector's, or the
    # tracker's prediction while hidden), cut to the picture, is a box the labels
    # mean at clip frame (source frame - first); unless the labels were made by
    # detecting the clip again (the pre-label setting): then none is the live one.
    matched = 0
    check(m.get("labels_from") in ("live", "redetected"), "manifest: labels_from")
    if m.get("labels_from") == "live":
        by_frame = {}
        for (_, f), box in meant.items():
            by_frame.setdefault(f, []).append(box)
        db = sqlite3.connect(catalog)
        last = m["source_frames"]["last"]
        for sf, x, y, w, h in db.execute("SELECT b.frame, b.x, b.y, b.w, b.h FROM track_boxes b JOIN tracks t "
                                         "ON t.id = b.track_id WHERE t.drive_id = ? AND b.frame BETWEEN ? AND ?",
                                         (m["drive_id"], first, last)):
            x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            found = any(abs(b[0] - x0) < 0.01 and abs(b[1] - y0) < 0.01 and abs(b[2] - x1) < 0.01 and abs(b[3] - y1) < 0.01
                        for b in by_frame.get(sf - first, []))
            matched += found
            check(found, f"source frame {sf}: the catalog's box ({x0:.2f}, {y0:.2f}, {x1:.2f}, {y1:.2f}) is not in the labels "
                         f"at clip frame {sf - first}")
        check(matched > 0 or e["boxes_to_check"] == 0, "no catalog boxes to compare with the labels")
    for f in failures[:20]:
        print(f"{pkg}: {f}")
    if not failures:
        print(f"{pkg}: ok ({n} frames, {ncvat} boxes, {matched} of the catalog's boxes found in the labels)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
