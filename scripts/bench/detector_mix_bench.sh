#!/usr/bin/env bash
# Person recall and precision on the MOT17 dev frames (../shared/data/mot17-dev,
# IoU 0.5, visibility >= 0.5, tests/tools/det_eval.py as e2e.detect scores
# them) for the pre-label candidates, in one run: YOLOX-Nano and NanoDet-Plus-m
# at 960 alone at several score floors, the two merged (their boxes pooled,
# then NMS at IoU 0.5 across models), and YOLOX-Nano merged with itself on
# the horizontally flipped frames (ffmpeg's hflip, boxes flipped back). CPU
# seconds are `dashloop detect`'s for the 16 frames, model loading included.
#   scripts/bench/detector_mix_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bin=$build/dashloop
mot17=../shared/data/mot17-dev
models=../shared/models
[ -d "$mot17" ] && [ -s "$models/nanodet_plus_m_960.onnx" ] || { echo "needs $mot17 and $models/nanodet_plus_m_960.onnx" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seqs=(MOT17-02-FRCNN MOT17-04-FRCNN MOT17-09-FRCNN)
for seq in "${seqs[@]}"; do  # the flipped frames
  mkdir -p "$work/flip/$seq"
  for f in "$mot17/$seq/img1"/*.jpg; do ffmpeg -v error -y -i "$f" -vf hflip -q:v 2 "$work/flip/$seq/$(basename "$f")"; done
done
config() {  # name model format min_score
  printf '[detector]\nmodel = "%s"\nformat = "%s"\nmin_score = %s\n[prelabel]\ninput_size = 960\n' "$2" "$3" "$4" >"$work/$1.toml"
}
config yolox25 "$PWD/firmware/models/yolox_nano.onnx" yolox 0.25
config yolox35 "$PWD/firmware/models/yolox_nano.onnx" yolox 0.35
for s in 25 35 45; do config nano$s "$PWD/$models/nanodet_plus_m_960.onnx" nanodet 0.$s; done
detect() {  # name [flip]: rows in $work/NAME[-flip]/SEQ.det; prints CPU seconds
  local name=$1 dir=$1 src=$mot17 t=0
  [ "${2:-}" = flip ] && dir=$1-flip
  mkdir -p "$work/$dir"
  for seq in "${seqs[@]}"; do
    local img=$mot17/$seq/img1
    [ "${2:-}" = flip ] && img=$work/flip/$seq
    /usr/bin/time -f "%U %S" -o "$work/time" "$bin" -c "$work/$name.toml" detect "$img" --classes person \
      --out "$work/$dir/$seq.det" 2>/dev/null
    t=$(awk -v t="$t" '{print t + $1 + $2}' "$work/time")
  done
  echo "$t"
}
declare -A cpu
for name in yolox25 yolox35 nano25 nano35 nano45; do cpu[$name]=$(detect "$name"); done
cpu[yolox25-flip]=$(detect yolox25 flip)
/usr/bin/python3 - "$mot17" "$work" "${cpu[yolox25]}" "${cpu[yolox35]}" "${cpu[nano25]}" "${cpu[nano35]}" \
  "${cpu[nano45]}" "${cpu[yolox25-flip]}" <<'PY'
import collections, json, subprocess, sys
mot17, work = sys.argv[1:3]
cpu = dict(zip(["yolox25", "yolox35", "nano25", "nano35", "nano45", "yolox25-flip"], map(float, sys.argv[3:])))
seqs = ["MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-09-FRCNN"]
width = {s: int(next(l for l in open(f"{mot17}/{s}/seqinfo.ini") if l.startswith("imWidth")).split("=")[1]) for s in seqs}

def rows(name, seq, flip=False):
    out = collections.defaultdict(list)
    for l in open(f"{work}/{name}/{seq}.det"):
        v = l.strip().split(",")
        x, y, w, h, s = map(float, v[2:7])
        if flip: x = width[seq] - x - w
        out[int(v[0])].append((s, (x, y, w, h)))
    return out

def iou(a, b):
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    i = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return i / (a[2] * a[3] + b[2] * b[3] - i)

def score(by_seq):  # seq -> frame -> [(score, box)]
    f = p = t = 0
    for seq in seqs:
        path = f"{work}/scored-{seq}.det"
        with open(path, "w") as o:
            for frame, boxes in by_seq[seq].items():
                for s, (x, y, w, h) in boxes:
                    o.write(f"{frame},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n")
        r = json.loads(subprocess.run(["/usr/bin/python3", "tests/tools/det_eval.py", f"{mot17}/{seq}/gt/gt.txt", path],
                                      check=True, capture_output=True, text=True).stdout)
        f, p, t = f + r["found"], p + r["false_positives"], t + r["to_find"]
    return f / t, f / max(1, f + p)

def merged(*sources):  # pooled, best first, NMS at 0.5 across models
    out = {}
    for seq in seqs:
        frames = collections.defaultdict(list)
        for name, flip in sources:
            for frame, boxes in rows(name, seq, flip).items(): frames[frame] += boxes
        out[seq] = {}
        for frame, boxes in frames.items():
            kept = []
            for b in sorted(boxes, key=lambda b: -b[0]):
                if all(iou(b[1], k[1]) < 0.5 for k in kept): kept.append(b)
            out[seq][frame] = kept
    return out

settings = [
    ("YOLOX-Nano 960, min_score 0.25 (the pre-label default)", [("yolox25", False)], ["yolox25"]),
    ("YOLOX-Nano 960, min_score 0.35", [("yolox35", False)], ["yolox35"]),
    ("NanoDet-Plus-m 960, min_score 0.25", [("nano25", False)], ["nano25"]),
    ("NanoDet-Plus-m 960, min_score 0.35", [("nano35", False)], ["nano35"]),
    ("NanoDet-Plus-m 960, min_score 0.45", [("nano45", False)], ["nano45"]),
    ("YOLOX-Nano 0.25 + NanoDet-Plus-m 0.45, merged", [("yolox25", False), ("nano45", False)], ["yolox25", "nano45"]),
    ("YOLOX-Nano 0.35 + NanoDet-Plus-m 0.45, merged", [("yolox35", False), ("nano45", False)], ["yolox35", "nano45"]),
    ("YOLOX-Nano 0.25 + its horizontal flip, merged", [("yolox25", False), ("yolox25-flip", True)], ["yolox25", "yolox25-flip"]),
]
print("| setting | person recall | precision | CPU s, 16 frames |\n|---|---|---|---|")
for what, sources, costs in settings:
    r, p = score(merged(*sources))
    print(f"| {what} | {r:.3f} | {p:.3f} | {sum(cpu[c] for c in costs):.1f} |")
PY
