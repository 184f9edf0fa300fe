#!/bin/sh
# Install promtool (Debian package `prometheus`, no server is started: the package's service
# needs systemd) for the tests of the alert rules and dashboard queries (tests/deploy/test_monitoring.py,
# tests/serving/test_deploy_artefacts.py; in a project made by `nbprod new`, tests/test_deploy.py).
#
# Idempotent: when promtool is on PATH it only says so. Needs root (CI runs as root); apt-get only.
set -eu

if command -v promtool >/dev/null 2>&1; then
    echo "install-promtool: $(promtool --version 2>&1 | head -n 1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-promtool: promtool is missing and installing it needs root;" >&2
    echo "  run: sudo $0   (or: apt-get install --no-install-recommends prometheus)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-promtool: apt-get not found; install promtool (Prometheus) by hand" >&2
    exit 1
fi

echo "install-promtool: installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus

if command -v promtool >/dev/null 2>&1; then
    echo "install-promtool: done: $(promtool --version 2>&1 | head -n 1)"
    exit 0
fi
echo "install-promtool: apt-get finished but promtool is still missing" >&2
exit 1
