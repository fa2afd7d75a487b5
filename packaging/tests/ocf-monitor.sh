#!/usr/bin/env bash
# The OCF agent (ocf:fuel:ceilometer-agent-central) against real ceilometer-central
# processes and a simulated cloud (simcloud):
#   ready (start, monitor, status)  -> 0 OCF_SUCCESS
#   running but not ready            -> 1 OCF_ERR_GENERIC (and 0 with check=healthz/pid)
#   pid alive but no admin listener  -> 1 OCF_ERR_GENERIC
#   stopped / stale pid / no pid     -> 7 OCF_NOT_RUNNING
# plus meta-data (the Fuel agent's parameters) and validate-all.
#
# usage: ocf-monitor.sh [BIN_DIR [OCF_AGENT [SIMCLOUD]]]
#   BIN_DIR   directory holding ceilometer-central and the ceilometer-agent-central
#             symlink (default: <target>/release, the symlink made in a temp dir)
#   OCF_AGENT the resource agent script (default: packaging/ocf/ceilometer-agent-central)
#   SIMCLOUD  the simcloud binary (default: <target>/release/simcloud)
# Runs the matrix without resource-agents' ocf-shellfuncs (the agent's fallback) and, when
# /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs exists, once more with it. Needs root (the
# agent is started through su, as Pacemaker does).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

if [ "$(id -u)" != 0 ]; then
    echo "ocf-monitor.sh: must run as root (the OCF agent switches user with su)" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/ocf-monitor.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    disown -a 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for f in "$tmp"/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

bin_dir=${1:-}
if [ -z "$bin_dir" ]; then
    bin_dir=$tmp/bin
    mkdir -p "$bin_dir"
    cp "$target/release/ceilometer-central" "$bin_dir/"
    ln -s ceilometer-central "$bin_dir/ceilometer-agent-central"
fi
ocf=${2:-$root/packaging/ocf/ceilometer-agent-central}
simcloud=${3:-$target/release/simcloud}
redis=$(command -v redis-server || true)
command -v redis-cli >/dev/null || { echo "ocf-monitor.sh: redis-cli missing (apt-get install redis-server)" >&2; exit 1; }
for f in "$bin_dir/ceilometer-central" "$bin_dir/ceilometer-agent-central" "$ocf" "$simcloud" "$redis"; do
    [ -x "$f" ] || { echo "ocf-monitor.sh: $f missing or not executable" >&2; exit 1; }
done
echo "binary: $bin_dir/ceilometer-agent-central -> $(readlink "$bin_dir/ceilometer-agent-central")"
echo "OCF agent: $ocf"

passed=0
failed=0
ok() { echo "  ok   $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL $*"; failed=$((failed + 1)); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# HTTP status of GET $2 on 127.0.0.1:$1 ("000" when nothing answers).
http_code() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
        printf "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" "$1" >&3
        read -r _ c _ <&3; echo "$c"' "$1" "$2" 2>/dev/null || echo 000
}

# is_code PORT PATH CODE
is_code() { [ "$(http_code "$1" "$2")" = "$3" ]; }

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
    local limit=$1 i=0; shift
    while ! "$@"; do
        i=$((i + 1)); [ $i -ge $((limit * 5)) ] && return 1; sleep 0.2
    done
}

# --- simcloud: Keystone (users agent-*, password secret) and an HTTP sample sink ---------
"$simcloud" --projects 5 >"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
wait_for 30 grep -qs "^http" "$tmp/sim.out" || { echo "simcloud did not start:"; cat "$tmp/sim.err"; exit 1; }
sim=$(head -1 "$tmp/sim.out")
echo "simcloud: $sim"

cat >"$tmp/polling.yaml" <<YAML
---
sources:
  - name: ocf
    interval: 5
    meters:
      - "storage.objects"
YAML

# write_conf NAME ADMIN_PORT REDIS_PORT
write_conf() {
    cat >"$tmp/$1.conf" <<CONF
[DEFAULT]
host = ocf-$1
log_file = $tmp/$1.log

[polling]
cfg_file = $tmp/polling.yaml
enable_notifications = false

[coordination]
backend_url = redis://127.0.0.1:$3?timeout=2&membership_timeout=3
heartbeat = 0.5

[service_credentials]
auth_type = password
auth_url = $sim/identity/v3
username = agent-$1
password = secret
user_domain_name = Default
project_name = service
project_domain_name = Default
interface = public

[ceilometer_central]
admin_listen = 127.0.0.1:$2
publishers = $sim/sink/ocf
spool_dir =
api_timeout = 5
CONF
    chmod 644 "$tmp/$1.conf"
}

