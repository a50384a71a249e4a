"""Pre-training compute in FLOPs, under two sets of conventions.

`OFFICIAL` is the counting of google-research/electra's `flops_computation.py`, with which the
paper compares models "at equal compute": a transformer block costs its matmuls (2 FLOPs per
multiply-add) plus fixed costs for every elementwise operation (LayerNorm 5 per element, GELU 8,
softmax 5, dropout 4, biases and residuals 1); the input embedding lookup is counted as a dense
`2·e·v` product per token; the generator's output layer (dense, GELU, LayerNorm, vocabulary
projection and softmax) is paid at `output_frac` = 15.625% of the positions; the discriminator's
head is a dense layer and a logit at every position; and training is *twice* the forward pass.
With it, `electra_small` (1M steps of 128 x 128) is 1.294e18 FLOPs and `bert_small` 1.419e18.

`MEASURED` counts the work this toolkit really does: training is three forward passes (the
backward pass costs two: gradients with respect to activations and to weights), the embedding
lookup is a gather (no FLOPs), the generator's vocabulary projection runs only at the masked
positions (`round(mask_prob · tokens)` per sequence, as `choose_positions` picks them), and
elementwise operations are left out (they are memory traffic, not arithmetic the hardware's peak
refers to). Its count is the one model-FLOP utilisation (MFU) is computed from.
"""

from __future__ import annotations

from dataclasses import dataclass

from electra.config import ModelConfig

DROPOUT, LAYER_NORM, ACTIVATION, SOFTMAX = 4, 5, 8, 5  # official elementwise costs per element


@dataclass(frozen=True)
class Conventions:
    training_passes: float  # training FLOPs = this x the forward pass
    elementwise: bool  # count LayerNorm, activations, softmax, dropout, biases, residuals
    dense_lookup: bool  # count the input embedding lookup as a 2·e·v product
    output_frac: float | None  # generator output layer at this share of positions (None: masked)


OFFICIAL = Conventions(training_passes=2, elementwise=True, dense_lookup=True, output_frac=0.15625)
MEASURED = Conventions(training_passes=3, elementwise=False, dense_lookup=False, output_frac=None)
CONVENTIONS = {"official": OFFICIAL, "measured": MEASURED}  # by the name a flag gives


