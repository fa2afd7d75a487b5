#!/bin/sh
# Times real Python tooz HashRing.get_nodes (8 members x 32 partitions, uuid keys) so the
# Rust criterion numbers in ring.rs have a baseline. Creates a gitignored venv at the
# repository root (.venv) on first use; set TOOZ_VENV to reuse an existing venv that has
# tooz installed (e.g. another worktree's) instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv="${TOOZ_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tooz' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "tooz==${TOOZ_VERSION:-9.1.0}"
fi
exec "$venv/bin/python" "$here/tooz_get_nodes.py" "$@"
