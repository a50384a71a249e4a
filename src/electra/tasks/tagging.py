"""Sequence tagging (CoNLL-2000 chunking, CoNLL-2003 NER): the CoNLL reader, labels on each word's
first sub-word, and span F1 scored as conlleval does (`seqeval`'s default mode emulates it).

A CoNLL file has one token per line, whitespace-separated columns (`word POS tag` for chunking,
`word POS chunk tag` for NER), a blank line between sentences and optional `-DOCSTART-` lines. The
tag column is chosen by index (default: the last). Only the first sub-word of each word is trained
and predicted.

Training examples are cut at `max_seq_length`: the words past it are simply not trained on.
Tagging cuts nothing, whether it is dev scoring during fine-tuning or new text (`electra predict
tagging`, `tag`): a sentence longer than `max_seq_length` is split into word windows that fit and
overlap by about half, and each word takes its tag from the window where it has the most context
on both sides (BERT's rule for SQuAD windows); a sentence that fits is one window. So the dev F1
that fine-tuning reports is what `predict tagging` then `evaluate tagging` give on the same file,
and it covers every word of the file, as conlleval's does; only a word that tokenizes to nothing is
predicted `O`.

Chunk tags are trained in BIOES, as the official code trains them (`label_encoding`): the file's
chunks (read with conlleval's rules, so IOB1, IOB2 and BIOES files all work) are re-tagged B-/I-/E-
for a chunk's first, inner and last word and S- for a one-word chunk, which gives the model the
chunk ends to learn as well as the starts. Predictions are turned back into IOB2 (B-, I-) before
scoring and output. A tag set that is not chunk tags (part-of-speech tags, say) is used as it is.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from seqeval.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
    precision_score,
    recall_score,
)
from seqeval.metrics.sequence_labeling import get_entities
from tokenizers import Tokenizer

from electra import hf
from electra.config import FinetuneConfig
from electra.errors import UserError
from electra.files import write_text
from electra.model import TokenClassifier
from electra.runtime import choose_device
from electra.tasks.family import FAMILIES, Family, Finetuned, Prediction, Run
from electra.tasks.loop import (
    SETTINGS_KEY,
    Feature,
    Predict,
    Task,
    load_finetuned,
    make_predict,
)
from electra.tasks.options import PredictConfig, TaggingData, TaggingInput, TaggingScoring
from electra.tasks.windows import budget_windows, most_context
from electra.tokenizer import SpecialIds

IGNORE = -100  # label of positions that are not a word's first sub-word (F.cross_entropy skips it)
OUTSIDE = "O"
TRAIN_FILES = ("train.txt", "eng.train", "train.conll")
DEV_FILES = (
    "dev.txt",
    "valid.txt",
    "eng.testa",
    "dev.conll",
    "test.txt",
    "eng.testb",
    "test.conll",
)
PREDICTIONS_FILE = "dev_predictions.txt"
REPORT_FILE = "dev_conlleval.txt"


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]  # empty for text to tag (read without a tag column)
    line: int  # line number of its first word, for error messages
    columns: tuple[tuple[str, ...], ...] = ()  # each word's line split into columns, when kept


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_conll(
    path: str | Path, tag_column: int | None = -1, keep_columns: bool = False
) -> list[Sentence]:
    """Sentences of a CoNLL file, their tags from column `tag_column` (negative: from the end;
    None: no tags, as in text to tag); `keep_columns` keeps every line's columns."""
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    rows: list[tuple[str, ...]] = []
    start = width = 0
    lines = _read_lines(path)
    for number, line in enumerate([*lines, ""], 1):
        columns = line.split()
        if not columns or columns[0] == "-DOCSTART-":
            if words:
                sentences.append(Sentence(tuple(words), tuple(tags), start, tuple(rows)))
                words, tags, rows = [], [], []
            continue
        width = width or len(columns)
        if len(columns) != width:
            raise UserError(
                f"{path}:{number}: {len(columns)} columns, but earlier lines have {width}"
            )
        if tag_column is not None and (
            not -width <= tag_column < width or tag_column in (0, -width)
        ):
            raise UserError(
                f"{path}:{number}: tag_column {tag_column} is not a tag column of a line with "
                f"{width} columns (the word is column 0)"
            )
        start = start if words else number
        words.append(columns[0])
        if tag_column is not None:
            tags.append(columns[tag_column])
        if keep_columns:
            rows.append(tuple(columns))
    if not sentences:
        expected = "word ... tag" if tag_column is not None else "word first, one per line"
        raise UserError(f"{path}: no sentences (expected CoNLL lines: {expected})")
    return sentences


