"""The pre-training objectives: ELECTRA's replaced-token detection and the BERT MLM baseline.

`ReplacedTokenDetection.forward` follows the paper step by step (Clark et al. 2020,
section 2): choose positions -> generator input -> generator loss at
the chosen positions only -> sample from its softmax without gradient -> `is_replaced = sampled !=
original` -> discriminator loss over every non-padding token -> `gen_weight * gen + disc_weight *
disc`. Tensor ops only, no Python loop over rows or tokens, and no host synchronisation: metrics
stay on the device until the trainer logs them.

Where we depart from the official code, on purpose:
- positions are drawn without replacement (the official code samples with replacement, so a
  sequence occasionally predicts fewer distinct tokens than intended);
- the number to predict is `mask_prob` of the maskable (non-special, non-padding) tokens, the
  official code takes it of all non-padding tokens: 19 against 19 at length 128;
- replacements are drawn from the generator's softmax by inverting its CDF rather than by
  Gumbel-max: the same distribution for a quarter of the cost (`vocabulary.sample`);
- the discriminator's output bias starts at the log-odds of `mask_prob`, the share of tokens
  it will see replaced, instead of 0. From 0, every first gradient says "lower all logits";
  Adam moves every weight at once to do so, and the tiny preset then sat at the base-rate loss
  (a constant prediction) for hundreds of steps, even on uniformly random replacements.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from electra.backbones.electra.network import Discriminator, Dropout, Embeddings, Generator
from electra.config import ModelConfig
from electra.pretraining.options import OBJECTIVES, PretrainConfig
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
    input_ids: Tensor, special: SpecialIds, mask_prob: float, max_predictions: int
) -> Masked:
    """`mask_prob` of each row's maskable tokens (at least 1, at most `max_predictions`), uniformly
    without replacement: the top-P of random keys, with unmaskable tokens keyed below them all."""
    maskable = (input_ids != special.pad) & (input_ids != special.cls) & (input_ids != special.sep)
    maskable &= input_ids != special.mask  # (B, L)
    count = maskable.sum(1)  # (B,)
    to_predict = torch.minimum((count * mask_prob).round().long().clamp(1, max_predictions), count)
    keys = torch.rand(input_ids.shape, device=input_ids.device).masked_fill(~maskable, -1.0)
    positions = keys.topk(max_predictions, dim=1).indices  # (B, P)
    slots = torch.arange(max_predictions, device=input_ids.device)
    weights = slots < to_predict[:, None]  # (B, P)
    return Masked(positions, weights, input_ids.gather(1, positions))


def _write(input_ids: Tensor, masked: Masked, tokens: Tensor) -> Tensor:
    """`input_ids` with `tokens` (B, P) written at the real prediction slots."""
    return input_ids.scatter(
        1, masked.positions, torch.where(masked.weights, tokens, masked.original)
    )


def _weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    weights = weights.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1)


def _generator_output(
    generator: Generator, inputs: dict[str, Tensor | None], masked: Masked,
    temperature: float | None,
) -> tuple[Tensor, Tensor, Tensor | None]:  # fmt: skip
    """The generator's loss and accuracy at the chosen positions and, with a temperature, its
    samples there: the vocabulary projection only where a prediction is made."""
    features = generator.features(**inputs, positions=masked.positions)  # (B, P, E)
    out = vocabulary_output(features, generator.output_embeddings, generator.head.bias,
                            masked.original, temperature)  # fmt: skip
    loss = _weighted_mean(out.losses, masked.weights)
    return loss, _weighted_mean(out.correct.float(), masked.weights).detach(), out.sampled


class DisentangledEmbeddings(nn.Module):
    """The discriminator's embeddings under DeBERTa-V3's gradient-disentangled sharing (GDES):
    each table is the generator's, detached, plus a zero-initialised residual of its own,
    E_D = sg(E_G) + E_delta, under a LayerNorm of its own. The generator learns its embeddings
    from its MLM loss alone; the discriminator's loss reaches only the residuals."""

    def __init__(self, shared: Embeddings, config: ModelConfig) -> None:
        super().__init__()
        self._shared = (shared,)  # the generator's: owned (and registered) there
        self.word_delta = nn.Parameter(torch.zeros_like(shared.word.weight))
        self.position_delta = nn.Parameter(torch.zeros_like(shared.position.weight))
        self.token_type_delta = nn.Parameter(torch.zeros_like(shared.token_type.weight))
        self.norm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)
        self.padding_idx = shared.word.padding_idx

    def tables(self) -> tuple[Tensor, Tensor, Tensor]:
        g = self._shared[0]
        return (g.word.weight.detach() + self.word_delta,
                g.position.weight.detach() + self.position_delta,
                g.token_type.weight.detach() + self.token_type_delta)  # fmt: skip

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        word, position, token_type = self.tables()
        x = F.embedding(input_ids, word, self.padding_idx)
        x = x + (
            position[: input_ids.shape[1]]
            if position_ids is None
            else F.embedding(position_ids, position)
        )
        x = x + (
            token_type[0] if token_type_ids is None else F.embedding(token_type_ids, token_type)
        )
        return self.dropout(self.norm(x))

    def merged(self, config: ModelConfig) -> Embeddings:
        """Plain `Embeddings` holding E_D: what the exported discriminator carries."""
        merged = Embeddings(config)
        with torch.no_grad():
            for table, weight in zip((merged.word, merged.position, merged.token_type),
                                     self.tables(), strict=True):  # fmt: skip
                table.weight.copy_(weight)
            merged.norm.load_state_dict(self.norm.state_dict())
        return merged


