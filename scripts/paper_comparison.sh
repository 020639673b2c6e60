#!/usr/bin/env bash
# The paper's comparison (its Table 3) on simulated frames: 10,000 frames for training
# (8,000 / 1,000 / 1,000), a separately seeded 2,000-frame test set, the four classical
# models on radial vectors, ResNet-18 on the three image views with the default preset,
# and the ensemble of the CNNs. Each step is skipped when its output exists, so the script
# resumes where it stopped. CNNs train on a GPU when torch sees one.
#
#   scripts/paper_comparison.sh WORK_DIR
# Environment: MXQC (the mxqc command), WORKERS, and for a quick trial N_TRAIN, N_TEST and
# PRESET (e.g. N_TRAIN=100 N_TEST=40 PRESET=smoke).
set -euo pipefail
work=${1:-comparison}
mxqc=${MXQC:-mxqc}
workers=${WORKERS:-$(nproc)}
n_train=${N_TRAIN:-10000}
n_test=${N_TEST:-2000}
preset=${PRESET:-default}
detectors=square1k,pilatus6m,square1k,eiger4m,square1k,ccd_2x2
mkdir -p "$work/models"

if [ ! -f "$work/train/labels_test.csv" ]; then
  $mxqc simulate "$work/train" -n "$n_train" --seed 101 --format png --resize area \
    --workers "$workers" --detector "$detectors" --resume
  $mxqc dataset split "$work/train" --seed 0
fi
if [ ! -f "$work/test/labels.csv" ]; then
  $mxqc simulate "$work/test" -n "$n_test" --seed 202 --format png --resize area \
    --workers "$workers" --detector "$detectors" --resume
fi
for kind in nb knn rf svm; do
  [ -f "$work/models/$kind.skops" ] ||
    $mxqc train "$work/train" --arch "$kind" --jobs "$workers" --out "$work/models/$kind.skops"
done
for view in cartesian polar-min polar-max; do
  [ -f "$work/models/resnet18-$view.safetensors" ] ||
    $mxqc train "$work/train" --preset "$preset" --representation "$view" --half \
      --out "$work/models/resnet18-$view.safetensors"
done
$mxqc compare "$work/test" --split all --ensemble --val-dataset "$work/train" \
  --out "$work/compare" \
  "$work"/models/{nb,knn,rf,svm}.skops "$work"/models/resnet18-*.safetensors