def text_sentences(lines: Iterable[str]) -> list[Sentence]:
    """Text to tag: one sentence per non-blank line, its words split on whitespace."""
    return [
        Sentence(tuple(line.split()), (), number)
        for number, line in enumerate(lines, 1)
        if line.split()
    ]


def read_text(path: str | Path) -> list[Sentence]:
    """A plain-text file to tag: one sentence per line (blank lines skipped)."""
    path = Path(path)
    sentences = text_sentences(_read_lines(path))
    if not sentences:
        raise UserError(f"{path}: no sentences (expected one sentence per line)")
    return sentences


def find_file(data_dir: Path, names: Sequence[str], what: str) -> Path:
    for name in names:
        if (data_dir / name).is_file():
            return data_dir / name
    raise UserError(f"{data_dir}: no {what} file (looked for {', '.join(names)})")


CHUNK_PREFIXES = ("B-", "I-", "E-", "S-")


def is_chunk_tagging(sentences: Iterable[Sentence]) -> bool:
    """Whether every tag is `O` or a chunk tag (B-, I-, E- or S- and a type)."""
    return all(
        t == OUTSIDE or (t[:2] in CHUNK_PREFIXES and len(t) > 2) for s in sentences for t in s.tags
    )


def retag(tags: Sequence[str], scheme: str) -> list[str]:
    """The same chunks (found as conlleval finds them) in `scheme`, "BIOES" or "IOB2"."""
    out = [OUTSIDE] * len(tags)
    for kind, start, end in get_entities(list(tags)):
        out[start : end + 1] = [f"I-{kind}"] * (end + 1 - start)
        out[start] = f"B-{kind}"
        if scheme == "BIOES":
            out[end] = f"E-{kind}"
            if start == end:
                out[start] = f"S-{kind}"
    return out


def _retagged(sentences: Sequence[Sentence], scheme: str) -> list[Sentence]:
    return [replace(s, tags=tuple(retag(s.tags, scheme))) for s in sentences]


def label_set(
    files: Sequence[tuple[Path, list[Sentence]]], labels: Sequence[str] = ()
) -> tuple[str, ...]:
    """`labels` when given (every tag must be one), else every tag seen, sorted. The official
    code also builds its tag set from all splits: CoNLL-2000's test set has an I-LST that its
    train set lacks."""
    if not labels:
        return tuple(sorted({t for _, sentences in files for s in sentences for t in s.tags}))
    known = set(labels)
    for path, sentences in files:
        for s in sentences:
            for offset, tag in enumerate(s.tags):
                if tag not in known:
                    raise UserError(
                        f"{path}:{s.line + offset}: tag {tag!r} is not one of {', '.join(labels)}"
                    )
    return tuple(labels)


