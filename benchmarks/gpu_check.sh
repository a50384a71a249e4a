#!/usr/bin/env bash
# The GPU path in one command (within 8 minutes on one GPU), for the day a GPU is there:
#   1. the device tests (tests/test_device.py: bf16 step without host syncs, FlexAttention and the
#      fused kernel for packed rows, --compile on packed rows, a 1-process NCCL DDP step, a short
#      run that learns);
#   2. the step benchmark, small and base in bf16, against the transformers-based step, compile
#      off, and small compiled (tokens/s, model TFLOP/s, MFU from the GPU's peak);
#   3. the loader benchmark on real shards;
#   4. a 2-minute pre-training run of the small preset on real shards, stopped by SIGINT (so the
#      checkpoint-on-signal path runs on the GPU too), whose losses must fall;
#   5. base compiled, if the budget allows.
# It writes $OUT_DIR/gpu_check.json and gpu_check.md and, on a GPU, appends the section to
# benchmarks/RESULTS.md. Every part is checked on a CPU first, shrunk:
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh
# Settings (environment): DEVICE (cuda), PYTHON (.venv/bin/python, else python3), DATA (prepared
# shards; default: the embedded corpus, prepared into $OUT_DIR/data), OUT_DIR (runs/gpu_check),
# PRETRAIN_S (120), BUDGET_S (480), QUICK (0), APPEND (1 on cuda, 0 elsewhere). Bring prepared
# shards (DATA=...) to a machine where building the embedded corpus would eat the budget.
# On a borrowed GPU machine whose python3 already holds a CUDA PyTorch (no pip install there):
#   OUT_DIR=$OUT bash benchmarks/gpu_check.sh
# then copy $OUT/gpu_check.md into benchmarks/RESULTS.md here (the machine's copy is discarded).
# It needs torch>=2.5, transformers (the peer) and pytest there; seqeval only for tagging.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
OUT_DIR=${OUT_DIR:-runs/gpu_check}
PRETRAIN_S=${PRETRAIN_S:-120}
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
case "$DEVICE" in cuda*) APPEND=${APPEND:-1} ;; *) APPEND=${APPEND:-0} ;; esac
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
ELECTRA=("$PYTHON" -m electra.cli)
for name in PRETRAIN_S BUDGET_S; do  # checked before any work: one line, exit 2
    case "${!name:-480}" in '' | *[!0-9]*)
        echo "gpu_check: $name=${!name}: expected a whole number of seconds" >&2; exit 2 ;;
    esac
done
"$PYTHON" - "$DEVICE" <<'PY' || exit 2
import sys

from electra.errors import UserError
from electra.runtime import choose_device

try:
    choose_device(sys.argv[1])
except UserError as error:
    sys.exit(f"gpu_check: DEVICE={sys.argv[1]}: {error}")
PY
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/steps.jsonl" "$OUT_DIR/loader.json"
started=$(date +%s)
say() { echo "gpu_check [$(($(date +%s) - started)) s]: $*" | tee -a "$OUT_DIR/log.txt"; }

if [ "$QUICK" = 1 ]; then
    PRESETS=(tiny); BATCH=8; STEPS=3; WARMUP=1; EAGER_S=120; COMPILE_S=300
    TEST_ARGS=(-k "not compiled")
else
    PRESETS=(small base); BATCH=128; STEPS=10; WARMUP=3; EAGER_S=60; COMPILE_S=150; TEST_ARGS=()
fi
# Within BUDGET_S seconds in all: the compiled step benchmarks come last and run only while
# their cap still fits (what is skipped is said, and missing from the report).
BUDGET_S=${BUDGET_S:-480}
fits() { [ $(($(date +%s) - started + $1)) -le "$BUDGET_S" ]; }

step_benchmark() {  # preset, compile flag ("" or --compile), cap in seconds
    if ! fits "$3"; then say "   $1 ${2:-eager}: skipped, the budget is spent"; return; fi
    say "   $1 ${2:-eager}"
    timeout "$3" "$PYTHON" benchmarks/pretrain_step.py --preset "$1" --device "$DEVICE" \
        --precision bf16 --batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP" \
        --json "$OUT_DIR/steps.jsonl" $2 2>&1 | tee -a "$OUT_DIR/log.txt" ||
        say "   $1 ${2:-eager}: did not finish in $3 s"
}

say "1. device tests on $DEVICE"
ELECTRA_TEST_DEVICE=$DEVICE timeout 180 "$PYTHON" -m pytest -p no:cacheprovider -m device \
    tests/test_device.py -rfEs --junitxml "$OUT_DIR/tests.xml" "${TEST_ARGS[@]}" 2>&1 |
    tail -n 25 | tee -a "$OUT_DIR/log.txt"

say "2. step benchmark (bf16) against the transformers-based step: eager, then the first preset compiled"
for preset in "${PRESETS[@]}"; do step_benchmark "$preset" "" "$EAGER_S"; done
step_benchmark "${PRESETS[0]}" --compile "$COMPILE_S"

if [ -z "${DATA:-}" ]; then
    DATA=$OUT_DIR/data
    if [ ! -f "$DATA/manifest.json" ]; then
        say "   preparing the embedded corpus into $DATA"
        "${ELECTRA[@]}" vocab --default-corpus --size 8000 --out "$OUT_DIR/vocab" 2>&1 | tail -n 1
        [ -f "$OUT_DIR/vocab/vocab.txt" ] &&
            "${ELECTRA[@]}" prepare --default-corpus --vocab "$OUT_DIR/vocab" --out "$DATA" \
                --overwrite 2>&1 | tail -n 3
    fi
fi

say "3. loader benchmark on $DATA"
"$PYTHON" benchmarks/loader.py --data "$DATA" --batch-size 128 --batches 200 \
    >"$OUT_DIR/loader.json" && tee -a "$OUT_DIR/log.txt" <"$OUT_DIR/loader.json"

say "4. pre-training for $PRETRAIN_S s"
rm -rf "$OUT_DIR/run"
preset=small
[ "$QUICK" = 1 ] && preset=tiny
timeout -s INT "$PRETRAIN_S" "${ELECTRA[@]}" pretrain --preset "$preset" --data "$DATA" \
    --out "$OUT_DIR/run" --device "$DEVICE" --steps 100000 --warmup-steps 300 --log-every 50 \
    --save-every 0 --eval-every 0 --no-progress 2>&1 | tail -n 5 | tee -a "$OUT_DIR/log.txt"

say "5. the other presets compiled, while the budget lasts"
for preset in "${PRESETS[@]:1}"; do step_benchmark "$preset" --compile "$COMPILE_S"; done

say "6. report"
"$PYTHON" benchmarks/gpu_report.py "$OUT_DIR" --append "$APPEND" --seconds "$(($(date +%s) - started))"
