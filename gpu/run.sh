#!/usr/bin/env bash
# The prepared GPU run (runbook: gpu/README.md). Trains teachers in parallel, then distils students from them, all
# within TOTAL seconds of wall time, writing each phase's results to $OUT as it ends:
#   $OUT/log.txt                       everything printed
#   $OUT/teachers.tar.NN               teachers/<name>/{teacher.npz,probs.npz,record.json}, split in 15 MB parts
#                                      (none when the teachers were carried in .gpu/teachers: students only)
#   $OUT/students/<arch>.npz            each student's weights and record (rewritten when it ends)
#   $OUT/gpu_use.csv                   the GPU's utilisation every 5 s (nvidia-smi)
# Usage: OUT=/somewhere bash gpu/run.sh [TOTAL_SECONDS=540] [LIMIT_FACES=0]
set -u
TOTAL=${1:-540}
LIMIT=${2:-0}
OUT=${OUT:-/tmp/fer-gpu-out}
WORK=${WORK:-/tmp/fer-gpu}
PY=${PY:-python3}
TEACHERS=${TEACHERS:-"vgg:1 vgg:2 resnet18:1"}
STUDENTS=${STUDENTS-"xception-d4-48 xception-d4-64"}  # STUDENTS="" for teachers only
TEACHER_SHARE=${TEACHER_SHARE:-40}  # percent of TOTAL for the teachers; the students get the rest
INIT=${INIT:-.gpu/init}  # <arch>.npz there (gpu/student_from_tflite.py): that student starts from it, at INIT_LR
INIT_LR=${INIT_LR:-0.01}
TEACHER_VIEWS=${TEACHER_VIEWS:-2}  # 1: the students' teachers see each face once, not also its mirror image
LIGHT=${LIGHT:-0.5}  # share of the students' faces relit at random (the teachers see them as they were); 0: none
START=$(date +%s)
END=$((START + TOTAL))
export PYTHONUNBUFFERED=1
mkdir -p "$OUT/students" "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1
cd "$(dirname "$0")/.."
echo "start $(date -u) total ${TOTAL}s limit ${LIMIT}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
$PY -c 'import torch, numpy; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "numpy", numpy.__version__)'
# how busy the GPU is, every 5 s (GPU and memory utilisation in %, memory used in MiB): whether the processes that
# share it leave it idle, which decides how many teachers the next run trains at once
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used --format=csv,noheader -l 5 \
    > "$OUT/gpu_use.csv" 2>/dev/null &
  SMI=$!
  trap 'kill $SMI 2>/dev/null' EXIT
fi
$PY gpu/train_torch.py unpack --src .gpu/fer2013.npz.xz --dst "$WORK/fer2013.npz" || exit 1
echo "unpacked at +$(( $(date +%s) - START ))s"

# Phase 1: teachers, in parallel, until TEACHER_SHARE% of the time (their evaluation and saving take some seconds more).
# Teachers kept in the repository (models/teachers/*/teacher.npz, 8-bit) skip it unless TRAIN_TEACHERS=1: the
# students get the whole time.
carry_teachers() {  # the repository's 8-bit teachers join the students' teachers
  for t in models/teachers/*/teacher.npz; do
    [ -f "$t" ] || continue
    mkdir -p "$WORK/teachers/$(basename "$(dirname "$t")")" && cp "$t" "$_/"
  done
  echo "teachers for the students: $(ls "$WORK/teachers" 2>/dev/null | tr '\n' ' ')"
}
if [ "${TRAIN_TEACHERS:-0}" != 1 ] && ls models/teachers/*/teacher.npz >/dev/null 2>&1; then
  carry_teachers
  TEACHERS=""
  T_END=$START
else
  T_END=$((START + TOTAL * TEACHER_SHARE / 100))
fi
pids=()  # a bare `wait` would also wait for the tee above (bash >= 5.1) and never return
for spec in $TEACHERS; do
  arch=${spec%%:*}; seed=${spec##*:}
  FER_TAG="$arch-$seed" $PY gpu/train_torch.py teacher --data "$WORK/fer2013.npz" --arch "$arch" --seed "$seed" \
    --deadline "$T_END" --limit "$LIMIT" --out "$WORK/teachers/$arch-$seed" &
  pids+=($!)
done
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"  # none when the teachers were carried
echo "teachers done at +$(( $(date +%s) - START ))s"
if [ -n "$TEACHERS" ] && [ -d "$WORK/teachers" ]; then
  tar -C "$WORK" -cf - teachers | split -b 15m -d - "$OUT/teachers.tar."
  ls -la "$OUT"
  carry_teachers  # after the tar: only the new teachers travel back
fi

# Phase 2: students, in parallel, until 40 s before the end (evaluation, batch-norm pass and saving follow)
S_END=$((END - 40))
pids=()
for arch in $STUDENTS; do
  start=()
  [ -f "$INIT/$arch.npz" ] && start=(--init "$INIT/$arch.npz" --lr "$INIT_LR")
  FER_TAG="$arch" $PY gpu/train_torch.py student --data "$WORK/fer2013.npz" --arch "$arch" "${start[@]}" \
    --teacher-views "$TEACHER_VIEWS" --light "$LIGHT" \
    --teachers "$WORK/teachers" --deadline "$S_END" --limit "$LIMIT" --out "$OUT/students/$arch.npz" &
  pids+=($!)
done
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"  # none for a teachers-only run (STUDENTS="")
echo "students done at +$(( $(date +%s) - START ))s"
ls -laR "$OUT"
