#!/usr/bin/env bash
# Debian packages the Qt app needs on Linux (xcb platform plugin, EGL/GL, fonts).
# --missing prints only those not installed yet.
pkgs="libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0
libxkbcommon-x11-0 libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3 libxcb-shape0
libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 libxcb-xkb1"
if [ "${1:-}" = "--missing" ]; then
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
else
  echo $pkgs
fi
