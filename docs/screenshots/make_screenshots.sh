#!/usr/bin/env bash
# The README screenshots, taken from the real app under Xvfb with the shipped model:
#   bash docs/screenshots/make_screenshots.sh
# Needs xvfb, xdotool and imagemagick (packaging/apt-deps.sh lists the Qt libraries). The app
# runs with a throw-away data folder, so no personal history appears. Click positions assume the
# 1360 x 860 window the script sets; check the PNGs after a layout change.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=docs/screenshots
WORK=$(mktemp -d)
PY=${PYTHON:-.venv/bin/python}
"$PY" docs/screenshots/make_inputs.py "$WORK"
Xvfb :97 -screen 0 1360x860x24 >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true; rm -rf "$WORK"' EXIT
export DISPLAY=:97 QT_QPA_PLATFORM=xcb
sleep 2

fit() { sleep 3; for w in $(xdotool search --onlyvisible --name "Deepfake"); do
          xdotool windowmove "$w" 0 0 windowsize "$w" 1360 860; done; sleep 2; }
shot() { import -window root "$OUT/$1.png"; }
start() { DFI_DATA_DIR="$1" "$PY" main.py "${@:2}" >"$WORK/app.log" 2>&1 & APP=$!; fit; }
wait_for() { sleep "$1"; }

start "$WORK/d1"; wait_for 15; shot 01-empty-window; kill $APP; wait $APP || true

start "$WORK/d2" "$WORK/astronaut.jpg"; wait_for 30; shot 02-result-with-heatmap
xdotool mousemove 1070 261 click 1; sleep 1
xdotool mousemove 1050 466 click 1; sleep 1
xdotool mousemove 1120 705 click 1; sleep 1
xdotool type --delay 20 "Sent by a source on Signal, 14 March. EXIF says Photoshop: asked the photographer for the original file."
sleep 1; xdotool mousemove 1137 776 click 1; sleep 1
xdotool type --delay 20 "election, source-A, awaiting original"
sleep 4; shot 07-case-file; kill $APP; wait $APP || true

start "$WORK/d3" "$WORK/batch"; wait_for 75; shot 03-batch-gallery
xdotool mousemove 288 80 click 1; sleep 3; shot 04-history
xdotool mousemove 1112 42 click 1; sleep 4; shot 06-about-the-model
kill $APP; wait $APP || true

start "$WORK/d5" "$WORK/self_blended_fake.png"; wait_for 30; shot 10-heatmap-self-blended-fake
kill $APP; wait $APP || true

DFI_WEIGHTS_DIR="$WORK/none" start "$WORK/d4"; wait_for 12; shot 05-no-model-installed
kill $APP; wait $APP || true
echo "screenshots written to $OUT"