@dataclass(frozen=True)
class Shape:
    """What the count needs of a network: widths, depth, sequence length, vocabulary."""

    hidden: int
    layers: int
    seq_len: int
    vocab: int = 30522
    embedding: int | None = None  # default: hidden
    intermediate: int | None = None  # default: 4 x hidden
    heads: int | None = None  # default: hidden / 64
    relative: int = 0  # DeBERTa-V3: rows of relative embeddings (2 x buckets); ELECTRA: none

    @classmethod
    def of(cls, model: ModelConfig, seq_len: int) -> Shape:
        relative = 2 * model.position_buckets if model.backbone == "deberta-v3" else 0
        return cls(model.hidden_size, model.num_layers, seq_len, model.vocab_size,
                   model.embedding_size, model.intermediate_size, model.num_heads,
                   relative)  # fmt: skip

    @property
    def e(self) -> int:
        return self.hidden if self.embedding is None else self.embedding

    @property
    def i(self) -> int:
        return 4 * self.hidden if self.intermediate is None else self.intermediate

    @property
    def n_heads(self) -> int:
        return max(self.hidden // 64, 1) if self.heads is None else self.heads


def block_flops(shape: Shape, c: Conventions) -> float:
    """Forward FLOPs of one transformer block over one sequence."""
    h, s, i, heads = shape.hidden, shape.seq_len, shape.i, shape.n_heads
    per_token = (
        3 * 2 * h * h  # q, k, v
        + 2 * h * s  # attention scores
        + 2 * h * s  # the weighted average of the values
        + 2 * h * h  # attention output
        + 2 * h * i  # feed-forward in
        + 2 * h * i  # feed-forward out
    )
    if shape.relative:  # disentangled attention: each query and key against every relative row
        per_token += 2 * (2 * h * shape.relative) + (2 * s * heads if c.elementwise else 0)
    if c.elementwise:
        per_token += (
            3 * h  # q, k, v biases
            + (SOFTMAX + DROPOUT + 1) * s * heads  # softmax, dropout and scaling of the scores
            + h + DROPOUT * h + h + LAYER_NORM  # attention output: bias, dropout, residual, LN
            + ACTIVATION * i + i  # feed-forward activation and bias
            + h + DROPOUT * h + h + LAYER_NORM * h  # output: bias, dropout, residual, LN
        )  # fmt: skip
    return per_token * s


def relative_flops(shape: Shape, c: Conventions) -> float:
    """Forward FLOPs, per batch, of DeBERTa-V3's relative embeddings through each layer's query
    and key projections (and their LayerNorm, once)."""
    h, rows = shape.hidden, shape.relative
    return shape.layers * 2 * rows * h * 2 * h + (LAYER_NORM * rows * h if c.elementwise else 0)


def input_flops(shape: Shape, c: Conventions) -> float:
    """Forward FLOPs of the embeddings (and their projection to the hidden width)."""
    e, h, s = shape.e, shape.hidden, shape.seq_len
    per_token = 2 * e * shape.vocab if c.dense_lookup else 0
    if c.elementwise:
        per_token += 2 * e * (s + 2) + 2 * e + LAYER_NORM * e + DROPOUT * e
    if e != h:
        per_token += 2 * h * e + (h if c.elementwise else 0)
    return per_token * s


def generator_output_flops(shape: Shape, c: Conventions, predicted: float) -> float:
    """Forward FLOPs of the generator's output layer (dense to e, activation, LayerNorm,
    vocabulary projection, softmax) at `predicted` positions of a sequence."""
    e, h, v = shape.e, shape.hidden, shape.vocab
    per_position = 2 * e * v + 2 * h * e
    if c.elementwise:
        per_position += e + ACTIVATION * e + LAYER_NORM * e + SOFTMAX * v + 2 * v
    return per_position * predicted


def discriminator_head_flops(shape: Shape, c: Conventions) -> float:
    """Forward FLOPs of the discriminator's head (dense, activation, one logit) over a sequence."""
    h = shape.hidden
    per_token = 2 * h * h + 2 * h + ((h + ACTIVATION * h) if c.elementwise else 0)
    return per_token * shape.seq_len


def predicted_positions(shape: Shape, c: Conventions, mask_prob: float = 0.15) -> float:
    if c.output_frac is not None:
        return c.output_frac * shape.seq_len
    return round(mask_prob * shape.seq_len)


def mlm_train_flops(shape: Shape, batch: int, steps: float, c: Conventions = OFFICIAL,
                    mask_prob: float = 0.15) -> float:  # fmt: skip
    """BERT-style masked-language-model pre-training: one network with an output layer."""
    forward = (
        shape.layers * block_flops(shape, c)
        + input_flops(shape, c)
        + generator_output_flops(shape, c, predicted_positions(shape, c, mask_prob))
    )
    return c.training_passes * steps * (batch * forward + relative_flops(shape, c))


def discriminator_train_flops(shape: Shape, batch: int, steps: float, c: Conventions = OFFICIAL
                              ) -> float:  # fmt: skip
    forward = (
        shape.layers * block_flops(shape, c)
        + input_flops(shape, c)
        + discriminator_head_flops(shape, c)
    )
    return c.training_passes * steps * (batch * forward + relative_flops(shape, c))


def electra_train_flops(discriminator: Shape, generator: Shape, batch: int, steps: float,
                        c: Conventions = OFFICIAL, mask_prob: float = 0.15) -> float:  # fmt: skip
    """Replaced-token detection: the generator's MLM plus the discriminator, per `c`."""
    return mlm_train_flops(generator, batch, steps, c, mask_prob) + discriminator_train_flops(
        discriminator, batch, steps, c
    )


def rtd_step_flops(model: ModelConfig, seq_len: int, batch: int, mask_prob: float,
                   c: Conventions) -> float:  # fmt: skip
    """One replaced-token-detection step: the generator (of `model.generator()`'s shape) and the
    discriminator."""
    generator = Shape.of(model.generator(), seq_len)
    return electra_train_flops(Shape.of(model, seq_len), generator, batch, 1, c, mask_prob)


def mlm_step_flops(model: ModelConfig, seq_len: int, batch: int, mask_prob: float,
                   c: Conventions) -> float:  # fmt: skip
    """One masked-LM step of a network of `model`'s shape."""
    return mlm_train_flops(Shape.of(model, seq_len), batch, 1, c, mask_prob)
