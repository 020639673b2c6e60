#!/usr/bin/env bash
# `make demo`: simulate a small beamline run (two Pilatus 6M rotation series as CBFs, an
# Eiger 4M HDF5 master, a truncated and a garbage file), scan it with the default model,
# and scan the shared real frames when they are there. Reruns reuse what exists.
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUN=${RUN:-demo-out/run}
REAL_FRAMES=${REAL_FRAMES:-../shared/real-frames}
mkdir -p "$RUN"
"$BIN/mxqc" simulate "$RUN/series1" -n 24 --detector pilatus6m --format cbf --seed 11 \
    --rates ice_ring=0.5,loop_scattering=0.5 --sweep 12 --workers 2 --resume
"$BIN/mxqc" simulate "$RUN/series2" -n 24 --detector pilatus6m --format cbf --seed 12 \
    --rates non_uniform_detector=0.6 --sweep 12 --workers 2 --resume
"$BIN/mxqc" simulate "$RUN/sweep" -n 200 --detector eiger4m --format h5 --seed 13 \
    --rates ice_ring=0.3 --workers 2 --resume
head -c 200000 "$RUN/series1/sim_11_000000.cbf" > "$RUN/series1/sim_11_truncated.cbf"
printf 'not a detector frame' > "$RUN/series2/sim_12_garbage.img"
"$BIN/mxqc" scan "$RUN" --out demo-out/scan --workers 2 || [ $? -eq 1 ]  # 1: the bad files
if [ -d "$REAL_FRAMES" ]; then
    "$BIN/mxqc" scan "$REAL_FRAMES" --out demo-out/real || [ $? -eq 1 ]
else
    echo "no real frames at $REAL_FRAMES: skipped them (make demo REAL_FRAMES=DIR)" >&2
fi
echo "report: $(pwd)/demo-out/scan/report.html"