ready_port=$(free_port)
notready_port=$(free_port)
dead_port=$(free_port)
closed=$(free_port)
redis_port=$(free_port)
write_conf ready "$ready_port" "$redis_port"
# A coordination backend where nothing listens: the process runs, never joins, /readyz
# stays 503. (The "keystone" readiness check of /readyz is always true today: no poller
# implements it, so the backend is what can make a live agent not ready.)
write_conf notready "$notready_port" "$closed"
touch "$tmp/ready.log" "$tmp/notready.log"
chmod 666 "$tmp"/*.log
user=nobody

run_matrix() {
    local mode=$1
    echo "--- OCF agent with $mode"
    # ocf ENV... ACTION: the resource agent as Pacemaker runs it.
    ocf() {
        env PATH="$bin_dir:/usr/sbin:/usr/bin:/sbin:/bin" OCF_ROOT="$ocf_root" \
            OCF_RESKEY_user=$user OCF_RESKEY_CRM_meta_timeout=20000 "$@" >>"$tmp/ocf.log" 2>&1
    }
    expect() { # NAME WANT ACTION ENV...
        local name=$1 want=$2 action=$3 rc; shift 3
        ocf "$@" "$ocf" "$action"; rc=$?
        if [ "$rc" = "$want" ]; then ok "$name: $action -> $rc"; else bad "$name: $action -> $rc, want $want (log: $(tail -2 "$tmp/ocf.log" | tr '\n' ' '))"; fi
    }
    "$redis" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
    local rp=$!; pids+=($rp)
    wait_for 10 redis-cli -p "$redis_port" ping >/dev/null 2>&1 || bad "redis-server did not start"
    local ready=(OCF_RESKEY_config="$tmp/ready.conf" OCF_RESKEY_pid="$tmp/ready.pid")
    local notready=(OCF_RESKEY_config="$tmp/notready.conf" OCF_RESKEY_pid="$tmp/notready.pid")

    # Ready: start (through su, the default binary name on PATH = the compatibility symlink)
    # returns once /readyz is 200; Pacemaker's 60 s start timeout is played by `timeout`.
    local t0=$SECONDS rc
    ocf "${ready[@]}" timeout 60 "$ocf" start; rc=$?
    if [ $rc = 0 ]; then ok "ready: start -> 0 in $((SECONDS - t0)) s"; else bad "ready: start -> $rc ($(tail -3 "$tmp/ready.log" | tr '\n' ' '))"; fi
    [ "$(http_code "$ready_port" /readyz)" = 200 ] && ok "ready: the agent's /readyz is 200" || bad "ready: /readyz is $(http_code "$ready_port" /readyz)"
    local pid; pid=$(cat "$tmp/ready.pid" 2>/dev/null)
    [ "$(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ')" = "$user" ] && ok "ready: pid $pid runs as $user" || bad "ready: pid $pid not running as $user"
    expect "ready" 0 monitor "${ready[@]}"
    expect "ready" 0 status "${ready[@]}"
    expect "ready, check=healthz" 0 monitor "${ready[@]}" OCF_RESKEY_check=healthz
    expect "ready, start again (already running)" 0 start "${ready[@]}"

    # Running but not ready: started directly (as the brief asks), pid file written by hand.
    "$bin_dir/ceilometer-central" --config-file "$tmp/notready.conf" >/dev/null 2>&1 &
    local np=$!; pids+=($np); echo $np >"$tmp/notready.pid"
    if wait_for 30 is_code "$notready_port" /healthz 200; then ok "not ready: /healthz is 200 (process up)"; else bad "not ready: /healthz never answered 200"; fi
    [ "$(http_code "$notready_port" /readyz)" = 503 ] && ok "not ready: the agent's /readyz is 503" || bad "not ready: /readyz is $(http_code "$notready_port" /readyz)"
    expect "not ready" 1 monitor "${notready[@]}"
    expect "not ready, check=healthz" 0 monitor "${notready[@]}" OCF_RESKEY_check=healthz
    expect "not ready, check=pid (the Fuel agent's monitor)" 0 monitor "${notready[@]}" OCF_RESKEY_check=pid
    expect "not ready, admin_listen parameter overrides the config" 0 monitor "${notready[@]}" OCF_RESKEY_admin_listen="127.0.0.1:$ready_port"

    # The ready agent loses its coordination backend: same process, now not ready.
    kill "$rp"; wait "$rp" 2>/dev/null
    if wait_for 20 is_code "$ready_port" /readyz 503; then ok "backend lost: the ready agent's /readyz turned 503"; else bad "backend lost: /readyz still $(http_code "$ready_port" /readyz)"; fi
    expect "ready agent after its Redis stopped" 1 monitor "${ready[@]}"

    # A live pid whose admin listener does not answer (hung, or not our agent).
    sleep 300 &
    local sp=$!; pids+=($sp); echo $sp >"$tmp/sleep.pid"
    expect "pid alive, nothing on the admin port" 1 monitor OCF_RESKEY_config="$tmp/ready.conf" OCF_RESKEY_pid="$tmp/sleep.pid" OCF_RESKEY_admin_listen="127.0.0.1:$dead_port"
    kill "$sp"; wait "$sp" 2>/dev/null

    # Not running.
    kill -TERM "$np"; wait "$np" 2>/dev/null
    expect "not ready agent after SIGTERM (stale pid file)" 7 monitor "${notready[@]}"
    t0=$SECONDS
    expect "ready" 0 stop "${ready[@]}"
    kill -0 "$pid" 2>/dev/null && bad "stop: pid $pid still alive" || ok "stop: pid $pid gone after $((SECONDS - t0)) s, pid file removed: $([ -e "$tmp/ready.pid" ] && echo no || echo yes)"
    grep -q "SIGTERM" "$tmp/ready.log" && ok "stop: the agent logged a graceful SIGTERM shutdown" || bad "stop: no SIGTERM line in the agent's log"
    expect "stopped" 7 monitor "${ready[@]}"
    expect "stopped" 7 status "${ready[@]}"
    expect "stopped, stop again" 0 stop "${ready[@]}"
    expect "no pid file" 7 monitor OCF_RESKEY_config="$tmp/ready.conf" OCF_RESKEY_pid="$tmp/none.pid"
    expect "probe without config file" 7 monitor OCF_RESKEY_config="$tmp/missing.conf" OCF_RESKEY_pid="$tmp/none.pid" OCF_RESKEY_CRM_meta_interval=0
    expect "validate-all, config missing" 5 validate-all OCF_RESKEY_config="$tmp/missing.conf"
    expect "validate-all, bad check" 6 validate-all "${ready[@]}" OCF_RESKEY_check=bogus
    expect "validate-all, binary missing" 5 validate-all "${ready[@]}" OCF_RESKEY_binary=/nonexistent/ceilometer-agent-central
    expect "validate-all" 0 validate-all "${ready[@]}"
}

# meta-data: the Fuel agent's parameters, so an existing CIB resource needs no change.
md=$(OCF_ROOT=$tmp/no-ocf "$ocf" meta-data)
for p in binary config user pid amqp_server_port additional_parameters; do
    grep -q "<parameter name=\"$p\"" <<<"$md" && ok "meta-data has parameter $p" || bad "meta-data lacks parameter $p"
done
grep -q '<resource-agent name="ceilometer-agent-central">' <<<"$md" && ok "meta-data names ceilometer-agent-central" || bad "meta-data resource-agent name"
if command -v xmllint >/dev/null; then
    xmllint --noout - <<<"$md" && ok "meta-data is well-formed XML" || bad "meta-data is not well-formed XML"
else
    python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())' <<<"$md" && ok "meta-data is well-formed XML" || bad "meta-data is not well-formed XML"
fi

mkdir -p "$tmp/no-ocf"
ocf_root=$tmp/no-ocf
run_matrix "its built-in fallback (no ocf-shellfuncs)"
if [ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]; then
    ocf_root=/usr/lib/ocf
    run_matrix "resource-agents' ocf-shellfuncs"
else
    echo "--- resource-agents is not installed: the matrix ran with the fallback only"
fi

echo
echo "ocf-monitor: $passed passed, $failed failed"
[ "$failed" = 0 ]