def encode(
    tokenizer: Tokenizer, sentences: Sequence[Sentence], labels: Sequence[str], max_seq_length: int
) -> list[Feature]:
    """Token ids with `labels` on each word's first sub-word (IGNORE elsewhere, and everywhere for
    sentences without tags); `first` holds each word's first sub-word position, -1 for a word that
    was cut off or tokenized to nothing."""
    tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a copy: truncation is tokenizer state
    tokenizer.enable_truncation(max_seq_length)
    index = {label: i for i, label in enumerate(labels)}
    features = []
    for sentence, enc in zip(
        sentences,
        tokenizer.encode_batch([list(s.words) for s in sentences], is_pretokenized=True),
        strict=True,
    ):
        first = [-1] * len(sentence.words)
        targets = [IGNORE] * len(enc.ids)
        previous = None
        for position, word in enumerate(enc.word_ids):
            if word is not None and word != previous:
                first[word] = position
                if sentence.tags:
                    targets[position] = index[sentence.tags[word]]
            previous = word
        features.append(
            {
                "input_ids": enc.ids,
                "token_type_ids": enc.type_ids,
                "labels": targets,
                "first": first,
            }
        )
    return features


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """conlleval's chunk precision, recall and F1 and its token accuracy."""
    gold, predicted = [list(g) for g in gold], [list(p) for p in predicted]
    return {
        "f1": float(f1_score(gold, predicted)),
        "precision": float(precision_score(gold, predicted)),
        "recall": float(recall_score(gold, predicted)),
        "accuracy": float(accuracy_score(gold, predicted)),
    }


