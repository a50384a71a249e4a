"""What tagging reads from its user: the inputs of `finetune`, `predict` and `evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from electra.config import choice, not_chosen
from electra.errors import UserError
from electra.tasks.options import as_paths, positional


@dataclass
class TaggingData:
    """`finetune tagging`: CoNLL-format files."""

    data_dir: Path | None = None  # holds train.txt and dev.txt/valid.txt/test.txt
    train: Path | None = (
        None  # training file or `datasets` folder/hf: name (default: DATA_DIR/train.txt)
    )
    dev: Path | None = None  # file scored after every epoch (default: DATA_DIR's dev, else test)
    tag_column: int = -1  # CoNLL files: column of the tag (-1: the last)
    tag_field: str = choice(
        "upos", ("upos", "xpos")
    )  # CoNLL-U (.conllu) files: the tag column, by name
    tokens_field: str = "tokens"  # datasets folders, hub splits, JSONL: the field of the word lists
    tags_field: str = "ner_tags"  # ... and of the tag lists (ids with ClassLabel names, or strings)
    labels: tuple[str, ...] = ()  # the tag set, comma-separated (default: every tag in the files)
    label_encoding: str = choice(
        "BIOES", ("BIOES", "file")
    )  # chunk tags train as (official: BIOES)

    def __post_init__(self) -> None:
        as_paths(self)
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.data_dir is None and (self.train is None or self.dev is None):
            raise UserError("give data_dir (or both `train` and `dev`)")


@dataclass
class TaggingInput:
    """`predict tagging`: sentences as arguments, a CoNLL file or a plain-text file."""

    texts: tuple[str, ...] = positional()  # sentences to tag, words split on whitespace
    file: Path | None = None  # CoNLL or CoNLL-U input; its columns kept, a tag added
    text_file: Path | None = None  # plain text, a sentence a line (- for standard input)
    out: Path | None = None  # write the tagged text here (default: standard output)
    json: bool = False  # one {"tokens": [...], "tags": [...]} object per sentence instead of CoNLL
    probs: bool = False  # add each tag's probability (a column, or "probs" in JSON)
    OUT_IS_FILE = True  # (not a field) `out` names a file, not a folder

    def __post_init__(self) -> None:
        as_paths(self)
        given = [name for name in ("texts", "file", "text_file") if getattr(self, name)]
        if len(given) != 1:
            raise UserError(
                "give one input: `texts` as arguments, `file` (CoNLL) or text_file (plain text)"
                + (f" (got {' and '.join(f'`{n}`' for n in given)})" if given else "")
            )


@dataclass
class TaggingScoring:
    """`evaluate tagging`: conlleval's span F1 of a predictions file."""

    predictions: Path  # a file whose last two columns are the gold and the predicted tags
    table: bool = False  # print conlleval's report (overall and per chunk type) instead of JSON

    def __post_init__(self) -> None:
        as_paths(self)
