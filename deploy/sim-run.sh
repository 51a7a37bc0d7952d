#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one simulator in its container (Dockerfile, target "sim"). The
# simulators serve on 127.0.0.1 only, so socat forwards PORT on every
# address of the container to the simulator on PORT + 10000. When either
# process ends, the other is stopped and the container exits.
# usage: sim-run sc|ddi PORT [simulator options...]
set -eu
if [ $# -lt 2 ]; then
    echo "usage: sim-run sc|ddi PORT [options...]" >&2
    exit 2
fi
kind=$1
port=$2
shift 2
case "$kind" in
sc | ddi) ;;
*) echo "sim-run: unknown simulator $kind" >&2; exit 2 ;;
esac
inner=$((port + 10000))

"/usr/local/bin/sim-$kind" --port "$inner" "$@" &
sim=$!
socat "TCP-LISTEN:$port,fork,reuseaddr,backlog=256" "TCP:127.0.0.1:$inner" &
fwd=$!

while kill -0 "$sim" 2>/dev/null && kill -0 "$fwd" 2>/dev/null; do
    sleep 1
done
kill "$sim" "$fwd" 2>/dev/null || true
echo "sim-run: sim-$kind or its forwarder ended" >&2
exit 1
