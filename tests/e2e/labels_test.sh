#!/usr/bin/env bash
# End-to-end on real footage: every package's label files, read back by each
# annotation tool's own reading rule (tests/tools/check_package.py: CVAT's
# TrackManager, Label Studio's editor and SDK, COCO), give exactly the boxes
# the package means; prints the differing count per format (target 0).
#   labels_test.sh DASHLOOP_BINARY TESTDATA_DIR
set -uo pipefail
bin=$1
data=$2
work=$(mktemp -d /tmp/dashloop-e2e-labels.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
checker="$(dirname "$0")/../tools/check_package.py"
sample_drive="$(dirname "$0")/../../firmware/samples/solidWhiteRight.mp4"  # the bundled real sample drive

every_package_exact() {  # data dir
  local ok=0 n=0
  for p in "$1"/packages/*/; do
    /usr/bin/python3 "$checker" "$p" "$1/catalog.sqlite" --counts >"$work/one" || ok=1
    grep '"differing"' "$work/one" >>"$work/counts" || ok=1
    grep -v '"differing"' "$work/one"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] && [ $ok = 0 ]
}

real_drive() {  # name, file, what it is
  if [ ! -s "$2" ]; then
    echo "SKIPPED: $1: $2 is missing"
    return
  fi
  run -d "$work/$1" ingest -q "$2"
  check "$1 ($3), default config: exit 0" rc_is 0
  check "...every package read by CVAT's, Label Studio's and COCO's rules gives every box meant" every_package_exact "$work/$1"
}
real_drive vtest "$data/vtest_h264.mp4" "opencv-doc's real pedestrians, transcoded to H.264 by make_testdata.sh"
real_drive solidWhiteRight "$sample_drive" "a real highway dashcam drive with cars: the product's own sample"
echo "differing boxes by format, per package:"
cat "$work/counts" 2>/dev/null
finish
