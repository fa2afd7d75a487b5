#!/usr/bin/env bash
# Creates <repo>/.venv with the real Python peers the tests talk to (tooz and its Redis
# driver, oslo.messaging), pinned in scripts/requirements-test.txt. Idempotent: does nothing
# if the venv already has them.
# Needs: python3 with the venv module (Debian: apt-get install -y python3-venv), and PyPI.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
py="$venv/bin/python"
check='import tooz.coordination, tooz.drivers.redis, redis, msgpack, oslo_messaging, prometheus_client'
if [ -x "$py" ] && "$py" -c "$check" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check -r "$repo/scripts/requirements-test.txt"
"$py" -c "$check"
