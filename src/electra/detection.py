"""Replaced-token detection on text: what the discriminator says about each WordPiece token."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from electra import hf
from electra.backbones.models import Discriminator
from electra.errors import UserError
from electra.tokenizer import SpecialIds, load_tokenizer


@dataclass
class Detection:
    text: str
    tokens: list[str]  # the vocabulary's tokens, without [CLS] and [SEP]
    replaced_prob: list[float]  # sigmoid of the discriminator's logit for each token
    truncated: bool = False  # longer than the model's positions: only its start was scored
    offsets: list[tuple[int, int]] = field(default_factory=list)  # each token's span of `text`

    def to_json(self) -> dict:
        found = {"text": self.text, "tokens": self.tokens, "offsets": self.offsets,
                 "replaced_prob": self.replaced_prob}  # fmt: skip
        return {**found, "truncated": True} if self.truncated else found

    def pieces(self) -> list[str]:
        """Each token as the text it covers: readable whatever the vocabulary spells (`##`, `▁`,
        byte-level BPE's `Ġ` and byte pieces of one character)."""
        return [self.text[a:b] or t for t, (a, b) in zip(self.tokens, self.offsets, strict=True)]

    def show(self, threshold: float = 0.5) -> str:
        """The text, then a token a line (as written in the text) with its probability, marked
        above `threshold`."""
        pieces = self.pieces()
        width = max((len(p) for p in pieces), default=0)
        rows = [self.text]
        for piece, prob in zip(pieces, self.replaced_prob, strict=True):
            mark = "  <- replaced" if prob > threshold else ""
            rows.append(f"  {piece:<{width}}  {prob:.3f}{mark}")
        return "\n".join(rows)


def read_texts(texts: Sequence[str] = (), file: Path | None = None) -> Iterator[str]:
    """`texts` when given, else the lines of `file`, else those of a piped standard input;
    lazily, so a large file or a pipe is never held whole."""
    if texts:
        yield from texts
        return
    if file is not None:
        try:
            with open(file, encoding="utf-8") as lines:
                yield from (line.rstrip("\n") for line in lines if line.strip())
        except FileNotFoundError:
            raise UserError(f"{file}: no such file") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{file}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        return
    if sys.stdin.isatty():
        raise UserError(
            "no text given: pass `texts` as arguments, `file` FILE, or pipe lines on stdin"
        )
    yield from (line.rstrip("\n") for line in sys.stdin if line.strip())


class Detector:
    """A discriminator and its tokenizer, ready to score texts in batches."""

    def __init__(self, model: Discriminator, tokenizer: Tokenizer) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.pad_id = SpecialIds.of(tokenizer).pad
        tokenizer.enable_truncation(model.config.max_position_embeddings)

    @classmethod
    def load(cls, model_dir: str | Path, runtime: str = "auto") -> Detector:
        """The discriminator in `model_dir`, run by PyTorch or, for a directory from `electra
        export onnx`, by onnxruntime (`runtime`, see `electra.onnx_runtime.with_runtime`)."""
        from electra.onnx_runtime import with_runtime

        directory = hf.resolve(model_dir)
        if not hf.is_saved_as(directory, Discriminator):
            raise UserError(
                f"{directory}: saved as {hf.saved_architecture(directory)}, not a discriminator: detection needs the "
                "discriminator (RUN_DIR/discriminator of a pre-training run)"
            )
        tokenizer = load_tokenizer(directory)
        hf.check_vocabulary(directory, tokenizer)
        return cls(with_runtime(hf.load(directory, Discriminator), directory, runtime), tokenizer)

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> list[Detection]:
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        input_ids = torch.full((len(texts), length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(texts), length), dtype=torch.bool)
        for row, encoding in enumerate(encodings):
            input_ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids)
            attention_mask[row, : len(encoding.ids)] = True
        padded = attention_mask if not bool(attention_mask.all()) else None  # None: fused path
        probs = torch.sigmoid(self.model(input_ids, padded).float())  # (B, L)
        detections = []
        for row, (text, encoding) in enumerate(zip(texts, encodings, strict=True)):
            keep = [i for i, special in enumerate(encoding.special_tokens_mask) if not special]
            tokens = [encoding.tokens[i] for i in keep]
            offsets = [tuple(encoding.offsets[i]) for i in keep]
            truncated = bool(encoding.overflowing)
            detections.append(
                Detection(text, tokens, probs[row, keep].tolist(), truncated, offsets)
            )
        return detections

    def stream(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[Detection]:
        """Score texts lazily in batches, so a large file or a pipe is never held whole."""
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) == batch_size:
                yield from self(batch)
                batch = []
        if batch:
            yield from self(batch)


def detect(
    model_dir: str | Path, texts: list[str], batch_size: int = 32, runtime: str = "auto"
) -> list[Detection]:
    """Probability that each token of each text was replaced, from the discriminator in `model_dir`."""
    return list(Detector.load(model_dir, runtime).stream(texts, batch_size))