class ReplacedTokenDetection(nn.Module):
    """ELECTRA: a small generator fills masked positions, the discriminator spots its fills.

    With `embedding_sharing="shared"` (ELECTRA's) the two networks share ONE embedding module
    (word, position and token-type embeddings and their LayerNorm); the generator's output
    projection is those word embeddings. `gdes` gives the discriminator
    `DisentangledEmbeddings` over the generator's; `none` gives each network its own.
    """

    def __init__(
        self, model_config: ModelConfig, config: PretrainConfig, special: SpecialIds
    ) -> None:
        super().__init__()
        self.config, self.special = config, special
        self.model_config = model_config
        if config.embedding_sharing == "shared":
            self.discriminator = Discriminator(model_config)
            self.generator = Generator(
                model_config.generator(), embeddings=self.discriminator.electra.embeddings
            )
        else:
            self.generator = Generator(model_config.generator())
            embeddings = None
            if config.embedding_sharing == "gdes":
                embeddings = DisentangledEmbeddings(self.generator.electra.embeddings, model_config)
            self.discriminator = Discriminator(model_config, embeddings=embeddings)
        with torch.no_grad():
            prior = torch.logit(torch.tensor(config.mask_prob), eps=1e-3)
            self.discriminator.head.out.bias.fill_(prior)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Output:
        """Inputs as `electra.pretraining.packing.pack_rows` makes them: `position_ids` and
        `document_ids` for packed rows, neither for full ones; or padded rows with their (B, L)
        `attention_mask`."""
        c = self.config
        is_token = input_ids != self.special.pad  # (B, L)
        # 1. Choose ~mask_prob of the maskable tokens.
        masked = choose_positions(input_ids, self.special, c.mask_prob, c.max_predictions)
        # 2. Generator input: [MASK] at mask_token_prob of them, the original token at the rest.
        show_mask = torch.rand(masked.positions.shape, device=input_ids.device) < c.mask_token_prob
        gen_input = _write(
            input_ids, masked, masked.original.masked_fill(show_mask, self.special.mask)
        )
        # 3. Generator loss at the chosen positions, and 4. replacements sampled there from its
        # softmax (no gradient flows through them).
        inputs = dict(attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, document_ids=document_ids)  # fmt: skip
        gen_loss, gen_acc, sampled = _generator_output(
            self.generator, {"input_ids": gen_input, **inputs}, masked, c.temperature
        )
        disc_input = _write(input_ids, masked, sampled)
        # 5. Labels: replaced where the token differs; a sample equal to the original is original.
        is_replaced = disc_input != input_ids  # (B, L)
        # 6. Discriminator loss over every non-padding token, special tokens included.
        disc_logits = self.discriminator(disc_input, **inputs)
        losses = F.binary_cross_entropy_with_logits(
            disc_logits.float(), is_replaced.float(), reduction="none"
        )
        disc_loss = _weighted_mean(losses, is_token)
        # 7. One loss for one optimizer over both networks.
        loss = c.gen_weight * gen_loss + c.disc_weight * disc_loss
        with torch.no_grad():
            predicted = (disc_logits > 0) & is_token
            actual = is_replaced & is_token
            return Output(
                loss=loss,
                gen_loss=gen_loss,
                gen_acc=gen_acc,
                disc_loss=disc_loss,
                disc_acc=_weighted_mean((predicted == actual).float(), is_token),
                replaced_frac=_weighted_mean(actual.float(), is_token),
                replaced=actual.sum(),
                predicted_replaced=predicted.sum(),
                true_positives=(predicted & actual).sum(),
                disc_logits=disc_logits.detach(),
                is_replaced=is_replaced,
            )

    def exported(self) -> dict[str, nn.Module]:
        """The networks written to RUN_DIR/<name> in the Hugging Face layout; under GDES the
        discriminator with E_D merged, a plain ELECTRA discriminator."""
        embeddings = self.discriminator.electra.embeddings
        if not isinstance(embeddings, DisentangledEmbeddings):
            return {"discriminator": self.discriminator, "generator": self.generator}
        plain = Discriminator(self.model_config, embeddings=embeddings.merged(self.model_config))
        state = {k: v for k, v in self.discriminator.state_dict().items()
                 if not k.startswith("electra.embeddings.")}  # fmt: skip
        state.update(
            {k: v for k, v in plain.state_dict().items() if k.startswith("electra.embeddings.")}
        )
        plain.load_state_dict(state)
        return {"discriminator": plain.train(self.training), "generator": self.generator}


