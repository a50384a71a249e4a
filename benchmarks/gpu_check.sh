#!/usr/bin/env bash
# The GPU path in one command (benchmarks/gpu_check.py says what it runs), for a lent GPU:
#   bash benchmarks/gpu_check.sh prepare         # first, on a CPU: runs/gpu_data (carry it along)
#   OUT_DIR=$OUT bash benchmarks/gpu_check.sh    # on the GPU machine: 5 minutes, 3 small files
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh   # every stage, shrunk, on a CPU (3 minutes)
# Settings (environment): DEVICE (cuda), DATA (prepared shards; default runs/gpu_data/shards),
# OUT_DIR (runs/gpu_check), BUDGET_S (300; QUICK: 170), QUICK (0), APPEND (0; 1 appends the
# summary to benchmarks/RESULTS.md), PYTHON (.venv/bin/python, else python3: a GPU machine's own
# Python with CUDA PyTorch >= 2.6; nothing is installed).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
QUICK=${QUICK:-0}
for name in BUDGET_S QUICK APPEND; do  # checked before any work: one line, exit 2
    case "${!name:-0}" in '' | *[!0-9]*)
        echo "gpu_check: $name=${!name}: expected a whole number" >&2; exit 2 ;;
    esac
done
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
args=(--device "${DEVICE:-cuda}" --out "${OUT_DIR:-runs/gpu_check}")
[ "$QUICK" = 1 ] && args+=(--quick --budget "${BUDGET_S:-170}") || args+=(--budget "${BUDGET_S:-300}")
[ "${APPEND:-0}" = 1 ] && args+=(--append)
[ -n "${DATA:-}" ] && args+=(--data "$DATA")
[ "${1:-run}" = prepare ] || "$PYTHON" - "${DEVICE:-cuda}" <<'PY' || exit 2
import sys

from electra.errors import UserError
from electra.runtime import choose_device

try:
    choose_device(sys.argv[1])
except UserError as error:
    sys.exit(f"gpu_check: DEVICE={sys.argv[1]}: {error}")
PY
exec "$PYTHON" benchmarks/gpu_check.py "${1:-run}" "${args[@]}"
