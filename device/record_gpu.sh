#!/usr/bin/env bash
# Issue 19's one command on the lent GPU machine: the findings record (`hrcn record --profile
# record-gpu`) and the GPU benchmark (benchmarks/bench_gpu.py), packed into one archive.
#
# On the device, from the repository root (device/README.md gives the exact `run` call):
#   HRCN_GIT_COMMIT=<commit> bash device/record_gpu.sh
# Here, on a CPU: the same steps with the smoke profile (or --profile NAME), the benchmark's
# --device cpu --dry-run, a local OUT folder, and an import check (device/check_imports.py):
#   DRY_RUN=1 PYTHON=/path/to/python nice -n 19 bash device/record_gpu.sh [--profile NAME]
#
# Steps: install the carried wheels (.whl/, device/wheels.sh) into /tmp/site; print the GPU,
# torch and CPU facts; `python3 -m hrcn_lib record --profile record-gpu --out
# records/record-gpu --work-dir /tmp/rec` (simulating on every core: the profile's
# simulation_jobs is None, one worker per core) under a limit of RECORD_S seconds; then
# bench_gpu.py (HR-CelestialNet first: classification ms at batch 1, the bf16 training sweep
# with samples/s and peak memory; then the other pairs) with whatever is left of TOTAL_S; then
# everything into $OUT/record-gpu.tar.gz:
#   records/<profile>/                          the record, when it was written
#   benchmarks/recorded/gpu_<gpu>_<date>.json   the benchmark (..._partial.json when cut)
#   device-logs/run.log                         this command's output
#   device-logs/work/...                        when no record was written: the small files
#                                               of the work directory (histories, configs,
#                                               evaluations), to see how far it got
# $OUT also gets run.log and the benchmark's gpu.json beside the archive.
#
# Limits: a command is `timeout`ed with SIGINT (Python unwinds; a record is written in one
# rename at its end, so a cut record leaves nothing half-written), SIGKILL 20 s later.
#
# Environment: RECORD_S (default 480 s; 1800 in a dry run), TOTAL_S (570 s; 2400), WORK (the
# record's work directory, /tmp/rec; on the device /dev/shm/rec instead when `hrcn record`'s
# disk check refuses /tmp), RECORD=0 / BENCH=0 (leave a step out), BENCH_ARGS (default
# "--no-compile --max-batch 16"), PYTHON (python3), OUT (set by the device tool; a new
# /tmp/record-gpu-dryrun.* folder in a dry run), HRCN_GIT_COMMIT (the commit, for a copy
# without .git: hrcn_lib.recording.git_commit).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
START=$SECONDS
export PYTHONUNBUFFERED=1

DRY_RUN=${DRY_RUN:-0}
PROFILE=""
while [ $# -gt 0 ]; do
  case $1 in
    --profile) PROFILE=${2:?record_gpu.sh: --profile needs a name}; shift 2 ;;
    --profile=*) PROFILE=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "record_gpu.sh: unknown argument '$1' (expected --profile NAME)" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-python3}
if [ "$DRY_RUN" = 1 ]; then
  PROFILE=${PROFILE:-smoke}
  OUT=${OUT:-$(mktemp -d /tmp/record-gpu-dryrun.XXXXXX)}
  WORK=${WORK:-/tmp/rec-dryrun-$PROFILE}
  RECORD_S=${RECORD_S:-1800}
  TOTAL_S=${TOTAL_S:-2400}
  BENCH_ARGS=${BENCH_ARGS:---device cpu --dry-run}
else
  PROFILE=${PROFILE:-record-gpu}
  if [ -z "${OUT:-}" ]; then
    echo "record_gpu.sh: OUT is not set (the device tool sets it; here run it with DRY_RUN=1)" >&2
    exit 2
  fi
  WORK=${WORK:-/tmp/rec}
  RECORD_S=${RECORD_S:-480}
  TOTAL_S=${TOTAL_S:-570}
  BENCH_ARGS=${BENCH_ARGS:---no-compile --max-batch 16}
fi
RECORD=${RECORD:-1}
BENCH=${BENCH:-1}
PACK_S=20          # kept for packing
BENCH_MIN_S=45     # the benchmark is skipped with less left
STAGE=$(mktemp -d /tmp/record-gpu-stage.XXXXXX)
IMPORTS=$OUT/importtime   # dry run only: the imports' logs for check_imports.py
mkdir -p "$OUT" "$STAGE/device-logs"
LOG=$OUT/run.log
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}

