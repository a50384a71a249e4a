"""Sequence tagging: chunking, named entities, parts of speech, from CoNLL-format files."""

from electra.tasks.spec import FamilySpec
from electra.tasks.tagging.options import TaggingData, TaggingInput, TaggingScoring

SPEC = FamilySpec(
    "tagging",
    "electra.tasks.tagging.family",
    {"finetune": "fine-tune a sequence tagger (chunking, NER) on CoNLL-format files",
     "predict": "tag new text with a fine-tuned tagger (CoNLL or plain text in, CoNLL or JSON out)",
     "evaluate": "span F1 (conlleval's; chunks, entities) or accuracy (other tags) of a file whose last two columns are gold and predicted tags"},
    {"finetune": "electra finetune tagging --data-dir conll2000 --model runs/demo/run/discriminator --out runs/chunk",
     "predict": 'electra predict tagging --model runs/chunk/model "He reckons the deficit will narrow ."'
                " | electra predict tagging --model runs/chunk/model --file test.txt --out tagged.txt",
     "evaluate": "electra evaluate tagging --predictions runs/chunk/dev_predictions.txt"},
    TaggingData, TaggingInput, TaggingScoring,
    hf_classes=("ForTokenClassification",),
    card_task="token-classification",
    max_seq_length=256,
)  # fmt: skip
