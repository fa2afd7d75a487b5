#!/usr/bin/env bash
# Prints etc/ceilometer/ceilometer.conf with every active option commented out: the conffile
# /etc/ceilometer/ceilometer-central.conf. The agent reads it after ceilometer.conf (oslo's
# default search), so it must not set anything until the operator uncomments a line.
set -euo pipefail
cd "$(dirname "$0")/../.."
sed -E 's/^([A-Za-z_][A-Za-z0-9_.-]*[[:space:]]*=)/#\1/' etc/ceilometer/ceilometer.conf
