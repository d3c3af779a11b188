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
- every detector-frame box equals a box the catalog holds for that source frame.
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


def main():
    pkg, catalog = sys.argv[1], sys.argv[2]
    stamped = "--stamped" in sys.argv
    m = json.load(open(os.path.join(pkg, "manifest.json")))
    check(m.get("schema") == "dashloop.package" and m.get("version") == 1, "manifest schema/version")
    for key in ("id", "vehicle", "camera", "fps", "frame_count", "width", "height", "codec", "source_frames",
                "model", "tracker", "labels", "plan", "effort", "files"):
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
    minutes = (c["watch_passes"] * e["video_s"] + c["per_track_s"] * e["tracks"] + c["per_box_s"] * e["boxes_to_check"]
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
    keyboxes = []
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
            if b.get("keyframe") == "1" and b.get("occluded") == "0":
                keyboxes.append((f, x0, y0, x1, y1))
    # MOT 1.1: the same boxes on the same frames
    mot_labels = open(os.path.join(pkg, "labels/mot/gt/labels.txt")).read().split()
    check(mot_labels == labels, "mot: labels.txt")
    rows = [l.split(",") for l in open(os.path.join(pkg, "labels/mot/gt/gt.txt")).read().splitlines()]
    check(len(rows) == ncvat, f"mot: {len(rows)} boxes, cvat {ncvat}")
    for r in rows:
        check(len(r) == 9, "mot: 9 columns")
        f = int(r[0]) - 1
        check(in_cvat(f, float(r[2]), float(r[3]), mot_labels[int(r[7]) - 1]), f"mot: box at frame {f} not in cvat")
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
    check(ls_boxes == e["boxes_to_check"], "labelstudio: boxes = boxes_to_check")
    # The catalog holds each detector-frame box at source frame first + j.
    db = sqlite3.connect(catalog)
    drive = m["drive_id"]
    for f, x0, y0, x1, y1 in keyboxes:
        found = False
        for x, y, w, h in db.execute("SELECT b.x, b.y, b.w, b.h FROM track_boxes b JOIN tracks t ON t.id = b.track_id "
                                     "WHERE t.drive_id = ? AND b.frame = ?", (drive, first + f)):
            cx0, cy0 = max(0, x), max(0, y)
            cx1, cy1 = min(W, x + w), min(H, y + h)
            if abs(cx0 - x0) < 0.01 and abs(cy0 - y0) < 0.01 and abs(cx1 - x1) < 0.01 and abs(cy1 - y1) < 0.01:
                found = True
        check(found, f"clip frame {f}: box not in the catalog at source frame {first + f}")
    check(len(keyboxes) > 0 or e["boxes_to_check"] == 0, "no keyframe boxes to compare")
    for f in failures[:20]:
        print(f"{pkg}: {f}")
    if not failures:
        print(f"{pkg}: ok ({n} frames, {ncvat} boxes, {len(keyboxes)} detector boxes matched to the catalog)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
