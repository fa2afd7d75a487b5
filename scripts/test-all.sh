#!/usr/bin/env bash
# Every test of the project, from a fresh Debian machine with Rust:
#   formatting, clippy (warnings are errors), and every unit, integration and property test.
# Installs what the tests need (Debian packages, a Python venv with the real tooz) and
# starts nothing that outlives it: tests start their own servers on free loopback ports and
# stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '==> [%4ds] %s\n' "$SECONDS" "$*"; }

# --- Debian packages --------------------------------------------------------------------
need=()
for pair in redis-server:redis-server redis-sentinel:redis-sentinel; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# net-snmp's agent for crates/snmp's tests (they start their own on a free loopback port).
[ -x /usr/sbin/snmpd ] || command -v snmpd >/dev/null 2>&1 || need+=(snmpd)
# openssl makes the throwaway PKI of the Redis TLS tests.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# RabbitMQ for the bus publisher's tests (they start a private broker on a free port).
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  # Keep package scripts from starting system services: tests run their own servers, and
  # this script must leave nothing running.
  policy=/usr/sbin/policy-rc.d; made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod +x "$policy"; made_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$made_policy" ]; then $SUDO rm -f "$policy"; fi
fi

# --- Python venv with the real tooz (the interop peer) --------------------------------------
log "python venv (.venv) with the pinned peers of scripts/requirements-test.txt"
"$root/scripts/make-venv.sh"

# --- Rust ----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked

# --- Packaging (issue 12): build the .deb, check its contents, systemd-analyze verify,
# maintainer scripts, the OCF agent against running agents, the Redis/Sentinel examples.
log "packaging (packaging/tests/run.sh)"
"$root/packaging/tests/run.sh"

# --- Load benchmark, `small` preset (fails unless coverage is exact; asserts nothing on speed)
log "loadbench --preset small (release build: the packaging step's, reused)"
cargo build --release --locked -p ceilometer-central -p simcloud -p loadbench
"${CARGO_TARGET_DIR:-$root/target}/release/loadbench" --preset small --out "$(mktemp -d)"
log "all passed in $SECONDS s"