def conlleval_report(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> str:
    """conlleval's report: the overall line and one line per chunk type, with its precision,
    recall, F1 and the number of chunks of that type predicted."""
    gold, predicted = [list(g) for g in gold], [list(p) for p in predicted]
    overall = score(gold, predicted)
    per_type = classification_report(gold, predicted, output_dict=True, zero_division=0)
    expected, found_chunks = set(get_entities(gold)), set(get_entities(predicted))
    found = Counter(kind for kind, _, _ in found_chunks)
    lines = [
        f"processed {sum(map(len, gold))} tokens with {len(expected)} phrases; found: "
        f"{len(found_chunks)} phrases; correct: {len(expected & found_chunks)}.",
        f"accuracy: {100 * overall['accuracy']:6.2f}%; precision: {100 * overall['precision']:6.2f}%; "
        f"recall: {100 * overall['recall']:6.2f}%; FB1: {100 * overall['f1']:6.2f}",
    ]
    for kind in sorted(k for k in per_type.keys() | found.keys() if "avg" not in k):
        row = per_type.get(kind, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
        lines.append(
            f"{kind:>17}: precision: {100 * row['precision']:6.2f}%; recall: "
            f"{100 * row['recall']:6.2f}%; FB1: {100 * row['f1-score']:6.2f}  {found[kind]}"
        )
    return "\n".join(lines) + "\n"


def decode(
    features: Sequence[Feature], outputs: Sequence[torch.Tensor], labels: Sequence[str]
) -> list[list[str]]:
    """Each word's tag: the argmax at its first sub-word, `O` where it has none."""
    tags = []
    for feature, logits in zip(features, outputs, strict=True):
        best = logits.argmax(-1).tolist()
        tags.append([labels[best[p]] if p >= 0 else OUTSIDE for p in feature["first"]])
    return tags


@dataclass(frozen=True)
class Windowed:
    """Sentences split into word windows that fit, encoded: built once, predicted as often as
    needed (dev scoring does it every epoch)."""

    words: tuple[int, ...]  # each sentence's number of words
    pieces: tuple[tuple[int, int, int], ...]  # per feature: (sentence index, start, end word)
    features: list[Feature]


def encode_windows(
    tokenizer: Tokenizer, sentences: Sequence[Sentence], labels: Sequence[str], max_seq_length: int
) -> Windowed:
    """The word windows of each sentence (`windows`), encoded as `encode` encodes a sentence."""
    budget = max_seq_length - tokenizer.num_special_tokens_to_add(False)
    if budget < 1:
        raise UserError(f"max_seq_length {max_seq_length} leaves no room for words")
    counter = Tokenizer.from_str(tokenizer.to_str())
    counter.no_truncation()
    encodings = counter.encode_batch(
        [list(s.words) for s in sentences], is_pretokenized=True, add_special_tokens=False
    )
    pieces = []
    for i, (sentence, enc) in enumerate(zip(sentences, encodings, strict=True)):
        lengths = [0] * len(sentence.words)
        for word in enc.word_ids:
            if word is not None:
                lengths[word] += 1
        pieces += [(i, start, end) for start, end in budget_windows(lengths, budget)]
    window_sentences = [
        Sentence(sentences[i].words[start:end], (), sentences[i].line) for i, start, end in pieces
    ]
    return Windowed(
        tuple(len(s.words) for s in sentences),
        tuple(pieces),
        encode(tokenizer, window_sentences, labels, max_seq_length),
    )


def confidence(
    features: Sequence[Feature], outputs: Sequence[torch.Tensor]
) -> list[list[float | None]]:
    """Each word's probability of its predicted tag (the softmax's largest value at its first
    sub-word); None for a word that tokenized to nothing."""
    probs = []
    for feature, logits in zip(features, outputs, strict=True):
        top = logits.float().softmax(-1).max(-1).values.tolist()
        probs.append([top[p] if p >= 0 else None for p in feature["first"]])
    return probs


def tag_windows(
    windowed: Windowed, labels: Sequence[str], predict: Predict
) -> tuple[list[list[str]], list[list[float | None]]]:
    """Each word's tag and its probability: `decode` on every window, each word tagged by the
    window where it has the most context (`electra.tasks.windows.most_context`)."""
    outputs = predict(windowed.features)
    predicted = zip(decode(windowed.features, outputs, labels),
                    confidence(windowed.features, outputs), strict=True)  # fmt: skip
    by_sentence: list[list[tuple[int, int, list[str], list[float | None]]]] = [
        [] for _ in windowed.words
    ]
    for (i, start, end), (window_tags, window_probs) in zip(
        windowed.pieces, predicted, strict=True
    ):
        by_sentence[i].append((start, end, window_tags, window_probs))
    tags, probs = [], []
    for count, windows in zip(windowed.words, by_sentence, strict=True):
        best = most_context([(start, end) for start, end, *_ in windows], count)
        tags.append([windows[w][2][word - windows[w][0]] for word, w in enumerate(best)])
        probs.append([windows[w][3][word - windows[w][0]] for word, w in enumerate(best)])
    return tags, probs


def tag(
    tokenizer: Tokenizer,
    sentences: Sequence[Sentence],
    labels: Sequence[str],
    max_seq_length: int,
    predict: Predict,
) -> tuple[list[list[str]], list[list[float | None]]]:
    """Each word's tag and its probability, for sentences of any length (see the module
    docstring)."""
    windowed = encode_windows(tokenizer, sentences, labels, max_seq_length)
    return tag_windows(windowed, labels, predict)


def saved_labels(model_dir: str | Path) -> tuple[str, ...]:
    """The tags of a fine-tuned tagger: config.json's `id2label`, checked."""
    raw = hf.read_config_json(model_dir)
    config_file = Path(model_dir) / hf.CONFIG_FILE
    id2label = raw.get("id2label")
    if not id2label or not isinstance(id2label, dict):
        raise UserError(
            f"{config_file}: no id2label, so no tag names (expected a tagger fine-tuned by "
            "`electra finetune tagging`)"
        )
    try:
        by_id = {int(k): str(v) for k, v in id2label.items()}
    except ValueError:
        raise UserError(f"{config_file}: id2label keys are not integers") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise UserError(f"{config_file}: id2label keys are not 0..{len(by_id) - 1}")
    return tuple(by_id[i] for i in range(len(by_id)))


def conll_text(
    sentences: Sequence[Sentence],
    tags: Sequence[Sequence[str]],
    probs: Sequence[Sequence[float | None]] | None = None,
) -> str:
    """Tagged text in CoNLL format: each word's columns (the input's when kept, else the word),
    its predicted tag and, with `probs`, that tag's probability ("-" for a word without
    sub-words), tab-separated; a blank line after each sentence."""

    def extra(i: int, j: int) -> tuple[str, ...]:
        if probs is None:
            return ()
        p = probs[i][j]
        return ("-" if p is None else f"{p:.4f}",)

    return "".join(
        "".join(
            "\t".join((*(s.columns[j] if s.columns else (word,)), tag_, *extra(i, j))) + "\n"
            for j, (word, tag_) in enumerate(zip(s.words, sentence_tags, strict=True))
        )
        + "\n"
        for i, (s, sentence_tags) in enumerate(zip(sentences, tags, strict=True))
    )


def read_scored(path: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The gold and predicted tags of a file whose last two columns are those (refused when the
    two share no tag: a file without its prediction column, `word POS chunk`, would be scored
    POS against chunks)."""
    gold = [s.tags for s in read_conll(path, tag_column=-2)]
    predicted = [s.tags for s in read_conll(path, tag_column=-1)]
    gold_tags = {t for tags in gold for t in tags}
    predicted_tags = {t for tags in predicted for t in tags}
    if gold_tags and predicted_tags and not gold_tags & predicted_tags:
        seen = ", ".join(sorted(gold_tags)[:3]) + " / " + ", ".join(sorted(predicted_tags)[:3])
        raise UserError(f"{path}: its last two columns share no tag ({seen}); expected "
                        "`word ... gold predicted` lines, as `predict tagging` writes them")  # fmt: skip
    return gold, predicted


def score_file(path: Path) -> dict[str, float]:
    """conlleval's scores of a file whose last two columns are the gold and predicted tags."""
    return score(*read_scored(path))


def write_predictions(rows: list[str], out_dir: Path) -> None:
    """`word gold predicted` per line, a blank line between sentences (conlleval's input), and
    conlleval's per-type report of it."""
    write_text(out_dir / PREDICTIONS_FILE, "".join(rows))
    write_text(out_dir / REPORT_FILE, conlleval_report(*read_scored(out_dir / PREDICTIONS_FILE)))


def build_task(
    tokenizer: Tokenizer,
    train_path: Path,
    dev_path: Path,
    max_seq_length: int,
    tag_column: int = -1,
    labels: Sequence[str] = (),
    name: str = "tagging",
    label_encoding: str = "BIOES",
) -> Task:
    """`finetune tagging`: trains on examples cut at `max_seq_length`, and scores the dev file in
    windows, as `predict tagging` tags it, so that its F1 is the one `evaluate tagging` gives.
    Chunk tags train in `label_encoding` (see the module docstring); the dev file is scored on its
    own tags."""
    train_sentences = read_conll(train_path, tag_column)
    dev_sentences = read_conll(dev_path, tag_column)
    files = [(train_path, train_sentences), (dev_path, dev_sentences)]
    bioes = label_encoding == "BIOES" and is_chunk_tagging(train_sentences + dev_sentences)
    if bioes:
        train_sentences = _retagged(train_sentences, "BIOES")
        files = [(path, _retagged(sentences, "BIOES")) for path, sentences in files]
        if labels and not any(t[:2] in ("E-", "S-") for t in labels):  # IOB names given
            kinds = {t[2:] for t in labels if t[:2] in CHUNK_PREFIXES}
            labels = sorted({OUTSIDE, *(p + kind for kind in kinds for p in CHUNK_PREFIXES)})
    label_names = label_set(files, labels)
    train = encode(tokenizer, train_sentences, label_names, max_seq_length)  # cut: see above
    dev = encode_windows(tokenizer, dev_sentences, label_names, max_seq_length)  # as `tag` does

    def evaluate(predict: Predict) -> tuple[dict[str, float], list[str]]:
        predicted, _ = tag_windows(dev, label_names, predict)
        if bioes:
            predicted = [retag(tags, "IOB2") for tags in predicted]
        metrics = score([s.tags for s in dev_sentences], predicted)
        rows = [
            "".join(f"{w} {g} {p}\n" for w, g, p in zip(s.words, s.tags, tags, strict=True)) + "\n"
            for s, tags in zip(dev_sentences, predicted, strict=True)
        ]
        return metrics, rows

    def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(
            outputs.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE
        )

    return Task(
        name=name,
        model_class=TokenClassifier,
        model_kwargs={"num_labels": len(label_names)},
        train=train,
        loss=loss,
        evaluate=evaluate,
        main_metric="f1",
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={
            "id2label": {str(i): label for i, label in enumerate(label_names)},
            "label2id": {label: i for i, label in enumerate(label_names)},
            SETTINGS_KEY: {"label_encoding": "BIOES" if bioes else "file"},
        },
        sequence_pad={"labels": IGNORE},
        loss_terms=lambda batch: (batch["labels"] != IGNORE).sum(),  # official: per token
    )


# ---------------------------------------------------------------------------------- the family


def _read_input(input: TaggingInput) -> list[Sentence]:
    if input.file is not None:
        return read_conll(input.file, tag_column=None, keep_columns=True)
    if input.text_file is not None and str(input.text_file) == "-":
        sentences = text_sentences(sys.stdin)
        if not sentences:
            raise UserError("standard input: no sentences (expected one sentence per line)")
        return sentences
    if input.text_file is not None:
        return read_text(input.text_file)
    sentences = text_sentences(input.texts)
    if len(sentences) != len(input.texts):
        raise UserError("a text to tag is empty (each argument is one sentence)")
    return sentences


class Tagging(Family):
    """Sequence tagging on CoNLL files (`TaggingData`)."""

    spec = FAMILIES["tagging"]

    def runs(self, data: TaggingData, out_dir: Path) -> list[Run]:
        self._files(data)  # there before any model is loaded
        return super().runs(data, out_dir)

    def _files(self, data: TaggingData) -> tuple[Path, Path]:
        train = data.train or find_file(data.data_dir or Path(), TRAIN_FILES, "training")
        dev = data.dev or find_file(data.data_dir or Path(), DEV_FILES, "dev or test")
        return train, dev

    def build_task(
        self, data: TaggingData, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task:
        train, dev = self._files(data)
        return build_task(tokenizer, train, dev, config.max_seq_length, data.tag_column,
                          data.labels, label_encoding=data.label_encoding)  # fmt: skip

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        labels = saved_labels(model_dir)
        model, tokenizer, saved = load_finetuned(
            model_dir, TokenClassifier, "tagging", num_labels=len(labels)
        )
        positions = model.config.max_position_embeddings
        length = saved.get("max_seq_length") or min(
            FinetuneConfig.recipe("base", "tagging").max_seq_length, positions
        )
        return Finetuned(model, tokenizer, labels, length, saved)

    def predict(
        self, finetuned: Finetuned, input: TaggingInput, config: PredictConfig, settings: dict
    ) -> Prediction:
        sentences = _read_input(input)
        device = choose_device()
        pad = SpecialIds.of(finetuned.tokenizer).pad
        predict = make_predict(finetuned.model.to(device), pad, config.batch_size, device)
        length = config.max_seq_length or finetuned.max_seq_length
        tags, probs = tag(finetuned.tokenizer, sentences, finetuned.labels, length, predict)
        if finetuned.saved.get("label_encoding") == "BIOES":
            tags = [retag(t, "IOB2") for t in tags]
        if input.json:
            rows = [
                {"tokens": list(s.words), "tags": t} for s, t in zip(sentences, tags, strict=True)
            ]
            if input.probs:
                for row, p in zip(rows, probs, strict=True):
                    row["probs"] = p
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            text = conll_text(sentences, tags, probs if input.probs else None)
        if input.out is None:
            return Prediction(stdout=text)
        write_text(input.out, text)
        words = sum(len(s.words) for s in sentences)
        return Prediction(
            message=f"tagged {len(sentences)} sentences ({words} words); written to {input.out}"
        )

    def score_file(self, scoring: TaggingScoring) -> dict[str, Any]:
        return score_file(scoring.predictions)

    def show_scores(self, scores: dict[str, Any], scoring: TaggingScoring | None = None) -> str:
        """JSON, or with `table` conlleval's report with its per-type lines."""
        if scoring is not None and scoring.table:
            return conlleval_report(*read_scored(scoring.predictions)).rstrip("\n")
        return super().show_scores(scores)

    def report(self, data: TaggingData, results: list[dict[str, Any]], out_dir: Path) -> str:
        train, dev = self._files(data)
        return f"tagging: trained on {train}, scored on {dev}\n" + super().report(
            data, results, out_dir
        )


FAMILY = Tagging()
