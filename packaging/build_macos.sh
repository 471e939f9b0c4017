#!/usr/bin/env bash
# Build "RID Desktop.app" and a drag-to-Applications .dmg on macOS; sign and notarize when configured.
#
# Usage: packaging/build_macos.sh
# Environment (all optional; each step is skipped when its variables are absent):
#   PYTHON                 interpreter of the build venv (default: python3)
#   RID_TARGET_ARCH        x86_64 | arm64 (default: this Mac's arch; torch has no universal2 wheels)
#   MACOS_SIGN_IDENTITY    "Developer ID Application: Name (TEAMID)" in the login/CI keychain ->
#                          PyInstaller signs every binary + the .app (hardened runtime,
#                          packaging/entitlements.plist); this script signs the .dmg
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD
#                          -> notarize the .dmg with notarytool and staple the ticket
#                             (needs MACOS_SIGN_IDENTITY too: Apple only notarizes signed apps)
#   SELFTEST_ARGS          extra arguments for --self-test (e.g. --no-download)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DIST="build/dist"
WORK="build/work"
APP_NAME="RID Desktop"
APP="$DIST/$APP_NAME.app"
VERSION="$("$PYTHON" packaging/version_info.py --print-version)"
ARCH="${RID_TARGET_ARCH:-$(uname -m)}"
DMG="$DIST/RID-Desktop-$VERSION-macos-$ARCH.dmg"
SELFTEST_ARGS="${SELFTEST_ARGS:-}"
export RID_TARGET_ARCH="$ARCH"

echo "== PyInstaller ($APP_NAME $VERSION, $ARCH)"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --distpath "$DIST" --workpath "$WORK" packaging/rid_desktop.spec
echo "build time: $(( $(date +%s) - start )) s; bundle size: $(du -sh "$APP" | cut -f1)"

echo "== self-test of the frozen app (headless)"
export QT_QPA_PLATFORM=offscreen
# shellcheck disable=SC2086
"$APP/Contents/MacOS/rid-desktop" --self-test $SELFTEST_ARGS
# shellcheck disable=SC2086
"$APP/Contents/MacOS/$APP_NAME" --self-test $SELFTEST_ARGS

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
  echo "== verify code signature"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  echo "== MACOS_SIGN_IDENTITY not set: app is ad-hoc signed only (Gatekeeper will warn users)"
fi

echo "== disk image"
STAGE="$WORK/dmg-stage"
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
ditto "$APP" "$STAGE/$APP_NAME.app"   # ditto keeps symlinks, xattrs and signatures intact
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "$APP_NAME $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
rm -rf "$STAGE"

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi

if [[ -n "${MACOS_SIGN_IDENTITY:-}" && -n "${APPLE_ID:-}" && -n "${APPLE_TEAM_ID:-}" && -n "${APPLE_APP_PASSWORD:-}" ]]; then
  echo "== notarize (this waits for Apple, usually a few minutes)"
  xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait
  xcrun stapler staple "$DMG"
  xcrun stapler validate "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG" || true
else
  echo "== notarization skipped (needs MACOS_SIGN_IDENTITY, APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD)"
fi

echo "dmg: $DMG ($(du -sh "$DMG" | cut -f1))"
