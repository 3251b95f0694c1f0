#!/usr/bin/env bash
# Prepare .gpu/ (ignored by git) for the next GPU run, in one command (runbook: gpu/README.md, "Next run"):
#   .gpu/fer2013.npz.xz               FER2013 Training + the first 300 PublicTest faces (logged during training only)
#   .gpu/init/xception-d4-48.npz       the served models' network (the accurate model; the fast one is the same
#                                      network served without the mirror pass), back into a student file to go on from
# then checks that the working tree and .gpu/ together fit the 64 MiB that travel to the GPU machine.
# Usage: bash gpu/prepare.sh   (about 2 minutes on 2 cores; PY=... picks the Python, .venv's by default)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LIMIT_BYTES=$((64 * 1024 * 1024))

$PY gpu/pack_data.py --val-faces 300
rm -f .gpu/init/*.npz
$PY gpu/student_from_tflite.py models/emotion-accurate --arch xception-d4-48 --out .gpu/init/xception-d4-48.npz

# what travels: tracked and untracked-but-not-ignored files, plus the carried .gpu/
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | paste -sd+ | bc)
gpu_bytes=$(find .gpu -type f -printf '%s\n' | paste -sd+ | bc)
total=$((tree_bytes + gpu_bytes))
printf 'working tree %.1f MiB + .gpu %.1f MiB = %.1f MiB of 64\n' \
  "$(bc -l <<< "$tree_bytes / 1048576")" "$(bc -l <<< "$gpu_bytes / 1048576")" "$(bc -l <<< "$total / 1048576")"
if [ "$total" -gt "$LIMIT_BYTES" ]; then
  echo "too large to travel: remove untracked files or pack less" >&2
  exit 1
fi
echo 'ready: run(command="TRAIN_TEACHERS=1 TEACHER_SHARE=60 TEACHERS=\"vgg:3 vgg:4 vgg:5\" TEACHER_VIEWS=1 OUT=$OUT bash gpu/run.sh 500", carry=[".gpu"], timeout_s=560)'
