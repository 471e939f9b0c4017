#!/usr/bin/env bash
# Build the one-folder bundle on Linux and run both executables' --self-test.
#
# Linux is not an installer target; this proves that packaging/rid_desktop.spec produces a working
# bundle (the same spec the Windows and macOS scripts use). Prints build time and bundle size.
#
# Usage: packaging/build_linux.sh [--skip-build]
#   PYTHON=.venv/bin/python (default if present) selects the build environment.
#   SELFTEST_ARGS="--no-download" is passed to --self-test (offline machines).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
DIST="build/dist"
WORK="build/work"
APP_DIR="$DIST/RID Desktop"
SELFTEST_ARGS="${SELFTEST_ARGS:-}"

if [[ "${1:-}" != "--skip-build" ]]; then
  start=$(date +%s)
  "$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" --workpath "$WORK" \
    packaging/rid_desktop.spec
  echo "build time: $(( $(date +%s) - start )) s"
fi
echo "bundle size: $(du -sh "$APP_DIR" | cut -f1)  ($APP_DIR)"

# Headless: no display for the GUI executable either (it must not create a QApplication).
export QT_QPA_PLATFORM=offscreen
unset DISPLAY WAYLAND_DISPLAY || true

echo "--- rid-desktop --self-test"
# shellcheck disable=SC2086
"$APP_DIR/rid-desktop" --self-test $SELFTEST_ARGS
echo "--- rid-desktop self-test (subcommand)"
# shellcheck disable=SC2086
"$APP_DIR/rid-desktop" self-test $SELFTEST_ARGS
echo "--- RID Desktop --self-test"
# shellcheck disable=SC2086
"$APP_DIR/RID Desktop" --self-test $SELFTEST_ARGS
echo "frozen self-tests passed"
