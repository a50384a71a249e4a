#!/usr/bin/env bash
# A whole-toolkit check at CPU scale: pre-train a tiny ELECTRA on Project Gutenberg, then fine-tune
# it on every GLUE task present with the default (official) recipe, 3 seeds each, beside the same
# shape from random initialisation. Each stage is skipped when its output exists, so a re-run
# resumes. Usage: bash benchmarks/glue_cpu.sh [WORK_DIR] [SHARED_DATA]
set -euo pipefail
WORK=${1:-/tmp/electra_glue_cpu}
DATA=${2:-../shared/data}
STEPS=${STEPS:-3000}
TRAIN=${TRAIN:-2000}  # training examples per task (pairs count twice for MRPC and STS-B)
BIN=${BIN:-.venv/bin}
mkdir -p "$WORK"
[ -f "$WORK/vocab/vocab.txt" ] || "$BIN/electra" vocab --corpus "$DATA/corpus/gutenberg" --size 8000 --out "$WORK/vocab"
[ -f "$WORK/shards/manifest.json" ] || "$BIN/electra" prepare --corpus "$DATA/corpus/gutenberg" --vocab "$WORK/vocab" --out "$WORK/shards" --no-progress
[ -f "$WORK/run/discriminator/model.safetensors" ] || "$BIN/electra" pretrain --preset tiny --steps "$STEPS" \
    --data "$WORK/shards" --out "$WORK/run" --eval-every 500 --save-every 500 --no-progress \
    $([ -d "$WORK/run/checkpoints" ] && echo --resume)
for arm in pretrained random; do
    flags=(); [ "$arm" = random ] && flags=(--random-init)
    "$BIN/electra" finetune glue --task all --data-dir "$DATA/glue" --model "$WORK/run/discriminator" \
        --out "$WORK/glue-$arm" --seeds 3 --max-train-examples "$TRAIN" --no-progress --resume "${flags[@]}" \
        | tee "$WORK/glue-$arm.txt"
done