elapsed() { echo $((SECONDS - START)); }
say() { printf '\n== [%4ss] %s\n' "$(elapsed)" "$*"; }

# run_limited LIMIT NAME CMD...: CMD under `timeout` (SIGINT, SIGKILL 20 s later); its exit
# status in $rc (124: cut at LIMIT). In a dry run its imports are logged for check_imports.py.
run_limited() {
  local limit=$1 name=$2
  shift 2
  if [ "$DRY_RUN" = 1 ]; then
    mkdir -p "$IMPORTS"
    PYTHONPROFILEIMPORTTIME=1 timeout --signal=INT --kill-after=20 "$limit" "$@" 2>&1 \
      | tee "$IMPORTS/$name.log" | sed -u '/^import time:/d'
  else
    timeout --signal=INT --kill-after=20 "$limit" "$@" 2>&1
  fi
  rc=$?
}

facts() {
  say "facts"
  date -u
  echo "profile $PROFILE, work directory $WORK, OUT $OUT, dry run $DRY_RUN;" \
       "limits: record ${RECORD_S}s, whole command ${TOTAL_S}s"
  if git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
    echo "commit $(git -C "$ROOT" rev-parse HEAD)" \
         "(uncommitted changes: $(git -C "$ROOT" status --porcelain --untracked-files=no | wc -l))"
    if [ -n "${HRCN_GIT_COMMIT:-}" ] && [ "$HRCN_GIT_COMMIT" != "$(git -C "$ROOT" rev-parse HEAD)" ]; then
      echo "WARNING: HRCN_GIT_COMMIT=$HRCN_GIT_COMMIT differs from the checkout's commit"
    fi
  else
    echo "no git repository in this copy; the record takes HRCN_GIT_COMMIT=${HRCN_GIT_COMMIT:-<unset>}"
  fi
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit,clocks.max.sm \
      --format=csv 2>&1
  else
    echo "no nvidia-smi"
  fi
  "$PYTHON" - <<'EOF' 2>&1
import os, platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda},"
      f" cuDNN {torch.backends.cudnn.version()}, os.cpu_count() {os.cpu_count()},"
      f" usable cores {len(os.sched_getaffinity(0))}, torch threads {torch.get_num_threads()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU {p.name}: {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs,"
          f" capability {p.major}.{p.minor}, bf16 {torch.cuda.is_bf16_supported()},"
          f" {torch.cuda.device_count()} device(s)")
else:
    print("no CUDA device")
EOF
  lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Socket)' || true
  lscpu 2>/dev/null | grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_bf16|amx_tile' \
    | sort -u | tr '\n' ' '
  echo
  free -g | head -2
  df -h /tmp /dev/shm "$ROOT" 2>/dev/null
}

