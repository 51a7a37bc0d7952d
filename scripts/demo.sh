#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: Redis, both simulators and scbridge on loopback; a few hundred
# orders across channels flow through, and a summary of each side closes
# it. usage: demo.sh BUILD_DIR [--keep]   (--keep: leave it running)
set -eu
bdir=${1:?usage: demo.sh BUILD_DIR [--keep]}
shift
exec env SCB_BUILD_DIR="$bdir" python3 "$(dirname "$0")/demo.py" "$@"
