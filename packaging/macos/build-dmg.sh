#!/usr/bin/env bash
# macOS .app + .dmg recipe for Deepfake Inspector. UNTESTED here (no Mac build machine).
#
# Needs: macOS 12+, Python 3.11 (python.org or Homebrew), Xcode command line tools (hdiutil,
# codesign). macOS torch wheels on PyPI are CPU/MPS-only and match PyPI's torchvision: the spec's
# flavour is "native" (nothing trimmed, torchvision's own ops).
# Run from the repository root:  bash packaging/macos/build-dmg.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(python3 -c 'import re;print(re.search(r"__version__ = \"(.+)\"", open("app/__init__.py").read()).group(1))')

python3 -m venv build/venv-mac
build/venv-mac/bin/pip install -e '.[package]'
build/venv-mac/bin/python packaging/make_icons.py          # writes packaging/icons/*.icns
build/venv-mac/bin/pyinstaller --noconfirm \
    --distpath dist --workpath build/pyinstaller packaging/deepfake-inspector.spec

APP="dist/Deepfake Inspector.app"
# Smoke test before packaging: the frozen binary's self-test must pass.
"$APP/Contents/MacOS/deepfake-inspector" --self-test

# Optional signing/notarisation (needs an Apple Developer ID):
#   codesign --deep --force --options runtime --sign "Developer ID Application: ..." "$APP"
#   xcrun notarytool submit dist/*.dmg --keychain-profile ... --wait && xcrun stapler staple ...
rm -rf build/dmg && mkdir -p build/dmg
cp -R "$APP" build/dmg/
ln -s /Applications build/dmg/Applications
hdiutil create -volname "Deepfake Inspector" -srcfolder build/dmg -ov -format UDZO \
    "dist/DeepfakeInspector-${VERSION}.dmg"
echo "wrote dist/DeepfakeInspector-${VERSION}.dmg"
