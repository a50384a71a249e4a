"""A classification task's rows as the loop's features: token ids of the text (or pair) and the
target (a label's index, or a regression score scaled as the official recipe trains it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from electra.errors import UserError
from electra.tasks.glue.catalog import Spec, split_labels
from electra.tasks.tables import Example, quoted, read_examples
from electra.tasks.task import Feature
from electra.tokenizer import copy


def encode(
    tokenizer: Tokenizer, examples: Sequence[Example], max_seq_length: int, swap: bool = False
) -> list[Feature]:
    """`[CLS] A [SEP] (B [SEP])` token and segment ids, the longer text truncated first (as BERT
    does) until the pair fits; `swap` encodes `B, A` instead."""
    tokenizer = copy(tokenizer)  # truncation is tokenizer state
    tokenizer.enable_truncation(max_seq_length, strategy="longest_first")
    inputs = [e.texts[::-1] if swap else e.texts for e in examples]
    inputs = [t if len(t) == 2 else t[0] for t in inputs]
    return [
        {"input_ids": enc.ids, "token_type_ids": enc.type_ids}
        for enc in tokenizer.encode_batch(inputs)
    ]


def targets(spec: Spec, path: Path, examples: Sequence[Example]) -> list[int] | list[float]:
    """Each example's label as the classifier's output index, or its score for regression."""
    if spec.regression:
        scores = []
        for e in examples:
            try:
                scores.append(float(e.label))  # type: ignore[arg-type]
            except ValueError:
                raise UserError(f"{path}:{e.line}: score {e.label!r} is not a number") from None
            if not math.isfinite(scores[-1]):
                raise UserError(f"{path}:{e.line}: score {e.label!r} is not a finite number")
            if spec.score_range and not spec.score_range[0] <= scores[-1] <= spec.score_range[1]:
                low, high = spec.score_range
                raise UserError(f"{path}:{e.line}: score {e.label} is not in [{low:g}, {high:g}]")
        return scores
    index = {label: i for i, label in enumerate(spec.labels)}
    if spec.multi_label:  # one 0/1 target per label
        hot = []
        for e in examples:
            unknown = [p for p in split_labels(e.label) if p not in index]
            if unknown:
                raise UserError(f"{path}:{e.line}: label {unknown[0]!r} is not one of "
                                f"{quoted(spec.labels)}")  # fmt: skip
            names = set(split_labels(e.label))
            hot.append([float(label in names) for label in spec.labels])
        return hot  # type: ignore[return-value]
    for e in examples:
        if e.label not in index:
            raise UserError(
                f"{path}:{e.line}: label {e.label!r} is not one of {quoted(spec.labels)}"
            )
    return [index[e.label] for e in examples]  # type: ignore[index]


def labelled_features(
    spec: Spec, path: Path, tokenizer: Tokenizer, max_seq_length: int, swap: bool = False
) -> tuple[list[Example], list[Feature]]:
    examples = read_examples(
        path, spec.text_columns, spec.label_column, spec.header, spec.skip_malformed
    )
    labels = targets(spec, path, examples)
    features = encode(tokenizer, examples, max_seq_length)
    if swap and len(spec.text_columns) == 2:
        features += encode(tokenizer, examples, max_seq_length, swap=True)
        labels = labels + labels
    for feature, label in zip(features, labels, strict=True):
        feature["label"] = label / spec.target_scale if spec.regression else label
    return examples, features
