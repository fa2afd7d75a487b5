#!/usr/bin/env bash
# The shipped Redis/Sentinel examples, run for real: three redis-server and three
# redis-sentinel processes on 127.0.0.11-13 (standing in for the management addresses
# 192.168.0.11-13; paths and passwords substituted, nothing else), then a ceilometer-central
# with the shipped backend_url. Checks the flaws the examples fix: auth required (Redis and
# Sentinel), replicas read-only, quorum reachable with 3 sentinels, the agent joins through
# the sentinels, and a master that has lost its replicas refuses writes.
# usage: redis-examples.sh EXAMPLES_DIR CEILOMETER_CENTRAL_BINARY
set -uo pipefail
src=$(readlink -f "$1")
bin=$(readlink -f "$2")
tmp=$(mktemp -d /tmp/redis-examples.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    disown -a 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
ok() { echo "  ok   $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL $*"; failed=$((failed + 1)); }
wait_for() { local limit=$1 i=0; shift; while ! "$@"; do i=$((i + 1)); [ $i -ge $((limit * 5)) ] && return 1; sleep 0.2; done; }

for c in redis-server redis-sentinel redis-cli; do
    command -v $c >/dev/null || { echo "redis-examples.sh: $c missing" >&2; exit 1; }
done
rpass=rp-$RANDOM$RANDOM
spass=sp-$RANDOM$RANDOM
subst() {
    sed -e "s/192\.168\.0\.1\([123]\)/127.0.0.1\1/g" -e "s/REDIS_PASS/$rpass/g" -e "s/SENTINEL_PASS/$spass/g" \
        -e "s|/etc/redis/redis-common.conf|$tmp/redis-common.conf|" -e "s/^supervised systemd/supervised no/" "$1"
}
subst "$src/redis-common.conf" >"$tmp/redis-common.conf"
for i in 1 2 3; do
    mkdir -p "$tmp/n$i"
    { subst "$src/redis-controller-$i.conf"
      printf 'dir %s\npidfile %s\nlogfile %s\n' "$tmp/n$i" "$tmp/n$i/redis.pid" "$tmp/n$i/redis.log"; } >"$tmp/n$i/redis.conf"
    subst "$src/sentinel-controller-$i.conf" | sed -e "s|^dir .*|dir $tmp/n$i|" \
        -e "s|^pidfile .*|pidfile $tmp/n$i/sentinel.pid|" -e "s|^logfile .*|logfile $tmp/n$i/sentinel.log|" >"$tmp/n$i/sentinel.conf"
done
r() { local h=$1; shift; redis-cli -h "127.0.0.1$h" -p 6379 --no-auth-warning -a "$rpass" "$@" 2>&1; }
s() { local h=$1; shift; redis-cli -h "127.0.0.1$h" -p 26379 --no-auth-warning -a "$spass" "$@" 2>&1; }

for i in 1 2 3; do
    redis-server "$tmp/n$i/redis.conf" & pids+=($!)
done
for i in 1 2 3; do
    wait_for 10 eval "[ \"\$(r $i ping)\" = PONG ]" && ok "redis on 127.0.0.1$i:6379 (bound to that address only) answers with the password" \
        || { bad "redis $i did not start: $(tail -3 "$tmp/n$i/redis.log")"; }
done
for i in 1 2 3; do
    redis-sentinel "$tmp/n$i/sentinel.conf" & pids+=($!)
done

out=$(redis-cli -h 127.0.0.11 -p 6379 ping 2>&1)
[[ $out == *NOAUTH* ]] && ok "redis without the password: $out" || bad "redis answered without a password: $out"
out=$(redis-cli -h 127.0.0.1 -p 6379 ping 2>&1)
[[ $out == *refused* ]] || [[ $out == *NOAUTH* ]] && ok "nothing of ours on 127.0.0.1:6379 (bind)" || bad "127.0.0.1:6379: $out"
wait_for 20 eval '[[ "$(r 1 info replication)" == *connected_slaves:2* ]]' && ok "controller-1 is master with 2 replicas (masterauth works)" \
    || bad "replication: $(r 1 info replication | tr '\r\n' '  ')"
out=$(r 2 set k v)
[[ $out == *READONLY* ]] && ok "write on a replica refused: $out" || bad "replica accepted a write: $out"

for i in 1 2 3; do
    wait_for 10 eval "[ \"\$(s $i ping)\" = PONG ]" || bad "sentinel $i did not start: $(tail -3 "$tmp/n$i/sentinel.log")"
done
out=$(redis-cli -h 127.0.0.11 -p 26379 ping 2>&1)
[[ $out == *NOAUTH* ]] && ok "sentinel without the password: $out" || bad "sentinel answered without a password: $out"
out=$(s 1 sentinel get-master-addr-by-name ceilometer_redis_master | tr '\n' ' ')
[ "$out" = "127.0.0.11 6379 " ] && ok "sentinel knows master ceilometer_redis_master at $out" || bad "get-master-addr-by-name: $out"
wait_for 30 eval '[[ "$(s 1 sentinel ckquorum ceilometer_redis_master)" == "OK 3 usable"* ]]' \
    && ok "sentinel ckquorum: $(s 1 sentinel ckquorum ceilometer_redis_master)" || bad "ckquorum: $(s 1 sentinel ckquorum ceilometer_redis_master)"

# The agent with the shipped backend_url.
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf -- '---\nsources:\n  - name: x\n    interval: 60\n    meters: ["storage.objects"]\n' >"$tmp/polling.yaml"
{ printf '[DEFAULT]\nhost = redis-examples\n\n[polling]\ncfg_file = %s\nenable_notifications = false\n\n' "$tmp/polling.yaml"
  subst "$src/ceilometer-coordination.conf"
  printf '\n[service_credentials]\nauth_url = http://127.0.0.1:9/v3\nusername = agent-x\npassword = x\nuser_domain_name = Default\nproject_name = service\nproject_domain_name = Default\n\n[ceilometer_central]\nadmin_listen = 127.0.0.1:%s\nspool_dir =\n' "$admin"
} >"$tmp/ceilometer.conf"
"$bin" --config-file "$tmp/ceilometer.conf" >"$tmp/agent.log" 2>&1 & apid=$!; pids+=($apid)
ready() { timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0; printf "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3; read -r _ c _ <&3; [ "$c" = 200 ]' "$admin" 2>/dev/null; }
wait_for 30 ready && ok "ceilometer-central with the shipped backend_url joined through the sentinels (/readyz 200)" \
    || bad "agent not ready with the shipped backend_url: $(tail -5 "$tmp/agent.log")"
out=$(r 1 keys '_tooz_beats:*')
[[ $out == *redis-examples* ]] && ok "its heartbeat key is on the master: $out" || bad "no heartbeat key on the master: $out"
kill -TERM "$apid"; wait "$apid" 2>/dev/null

# min-replicas-to-write: stop both replicas; within min-replicas-max-lag (10 s) the master
# refuses writes.
for i in 2 3; do r $i shutdown nosave >/dev/null; done
wait_for 25 eval '[[ "$(r 1 set k v)" == *NOREPLICAS* ]]' && ok "master without replicas refuses writes: $(r 1 set k v)" \
    || bad "master still accepts writes without replicas: $(r 1 set k v)"

echo "redis-examples: $passed passed, $failed failed"
[ "$failed" = 0 ]
