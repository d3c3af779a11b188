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
shared_drive="$(dirname "$0")/../../firmware/samples/solidWhiteRight.mp4"  # the bundled real sample drive

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

# vtest.avi (opencv-doc): real pedestrians, transcoded to H.264 by make_testdata.sh; the default config.
if [ -s "$data/vtest_h264.mp4" ]; then
  run -d "$work/vtest" ingest -q "$data/vtest_h264.mp4"
  check "vtest (real street footage, H.264), default config: exit 0" rc_is 0
  check "...every package read by CVAT's, Label Studio's and COCO's rules gives every box meant" every_package_exact "$work/vtest"
else
  echo "SKIPPED: vtest: $data/vtest_h264.mp4 is missing (opencv-doc not installed)"
fi
# A real highway dashcam drive with cars: the product's own sample.
if [ -s "$shared_drive" ]; then
  run -d "$work/highway" ingest -q "$shared_drive"
  check "solidWhiteRight (real dashcam footage), default config: exit 0" rc_is 0
  check "...every package read by its tools' rules gives every box meant" every_package_exact "$work/highway"
else
  echo "SKIPPED: solidWhiteRight: $shared_drive is absent"
fi
echo "differing boxes by format, per package:"
cat "$work/counts" 2>/dev/null
finish
