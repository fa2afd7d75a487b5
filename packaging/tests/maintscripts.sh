#!/usr/bin/env bash
# The package's postinst in a private mount namespace (tmpfs over /etc, /var/lib, /var/log,
# /run and the examples directory; every system command it calls is a logging stub), so the
# machine running the test is not changed. Checks: the ceilometer user and the directories
# are created, a starting configuration is copied only where there is none, and the
# service is enabled and started on a plain machine but NEITHER enabled NOR started when
# Pacemaker manages the agent (CIB on disk or live) or an override says manual.
# usage: maintscripts.sh POSTINST   (needs root and unshare -m)
set -uo pipefail
postinst=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/maintscripts.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "  ok   $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL $*"; failed=$((failed + 1)); }

mkdir -p "$tmp/stubs" "$tmp/examples"
cp "$root/etc/ceilometer/ceilometer.conf" "$root/etc/ceilometer/polling.yaml" "$tmp/examples/"
for c in deb-systemd-helper deb-systemd-invoke systemctl; do
    printf '#!/bin/sh\necho "%s $*" >>"$CALLS"\nexit 0\n' "$c" >"$tmp/stubs/$c"
done
printf '#!/bin/sh\necho "groupadd $*" >>"$CALLS"\necho "ceilometer:x:900:" >>/etc/group\n' >"$tmp/stubs/groupadd"
printf '#!/bin/sh\necho "useradd $*" >>"$CALLS"\necho "ceilometer:x:900:900::/var/lib/ceilometer:/usr/sbin/nologin" >>/etc/passwd\n' >"$tmp/stubs/useradd"
chmod 755 "$tmp/stubs"/*

# scenario NAME ARGS SETUP: run postinst ARGS in a fresh namespace after the SETUP shell code.
scenario() {
    local name=$1 args=$2 setup=$3
    export CALLS=$tmp/$name.calls OUT=$tmp/$name.out
    : >"$CALLS"
    unshare -m --propagation private env PATH="$tmp/stubs:/usr/sbin:/usr/bin:/sbin:/bin" \
        POSTINST="$postinst" EXAMPLES="$tmp/examples" SETUP="$setup" ARGS="$args" bash -c '
        set -e
        for d in /etc /var/lib /var/log /run; do mount -t tmpfs none "$d"; done
        mkdir -p /usr/share/doc/ceilometer-central
        mount -t tmpfs none /usr/share/doc/ceilometer-central
        mkdir /usr/share/doc/ceilometer-central/examples
        cp "$EXAMPLES"/* /usr/share/doc/ceilometer-central/examples/
        printf "root:x:0:0:root:/root:/bin/sh\n" >/etc/passwd
        printf "root:x:0:\n" >/etc/group
        printf "passwd: files\ngroup: files\n" >/etc/nsswitch.conf
        mkdir -p /run/systemd/system
        eval "$SETUP"
        rc=0; sh "$POSTINST" $ARGS >"$OUT" 2>&1 || rc=$?
        echo "exit $rc" >>"$CALLS"
        # What postinst left behind, for the checks outside.
        stat -c "%U:%G %a %n" /var/log/ceilometer /var/lib/ceilometer-central /var/lib/ceilometer-central/spool \
            /etc/ceilometer /etc/ceilometer/ceilometer.conf /etc/ceilometer/polling.yaml >>"$CALLS" 2>&1 || true
        head -1 /etc/ceilometer/ceilometer.conf | sed "s/^/first-line /" >>"$CALLS" 2>&1 || true
    '
}
calls() { grep -q -- "$2" "$tmp/$1.calls"; }
expect_started() {
    local n=$1 how=$2
    calls "$n" "^exit 0" && ok "$n: postinst exits 0" || bad "$n: postinst failed: $(cat "$tmp/$n.out")"
    calls "$n" "deb-systemd-helper enable ceilometer-central.service" && ok "$n: service enabled" || bad "$n: service not enabled"
    calls "$n" "deb-systemd-invoke $how ceilometer-central.service" && ok "$n: deb-systemd-invoke $how" || bad "$n: no deb-systemd-invoke $how"
}
expect_hands_off() {
    local n=$1
    calls "$n" "^exit 0" && ok "$n: postinst exits 0" || bad "$n: postinst failed: $(cat "$tmp/$n.out")"
    calls "$n" "deb-systemd-helper enable" && bad "$n: service enabled" || ok "$n: service not enabled"
    calls "$n" "deb-systemd-invoke" && bad "$n: service started/restarted" || ok "$n: service neither started nor restarted"
    grep -q "neither enabled nor started" "$tmp/$n.out" && ok "$n: says why ($(head -1 "$tmp/$n.out"))" || bad "$n: no explanation printed"
}

echo "--- fresh install on a plain machine"
scenario plain configure ""
expect_started plain start
calls plain "useradd --system --gid ceilometer" && ok "plain: system user ceilometer created" || bad "plain: no useradd"
calls plain "groupadd --system ceilometer" && ok "plain: group ceilometer created" || bad "plain: no groupadd"
for l in "ceilometer:ceilometer 750 /var/log/ceilometer" "ceilometer:ceilometer 750 /var/lib/ceilometer-central/spool" \
    "root:ceilometer 640 /etc/ceilometer/ceilometer.conf" "root:ceilometer 644 /etc/ceilometer/polling.yaml"; do
    calls plain "^$l\$" && ok "plain: $l" || bad "plain: want $l, got: $(grep "${l##* }\$" "$tmp/plain.calls")"
done

echo "--- upgrade on a plain machine"
scenario upgrade "configure 0.0.9-1" ""
expect_started upgrade try-restart

echo "--- an existing ceilometer.conf is kept"
scenario keep configure 'mkdir /etc/ceilometer; echo "# the operator'"'"'s file" >/etc/ceilometer/ceilometer.conf'
calls keep "first-line # the operator's file" && ok "keep: /etc/ceilometer/ceilometer.conf untouched" || bad "keep: ceilometer.conf overwritten"

echo "--- Pacemaker manages the agent (CIB on disk)"
scenario cib configure 'mkdir -p /var/lib/pacemaker/cib; echo "<primitive id=\"p_ceilometer-agent-central\" class=\"ocf\" provider=\"fuel\" type=\"ceilometer-agent-central\"/>" >/var/lib/pacemaker/cib/cib.xml'
expect_hands_off cib
calls cib "deb-systemd-helper update-state ceilometer-central.service" && ok "cib: unit state recorded (update-state)" || bad "cib: no update-state"

echo "--- Pacemaker manages the agent (live CIB through cibadmin)"
printf '#!/bin/sh\necho "<resources><clone id=\\"clone_p_ceilometer-agent-central\\"><primitive class=\\"ocf\\" provider=\\"fuel\\" type=\\"ceilometer-agent-central\\"/></clone></resources>"\n' >"$tmp/stubs/cibadmin"
chmod 755 "$tmp/stubs/cibadmin"
scenario cibadmin configure ""
expect_hands_off cibadmin
rm "$tmp/stubs/cibadmin"

echo "--- upgrade while Pacemaker manages the agent"
scenario cib-upgrade "configure 0.0.9-1" 'mkdir -p /var/lib/pacemaker/cib; echo "type=\"ceilometer-agent-central\"" >/var/lib/pacemaker/cib/cib.xml'
expect_hands_off cib-upgrade

echo "--- upstart-style override (what Fuel writes)"
scenario override configure 'mkdir -p /etc/init; echo manual >/etc/init/ceilometer-agent-central.override'
expect_hands_off override

echo "--- MANUAL=yes in /etc/default/ceilometer-central"
scenario default-manual configure 'mkdir -p /etc/default; echo MANUAL=yes >/etc/default/ceilometer-central'
expect_hands_off default-manual

echo "--- MANUAL=no in /etc/default/ceilometer-central (the shipped value)"
scenario default-auto configure 'mkdir -p /etc/default; echo MANUAL=no >/etc/default/ceilometer-central'
expect_started default-auto start

echo "maintscripts: $passed passed, $failed failed"
[ "$failed" = 0 ]
