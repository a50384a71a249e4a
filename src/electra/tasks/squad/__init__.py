"""Extractive question answering: SQuAD 1.1 and 2.0."""

from electra.tasks.spec import FamilySpec
from electra.tasks.squad.options import SquadConfig, SquadData, SquadInput, SquadScoring

SPEC = FamilySpec(
    "squad",
    "electra.tasks.squad.family",
    {"finetune": "fine-tune on SQuAD 1.1 or 2.0 (extractive question answering)",
     "predict": "answer questions about a context, or every question of a SQuAD-format file",
     "evaluate": "score a predictions file exactly as the official SQuAD v1.1 / v2.0 scripts do"},
    {"finetune": "electra finetune squad --train train-v2.0.json --dev dev-v2.0.json"
                 " --model runs/demo/run/discriminator --out runs/squad2 --version 2",
     "predict": 'electra predict squad --model runs/squad2/model --context "Paris is the capital of'
                ' France." --question "What is the capital of France?"',
     "evaluate": "electra evaluate squad --data dev-v2.0.json --predictions"
                 " runs/squad2/predictions.json --na-probs runs/squad2/null_odds.json"},
    SquadData, SquadInput, SquadScoring, SquadConfig,
    hf_classes=("ForQuestionAnswering",),
    onnx_outputs=("start_logits", "end_logits", "null_logits"),
    card_task="question-answering",
    max_seq_length=512,
    epochs={"squad": 2},
)  # fmt: skip
