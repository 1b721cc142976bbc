#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the desktop window needs (listed by apt-deps.sh).
# Works as root (sudo not needed, and need not exist) and as a normal user (through sudo).
# Tests run offscreen and do not need this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=$(bash "$here/apt-deps.sh" --missing)
if [ -z "$need" ]; then
  echo "The system packages the window needs are already installed."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install these packages (or your system's equivalents) yourself:" >&2
  echo "  $need" >&2
  exit 1
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: installing system packages needs root, and sudo is not available." >&2
    echo "Run this script as root, or install: $need" >&2
    exit 1
  fi
}

as_root apt-get update -qq
# shellcheck disable=SC2086 # one word per package
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $need
