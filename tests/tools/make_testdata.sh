#!/usr/bin/env bash
# Generates the test drives (deterministic) into DIR. Reuses files that exist.
#   make_testdata.sh MAKE_DRIVE_TOOL DIR
set -euo pipefail
tool=$1
out=$2
mkdir -p "$out"

gen() {  # name args...
  local name=$1
  shift
  if [ ! -s "$out/$name" ]; then
    "$tool" --out "$out/$name.part" --truth "$out/${name%.*}.json" "$@" >/dev/null
    mv "$out/$name.part" "$out/$name"
  fi
}

gen drive_s1.mp4 --seed 1 --seconds 60
gen drive_s2.mp4 --seed 2 --seconds 80
gen drive_s3.mp4 --seed 3 --seconds 20
gen drive_s3mkv.mkv --seed 3 --seconds 20 --container mkv
gen drive_s3ts.ts --seed 3 --seconds 20 --container ts
gen drive_s3h265.mkv --seed 3 --seconds 20 --container mkv --codec h265 --preset ultrafast
gen drive_s3mjpeg.avi --seed 3 --seconds 20 --container avi --codec mjpeg
gen drive_short.mp4 --seed 4 --seconds 10
gen drive_stamped.mp4 --seed 5 --seconds 45 --stamp
gen drive_stamped_bframes.mp4 --seed 5 --seconds 20 --stamp --bframes 2
gen drive_stamped_h265.mkv --seed 5 --seconds 20 --stamp --container mkv --codec h265 --preset ultrafast

# Real street footage (opencv-doc's vtest.avi, DivX) as an H.264 drive with a 1 s GOP.
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
if [ ! -s "$out/vtest_h264.mp4" ] && [ -r "$vtest" ]; then
  ffmpeg -v error -y -i "$vtest" -an -c:v libx264 -preset veryfast -g 10 -bf 0 -pix_fmt yuv420p "$out/vtest_h264.part.mp4"
  mv "$out/vtest_h264.part.mp4" "$out/vtest_h264.mp4"
fi

# A camera as many IP cameras encode: H.264 High, 3 B-frames (x264's
# b-pyramid); served over RTSP, its frames arrive with no DTS.
if [ ! -s "$out/camera_high_bframes.mp4" ]; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=30 -t 10 -c:v libx264 -profile:v high -bf 3 -g 30 \
    -pix_fmt yuv420p "$out/camera_high_bframes.part.mp4"
  mv "$out/camera_high_bframes.part.mp4" "$out/camera_high_bframes.mp4"
fi

# Encodes joined end to end, as a dashcam that changes its bitrate or
# resolution mode writes them (or files concatenated): a new SPS/PPS at 6 s,
# the same size; a second file whose size changes there too; a third whose
# second part has B-frames.
joined() {  # name size-of-the-second-part B-frames-in-the-second-part where-its-times-start
  if [ ! -s "$out/$1" ]; then
    ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25 -t 6 -c:v libx264 -profile:v main -bf 0 -g 25 \
      -b:v 2M -pix_fmt yuv420p -f mpegts "$out/$1.a"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$2:rate=25" -ss 6 -t 6 -c:v libx264 -profile:v high -bf "$3" -g 25 \
      -crf 35 -pix_fmt yuv420p -output_ts_offset "$4" -f mpegts "$out/$1.b"
    cat "$out/$1.a" "$out/$1.b" >"$out/$1.part"
    rm -f "$out/$1.a" "$out/$1.b"
    mv "$out/$1.part" "$out/$1"
  fi
}
joined joined_sps.ts 640x360 0 6
joined joined_size.ts 480x270 0 6
# B-frames after the join, its times starting 0.12 s before the first part's
# end: they overlap, as in real files joined end to end
joined joined_bframes.ts 640x360 3 5.88

# A copy cut off at 60 % (a dump that did not finish) and random bytes.
if [ ! -s "$out/truncated.mp4" ]; then
  size=$(stat -c %s "$out/drive_s3.mp4")
  head -c $((size * 6 / 10)) "$out/drive_s3.mp4" >"$out/truncated.mp4"
fi
if [ ! -s "$out/garbage.mp4" ]; then
  python3 -c "import random,sys; random.seed(7); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(500000)))" >"$out/garbage.mp4"
fi
# Tiny YOLO-shaped ONNX models with known outputs (python3-onnx).
if [ ! -s "$out/onnx/yolox.onnx" ]; then
  /usr/bin/python3 "$(dirname "$0")/make_onnx_models.py" "$out/onnx"
fi
echo "test data ready in $out"
