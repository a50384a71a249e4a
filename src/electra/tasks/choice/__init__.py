"""Multiple choice (SWAG, RACE and the like): a question with N candidate answers, one score each,
a softmax over the candidates. Its data is JSON Lines."""

from electra.tasks.choice.options import ChoiceData, ChoiceInput, ChoiceScoring
from electra.tasks.spec import FamilySpec

SPEC = FamilySpec(
    "multiple-choice",
    "electra.tasks.choice.family",
    {"finetune": "fine-tune on multiple-choice questions (SWAG, RACE-style JSON Lines)",
     "predict": "pick each question's answer among its choices with a fine-tuned model",
     "evaluate": "accuracy of a predictions file whose lines carry the gold label"},
    {"finetune": "electra finetune multiple-choice --train train.jsonl --dev dev.jsonl"
                 " --model runs/demo/run/discriminator --out runs/choice",
     "predict": "electra predict multiple-choice --model runs/choice/model --file test.jsonl --out answers.jsonl",
     "evaluate": "electra evaluate multiple-choice --predictions runs/choice/dev_predictions.jsonl"},
    ChoiceData, ChoiceInput, ChoiceScoring,
    hf_classes=("ForMultipleChoice",),
    card_task="multiple-choice",
    max_seq_length=128,
)  # fmt: skip
