#!/bin/sh
# Install wrk (Debian package `wrk`): the second load generator of benchmarks/bench_serve.py.
# Idempotent; needs root (apt-get). Without it the benchmark measures with its own load generator only.
set -eu

if command -v wrk >/dev/null 2>&1; then
    echo "install-wrk: $(command -v wrk)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-wrk: wrk is missing (apt-get install wrk, as root); the serve benchmark runs without it" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends wrk