install_wheels() {
  say "carried wheels"
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "no .whl/*.whl: make them with device/wheels.sh and carry .whl"
    return 1
  fi
  du -ch .whl/*.whl | tail -1
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry run: not installed (they are for the device's Python 3.12; $PYTHON has its own)"
    return 0
  fi
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || return 1
  export PYTHONPATH=/tmp/site:$PYTHONPATH
  "$PYTHON" -c "import astropy, galsim; print('astropy', astropy.__version__, 'galsim', galsim.__version__)"
}

# can_record DIR: hrcn record's own checks (disk space among them) pass for work directory DIR
can_record() {
  "$PYTHON" - "$PROFILE" "$RECORD_DIR" "$1" <<'EOF' 2>&1
import sys
from hrcn_lib.recording import check_request
try:
    check_request(sys.argv[1], sys.argv[2], work_dir=sys.argv[3])
except Exception as err:  # RecordError, ValueError: printed, and the next place is tried
    print(f"{sys.argv[3]}: {err}")
    sys.exit(1)
print(f"{sys.argv[3]}: hrcn record's checks pass")
EOF
}

make_record() {
  say "record: profile $PROFILE"
  if [ -e "$RECORD_DIR" ]; then
    echo "$RECORD_DIR exists: not remade (a first try on this machine wrote it, or it is" \
         "committed); packed as it is"
    RECORD_RC=exists
    return 0
  fi
  if ! can_record "$WORK" && [ "$DRY_RUN" != 1 ] && can_record /dev/shm/rec; then
    WORK=/dev/shm/rec
  fi
  local left=$((TOTAL_S - $(elapsed) - PACK_S - 20))
  local limit=$((RECORD_S < left ? RECORD_S : left))
  echo "work directory $WORK; limit ${limit}s"
  local t0=$SECONDS
  run_limited "$limit" record "$PYTHON" -m hrcn_lib record --profile "$PROFILE" \
    --out "$RECORD_DIR" --work-dir "$WORK"
  RECORD_RC=$rc
  echo "record: exit status $RECORD_RC after $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo ' (cut at the limit)')"
}

run_bench() {
  local left=$((TOTAL_S - $(elapsed) - PACK_S))
  say "benchmark: bench_gpu.py $BENCH_ARGS (${left}s left)"
  if [ "$left" -lt "$BENCH_MIN_S" ]; then
    echo "benchmark skipped: under ${BENCH_MIN_S}s left"
    BENCH_RC=skipped
    return
  fi
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of arguments
  run_limited "$((left - 20))" bench "$PYTHON" benchmarks/bench_gpu.py --out "$OUT" $BENCH_ARGS
  BENCH_RC=$rc
  echo "benchmark: exit status $BENCH_RC$([ "$rc" = 124 ] && echo ' (cut at the limit)')"
}

stage_results() {
  say "packing"
  if [ -f "$RECORD_DIR/record.json" ]; then
    [ "$RECORD_DIR" = "$STAGE/records/$PROFILE" ] || {
      mkdir -p "$STAGE/records" && cp -a "$RECORD_DIR" "$STAGE/records/"; }
  elif [ -d "$WORK" ]; then
    echo "no record: packing the small files of $WORK (how far it got)"
    mkdir -p "$STAGE/device-logs/work"
    (cd "$WORK" && find . -type f \( -name '*.json' -o -name '*.csv' \) -size -4M \
       -exec cp --parents {} "$STAGE/device-logs/work/" \;)
  fi
  if [ -f "$OUT/gpu.json" ]; then
    local name
    name=$("$PYTHON" - "$OUT/gpu.json" <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
m = re.search(r"\b([A-Z]\d{2,4})\b", doc.get("device", ""))
print(f"gpu_{m.group(1).lower() if m else 'gpu'}_{doc.get('date', '')[:10]}")
EOF
)
    [ "${BENCH_RC:-}" = 0 ] || name=${name}_partial
    mkdir -p "$STAGE/benchmarks/recorded"
    cp "$OUT/gpu.json" "$STAGE/benchmarks/recorded/$name.json"
  fi
  cp "$LOG" "$STAGE/device-logs/run.log"
  tar czf "$OUT/record-gpu.tar.gz" -C "$STAGE" . && tar tzvf "$OUT/record-gpu.tar.gz" \
    | awk '{s += $3} END {print NR " entries, " s " bytes unpacked"}'
  ls -l "$OUT"
}

main() {
  # a step's result: its exit status (124: cut at its limit), "off" (RECORD=0 / BENCH=0),
  # "skipped" (no wheels, or no time left) or, for the record, "exists" (not remade)
  RECORD_RC=off BENCH_RC=off
  facts
  if ! install_wheels; then
    echo "the wheels are missing or did not install: no record, no benchmark"
    [ "$RECORD" = 1 ] && RECORD_RC=skipped
    [ "$BENCH" = 1 ] && BENCH_RC=skipped
    RECORD=0 BENCH=0
  fi
  if [ "$DRY_RUN" = 1 ]; then
    say "import check (device/check_imports.py)"
    "$PYTHON" device/check_imports.py
    IMPORT_RC=$?
  fi
  [ "$RECORD" = 1 ] && RECORD_RC=skipped && make_record
  [ "$BENCH" = 1 ] && BENCH_RC=skipped && run_bench
  if [ "$DRY_RUN" = 1 ]; then
    say "import check of what the record and the benchmark imported (their logs)"
    if ls "$IMPORTS"/*.log >/dev/null 2>&1; then
      "$PYTHON" device/check_imports.py --importtime "$IMPORTS"/*.log || IMPORT_RC=1
    fi
  fi
  stage_results
  say "done: record $RECORD_RC, benchmark $BENCH_RC$([ "$DRY_RUN" = 1 ] && echo ", imports $IMPORT_RC");" \
      "$(elapsed) s in all"
  [[ $RECORD_RC =~ ^(0|off|exists)$ && $BENCH_RC =~ ^(0|off)$ && ${IMPORT_RC:-0} = 0 ]]
}

if [ "$DRY_RUN" = 1 ]; then
  RECORD_DIR=$STAGE/records/$PROFILE
else
  RECORD_DIR=records/$PROFILE
fi
main 2>&1 | tee -a "$LOG"
status=$?
rm -rf "$STAGE"
exit "$status"
