#!/bin/sh
# Install headless Chromium and its WebDriver (Debian packages `chromium` and `chromium-driver`)
# for the browser tests of the dashboards (tests/dashboards/test_browser.py).
#
# Idempotent: when /usr/bin/chromium and /usr/bin/chromedriver both exist it only says so.
# Needs root (CI runs as root); it uses apt-get only, never a browser download from elsewhere.
set -eu

CHROMIUM=/usr/bin/chromium
DRIVER=/usr/bin/chromedriver

if [ -x "$CHROMIUM" ] && [ -x "$DRIVER" ]; then
    echo "install-browser: chromium and chromedriver are already installed:"
    "$CHROMIUM" --version 2>/dev/null || echo "  $CHROMIUM"
    "$DRIVER" --version 2>/dev/null || echo "  $DRIVER"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: $CHROMIUM or $DRIVER is missing and installing them needs root;" >&2
    echo "  run: sudo $0   (or: apt-get install chromium chromium-driver)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get not found; install chromium and chromedriver by hand" >&2
    exit 1
fi

echo "install-browser: installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium chromium-driver

if [ -x "$CHROMIUM" ] && [ -x "$DRIVER" ]; then
    echo "install-browser: done:"
    "$CHROMIUM" --version 2>/dev/null || true
    "$DRIVER" --version 2>/dev/null || true
    exit 0
fi
echo "install-browser: apt-get finished but $CHROMIUM or $DRIVER is still missing" >&2
exit 1
