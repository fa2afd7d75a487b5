#!/usr/bin/env bash
# Packaging checks (issue 12), run at the end of scripts/test-all.sh:
#   1. build the .deb with cargo-deb (installed, pinned, when missing) in release mode;
#   2. its contents (dpkg-deb -c) and control data (conffiles, maintainer scripts, depends);
#   3. the packaged binary runs under both names;
#   4. systemd-analyze verify on the packaged unit (ExecStart pointed at the packaged binary);
#   5. the maintainer scripts: shell syntax, and their hands-off rule under Pacemaker/manual;
#   6. the packaged OCF agent's monitor against running agents (tests/ocf-monitor.sh);
#   7. the Redis/Sentinel examples on three loopback addresses (tests/redis-examples.sh).
# Every check prints what it checks; any failure fails the script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
CARGO_DEB_VERSION=3.8.0
start=$SECONDS

log() { printf '==> [%3ds] %s\n' $((SECONDS - start)) "$*"; }
passed=0
failed=0
check() { # DESCRIPTION CMD...
    local d=$1; shift
    if "$@"; then echo "  ok   $d"; passed=$((passed + 1)); else echo "  FAIL $d"; failed=$((failed + 1)); fi
}

SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

# --- tools ----------------------------------------------------------------------------------
need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v python3 >/dev/null || need+=(python3)
# resource-agents: the real ocf-shellfuncs (the OCF agent is also tested without them).
[ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || need+=(resource-agents)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    policy=/usr/sbin/policy-rc.d; made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod +x "$policy"; made_policy=1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$made_policy" ]; then $SUDO rm -f "$policy"; fi
fi
if [ "$(cargo deb --version 2>/dev/null || true)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    log "cargo install cargo-deb $CARGO_DEB_VERSION"
    # --debug: 51 s to build here instead of 85 s; it packs one small .deb.
    build=$(mktemp -d /tmp/cargo-deb-build.XXXXXX)
    CARGO_TARGET_DIR=$build cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet --debug
    rm -rf "$build"
fi
log "cargo-deb $(cargo deb --version)"

# --- 1. build -------------------------------------------------------------------------------
# One release build of the agent, the OCF test's cloud (simcloud) and the load benchmark:
# cargo deb below packs the agent from it without building again, and test-all's loadbench
# step reuses it.
log "cargo build --release -p ceilometer-central -p simcloud -p loadbench"
t0=$SECONDS
cargo build --release --locked -p ceilometer-central -p simcloud -p loadbench
log "release build in $((SECONDS - t0)) s"
log "cargo deb -p ceilometer-central (packs the release build above, stripped)"
t0=$SECONDS
deb=$(cargo deb -p ceilometer-central --locked --strip --fast 2>"$CARGO_TARGET_DIR/cargo-deb.log" | tail -1) || { cat "$CARGO_TARGET_DIR/cargo-deb.log"; exit 1; }
log "built $deb in $((SECONDS - t0)) s ($(du -h "$deb" | cut -f1))"
[ -f "$deb" ] || { echo "no .deb produced" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pkg-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# --- 2. contents ----------------------------------------------------------------------------
log "dpkg-deb -c: contents"
dpkg-deb -c "$deb" >"$tmp/contents"
has() { # MODE-PREFIX PATH [LINK-TARGET]
    awk -v m="$1" -v p="./$2" -v l="${3:-}" '
        $6 == p && index($1, m) == 1 && (l == "" || ($7 == "->" && $8 == l)) { f = 1 }
        END { exit !f }' "$tmp/contents"
}
check "/usr/bin/ceilometer-central, executable"          has -rwxr-xr-x usr/bin/ceilometer-central
check "/usr/bin/ceilometer-agent-central -> ceilometer-central (compatibility name)" has l usr/bin/ceilometer-agent-central ceilometer-central
check "/lib/systemd/system/ceilometer-central.service"   has -rw-r--r-- lib/systemd/system/ceilometer-central.service
check "/usr/lib/ocf/resource.d/fuel/ceilometer-agent-central, executable" has -rwxr-xr-x usr/lib/ocf/resource.d/fuel/ceilometer-agent-central
check "/etc/default/ceilometer-central"                  has -rw-r--r-- etc/default/ceilometer-central
for f in ceilometer.conf polling.yaml redis/redis-common.conf redis/redis-controller-1.conf \
    redis/redis-controller-2.conf redis/redis-controller-3.conf redis/sentinel-controller-1.conf \
    redis/sentinel-controller-2.conf redis/sentinel-controller-3.conf redis/ceilometer-coordination.conf; do
    check "example $f under /usr/share/doc" has -rw-r--r-- "usr/share/doc/ceilometer-central/examples/$f"
done
check "docs: packaging.md, README.md" eval 'has -rw-r--r-- usr/share/doc/ceilometer-central/packaging.md && has -rw-r--r-- usr/share/doc/ceilometer-central/README.md'
check "every file owned by root:root" eval '! awk '"'"'$2 != "0/0"'"'"' "$tmp/contents" | grep -q .'
check "only ceilometer-central.conf under /etc/ceilometer (ceilometer.conf and polling.yaml belong to the Python packages; postinst copies examples when missing)" eval '[ "$(grep -c "\./etc/ceilometer/" "$tmp/contents")" = 2 ] && has -rw-r--r-- etc/ceilometer/ceilometer-central.conf'

log "dpkg-deb -I / -f: control data"
dpkg-deb -e "$deb" "$tmp/control"
check "conffiles: /etc/default/ceilometer-central" grep -qx /etc/default/ceilometer-central "$tmp/control/conffiles"
check "conffiles: /etc/ceilometer/ceilometer-central.conf" grep -qx /etc/ceilometer/ceilometer-central.conf "$tmp/control/conffiles"
check "ceilometer-central.conf is the example with every option commented (in sync)" \
    diff -q <("$root/packaging/debian/make-commented-conf.sh") "$root/packaging/debian/ceilometer-central.conf"
check "ceilometer-central.conf sets nothing" eval '! grep -Eq "^[A-Za-z_][A-Za-z0-9_.-]*[[:space:]]*=" "$root/packaging/debian/ceilometer-central.conf"'
for s in preinst postinst prerm postrm; do
    check "maintainer script $s present, executable, sh -n clean" eval "[ -x '$tmp/control/$s' ] && sh -n '$tmp/control/$s'"
done
check "Package: ceilometer-central" test "$(dpkg-deb -f "$deb" Package)" = ceilometer-central
check "Depends has libc6, passwd, init-system-helpers" eval 'd=$(dpkg-deb -f "$deb" Depends); [[ $d == *libc6* && $d == *passwd* && $d == *init-system-helpers* ]]'
check "preinst diverts /usr/bin/ceilometer-agent-central and Fuel's OCF agent" eval 'grep -q "divert /usr/bin/ceilometer-agent-central" "$tmp/control/preinst" && grep -q "divert /usr/lib/ocf/resource.d/fuel/ceilometer-agent-central" "$tmp/control/preinst"'

# --- 3. the packaged binary -----------------------------------------------------------------
dpkg-deb -x "$deb" "$tmp/root"
log "packaged binary"
check "ceilometer-central --version" eval '"$tmp/root/usr/bin/ceilometer-central" --version | grep -q "^ceilometer-central "'
check "ceilometer-agent-central --config-file ... validate (the compatibility name)" \
    eval '"$tmp/root/usr/bin/ceilometer-agent-central" --config-file "$tmp/root/usr/share/doc/ceilometer-central/examples/ceilometer.conf" validate >"$tmp/validate.out" 2>&1 || { cat "$tmp/validate.out"; false; }'
check "binary is stripped (no .debug_info/.debug_line/.symtab)" eval '! readelf -SW "$tmp/root/usr/bin/ceilometer-central" | grep -Eq "\.debug_(info|line) |\.symtab "'

# --- 4. systemd-analyze verify ----------------------------------------------------------------
log "systemd-analyze verify ceilometer-central.service"
unit=$tmp/unit/ceilometer-central.service
mkdir -p "$tmp/unit"
sed "s|/usr/bin/ceilometer-central|$tmp/root/usr/bin/ceilometer-central|" \
    "$tmp/root/lib/systemd/system/ceilometer-central.service" >"$unit"
grep -q "^ExecStart=$tmp/root/usr/bin/ceilometer-central " "$unit" || { echo "ExecStart not substituted" >&2; exit 1; }
verify_rc=0
verify_out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$unit" 2>&1) || verify_rc=$?
[ -z "$verify_out" ] || printf '%s\n' "$verify_out" | sed 's/^/    /'
check "systemd-analyze verify exits 0" test "$verify_rc" = 0
check "systemd-analyze verify prints nothing about the unit" eval '! grep -q "ceilometer-central.service" <<<"$verify_out"'
for kv in Type=notify WatchdogSec= User=ceilometer Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes "ReadWritePaths=/var/log/ceilometer /var/lib/ceilometer-central"; do
    check "unit sets $kv" grep -q "^$kv" "$unit"
done
if security=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -1); then
    echo "    $security"
    check "systemd-analyze security: exposure below 4.0" eval 'awk "{for(i=1;i<=NF;i++) if (\$i ~ /^[0-9.]+$/) {exit !(\$i < 4.0)}}" <<<"$security"'
fi

# --- 5. maintainer scripts: hands off under Pacemaker / manual --------------------------------
log "postinst in a private mount namespace (tests/maintscripts.sh)"
"$here/maintscripts.sh" "$tmp/control/postinst" && passed=$((passed + 1)) || failed=$((failed + 1))

# --- 6. OCF monitor against running agents ---------------------------------------------------------
log "OCF agent from the package against real agents (tests/ocf-monitor.sh)"
"$here/ocf-monitor.sh" "$tmp/root/usr/bin" "$tmp/root/usr/lib/ocf/resource.d/fuel/ceilometer-agent-central" \
    "$CARGO_TARGET_DIR/release/simcloud" && passed=$((passed + 1)) || failed=$((failed + 1))

# --- 7. Redis/Sentinel examples ------------------------------------------------------------------
log "Redis/Sentinel examples on 127.0.0.11-13 (tests/redis-examples.sh)"
"$here/redis-examples.sh" "$tmp/root/usr/share/doc/ceilometer-central/examples/redis" "$tmp/root/usr/bin/ceilometer-central" \
    && passed=$((passed + 1)) || failed=$((failed + 1))

echo
log "packaging: done in $((SECONDS - start)) s"
echo "packaging: $passed passed, $failed failed"
[ "$failed" = 0 ]