class MaskedLanguageModel(nn.Module):
    """The BERT baseline on the same data: a discriminator-sized encoder with a generator head,
    predicting mask_prob of the tokens, shown as [MASK] 80%, a random token 10%, unchanged 10%."""

    def __init__(
        self, model_config: ModelConfig, config: PretrainConfig, special: SpecialIds
    ) -> None:
        super().__init__()
        self.config, self.special = config, special
        self.generator = Generator(model_config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Output:
        c = self.config
        masked = choose_positions(input_ids, self.special, c.mask_prob, c.max_predictions)
        draw = torch.rand(masked.positions.shape, device=input_ids.device)  # (B, P)
        random_tokens = torch.randint_like(masked.original, self.generator.config.vocab_size)
        shown = torch.where(
            draw < 0.8, self.special.mask, torch.where(draw < 0.9, random_tokens, masked.original)
        )
        inputs = dict(input_ids=_write(input_ids, masked, shown), attention_mask=attention_mask,
                      token_type_ids=token_type_ids, position_ids=position_ids,
                      document_ids=document_ids)  # fmt: skip
        loss, acc, _ = _generator_output(self.generator, inputs, masked, None)
        return Output(loss=loss, gen_loss=loss, gen_acc=acc)

    def exported(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}


_CLASSES = dict(zip(OBJECTIVES, (ReplacedTokenDetection, MaskedLanguageModel), strict=True))


def build(model_config: ModelConfig, config: PretrainConfig, special: SpecialIds) -> nn.Module:
    """The pre-training network for `config.objective`; its forward returns an `Output`."""
    return _CLASSES[config.objective](model_config, config, special)
