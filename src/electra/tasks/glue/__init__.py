"""Classification: GLUE's tasks and your own CSV/TSV/JSONL tables, sentences or sentence pairs,
labels or a regression score."""

from electra.tasks.glue.options import (
    ClassificationData,
    ClassificationInput,
    ClassificationScoring,
)
from electra.tasks.spec import FamilySpec

SPEC = FamilySpec(
    "glue",
    "electra.tasks.glue.family",
    {"finetune": "fine-tune on a GLUE task (or all of them), or on your own CSV/TSV/JSONL data",
     "predict": "write a fine-tuned classifier's predictions (GLUE leaderboard files)",
     "evaluate": "score an index<TAB>prediction file with a GLUE task's official metrics"},
    {"finetune": "electra finetune glue --task rte --data-dir glue_data --model runs/demo/run/discriminator --out runs/rte"
                 " | electra finetune glue --train train.csv --dev dev.csv --text-columns review"
                 " --label-column stars --model runs/demo/run/discriminator --out runs/mine",
     "predict": "electra predict glue --task rte --data-dir glue_data --model runs/rte/model --out submission",
     "evaluate": "electra evaluate glue --task rte --data-dir glue_data --predictions runs/rte/dev_predictions.tsv"},
    ClassificationData, ClassificationInput, ClassificationScoring,
    hf_classes=("ForSequenceClassification",),
    card_task="text-classification",
    max_seq_length=128,
    epochs={"rte": 10, "stsb": 10},
)  # fmt: skip
