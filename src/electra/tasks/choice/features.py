"""Questions as the loop's features. Each choice is one sequence, `[CLS] context question [SEP]
choice [SEP]`, the longer part cut first until it fits `max_seq_length`; a question's N sequences
are padded to one length S and laid end to end in one row of N x S tokens, so the shared loop
batches them as it batches any row, and the model splits the row back into its N sequences."""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer

from electra.tasks.choice.reader import Question
from electra.tasks.task import Feature
from electra.tokenizer import copy


def encode(
    tokenizer: Tokenizer, questions: Sequence[Question], max_seq_length: int, pad_id: int
) -> list[Feature]:
    """One feature per question: its choices' token and segment ids, each padded to the longest
    choice sequence of all `questions`, end to end; `label` where the question has one."""
    tokenizer = copy(tokenizer)  # truncation is tokenizer state
    tokenizer.enable_truncation(max_seq_length, strategy="longest_first")
    pairs = [
        (" ".join(filter(None, (q.context, q.question))), c) for q in questions for c in q.choices
    ]
    encoded = tokenizer.encode_batch(pairs)
    width = max(len(e.ids) for e in encoded)
    features: list[Feature] = []
    n = len(questions[0].choices)
    for i, q in enumerate(questions):
        ids: list[int] = []
        types: list[int] = []
        for e in encoded[i * n : (i + 1) * n]:
            ids += e.ids + [pad_id] * (width - len(e.ids))
            types += e.type_ids + [0] * (width - len(e.ids))
        feature: Feature = {"input_ids": ids, "token_type_ids": types}
        if q.label is not None:
            feature["label"] = q.label
        features.append(feature)
    return features
