#!/usr/bin/env bash
# Creates <repo>/.venv with the real Python tooz (and its Redis driver) for the
# coordination crate's interop tests. Idempotent: does nothing if the venv already works.
# Needs: python3 with the venv module (Debian: apt-get install -y python3-venv), and PyPI.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
py="$venv/bin/python"
if [ -x "$py" ] && "$py" -c 'import tooz.coordination, tooz.drivers.redis, redis, msgpack' 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check 'tooz' 'redis' 'msgpack'
"$py" -c 'import tooz.coordination, tooz.drivers.redis, redis, msgpack'
