"""What every objective shares: the step's `Output` (loss and metrics), the positions chosen for
prediction, and the generator's loss at those positions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from electra.backbones.models import Generator
from electra.pretraining.vocabulary import vocabulary_output
from electra.tokenizer import SpecialIds

# Metrics that are counts, summed over a logging window; every other metric is averaged.
COUNT_METRICS = ("replaced", "predicted_replaced", "true_positives")


@dataclass
class Output:
    """One step's loss to back-propagate and its detached metrics (0-d tensors on the device)."""

    loss: Tensor  # the weighted total
    gen_loss: Tensor  # generator / MLM cross-entropy at the chosen positions
    gen_acc: Tensor  # generator argmax == original at the chosen positions
    disc_loss: Tensor | None = None  # binary cross-entropy over non-padding tokens
    disc_acc: Tensor | None = None  # (logit > 0) == is_replaced over non-padding tokens
    replaced_frac: Tensor | None = None  # replaced / non-padding tokens
    replaced: Tensor | None = None  # count of replaced tokens
    predicted_replaced: Tensor | None = None  # count of tokens the discriminator calls replaced
    true_positives: Tensor | None = None  # count of replaced tokens it calls replaced
    # per position, for ranking metrics (ROC AUC) at evaluation
    disc_logits: Tensor | None = None  # (B, L)
    is_replaced: Tensor | None = None  # (B, L) bool

    def metrics(self) -> dict[str, Tensor]:
        """The 0-d metrics, detached."""
        return {
            f.name: value.detach()
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
            and value.dim() == 0
            and f.name != "loss"
        }


@dataclass
class Masked:
    """The positions chosen for prediction, `max_predictions` slots per sequence."""

    positions: Tensor  # (B, P) long, distinct within a row
    weights: Tensor  # (B, P) bool: slot holds a real prediction (short rows use fewer)
    original: Tensor  # (B, P) long: the tokens that were there


def choose_positions(
    input_ids: Tensor,
    special: SpecialIds,
    mask_prob: float,
    max_predictions: int,
    word_starts: Tensor | None = None,
) -> Masked:
    """`mask_prob` of each row's maskable tokens (at least 1, at most `max_predictions`), uniformly
    without replacement: the top-P of random keys, with unmaskable tokens keyed below them all.

    With `word_starts` ((B, L) bool: the token begins a word, `whole_word_masking`) every piece of a
    chosen word is chosen with it: each word draws one key, and words are taken in key order while
    the running count of their pieces stays within the same budget (a word that would overrun it
    is left out), so no word is ever half masked."""
    maskable = (input_ids != special.pad) & (input_ids != special.cls) & (input_ids != special.sep)
    maskable &= input_ids != special.mask  # (B, L)
    count = maskable.sum(1)  # (B,)
    to_predict = torch.minimum((count * mask_prob).round().long().clamp(1, max_predictions), count)
    keys = torch.rand(input_ids.shape, device=input_ids.device).masked_fill(~maskable, -1.0)
    if word_starts is not None:
        keys, to_predict = _whole_words(input_ids, maskable, keys, to_predict, word_starts)
    positions = keys.topk(max_predictions, dim=1).indices  # (B, P)
    slots = torch.arange(max_predictions, device=input_ids.device)
    weights = slots < to_predict[:, None]  # (B, P)
    return Masked(positions, weights, input_ids.gather(1, positions))


def word_starts_of(
    input_ids: Tensor, vocabulary: Tensor | None, segmented: Tensor | None
) -> Tensor | None:
    """(B, L) whether each token begins a word, for whole-word masking (None: off, no `vocabulary`
    table): a word segmenter's, recorded by `prepare` (`segmented`), else the vocabulary's own
    ((V,) `vocabulary`: `##`, `▁` or `Ġ`)."""
    if vocabulary is None:
        return None
    return segmented if segmented is not None else vocabulary[input_ids]


def _whole_words(
    input_ids: Tensor, maskable: Tensor, keys: Tensor, budget: Tensor, word_starts: Tensor
) -> tuple[Tensor, Tensor]:
    """Keys shared by the pieces of a word, -1 for the words left out; and the pieces taken."""
    index = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    starts = word_starts | ~maskable  # specials and padding stand alone
    word = torch.where(starts, index, 0).cummax(dim=1).values  # (B, L): each piece's word start
    keys = keys.gather(1, word).masked_fill(~maskable, -1.0)
    order = keys.argsort(dim=1, descending=True, stable=True)  # words whole, in key order
    ordered_word = word.gather(1, order)
    last = torch.ones_like(starts)
    last[:, :-1] = ordered_word[:, 1:] != ordered_word[:, :-1]
    fits = last & ((index + 1) <= budget[:, None]) & (keys.gather(1, order) >= 0)
    taken = torch.zeros_like(index).scatter_reduce(1, ordered_word, fits.long(), "amax")
    chosen = taken.gather(1, word).bool() & maskable
    return keys.masked_fill(~chosen, -1.0), chosen.sum(1)


def write_tokens(input_ids: Tensor, masked: Masked, tokens: Tensor) -> Tensor:
    """`input_ids` with `tokens` (B, P) written at the real prediction slots."""
    return input_ids.scatter(
        1, masked.positions, torch.where(masked.weights, tokens, masked.original)
    )


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    weights = weights.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1)


def generator_output(
    generator: Generator, inputs: dict[str, Tensor | None], masked: Masked,
    temperature: float | None,
) -> tuple[Tensor, Tensor, Tensor | None]:  # fmt: skip
    """The generator's loss and accuracy at the chosen positions and, with a temperature, its
    samples there: the vocabulary projection only where a prediction is made."""
    features = generator.features(**inputs, positions=masked.positions)  # (B, P, E)
    out = vocabulary_output(features, generator.output_embeddings, generator.head.bias,
                            masked.original, temperature)  # fmt: skip
    loss = weighted_mean(out.losses, masked.weights)
    return loss, weighted_mean(out.correct.float(), masked.weights).detach(), out.sampled
