"""ELECTRA's replaced-token detection.

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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from electra.backbones.layers import Dropout
from electra.backbones.models import Discriminator, Generator
from electra.config import ModelConfig
from electra.pretraining.objectives.masking import (
    Output,
    choose_positions,
    generator_output,
    weighted_mean,
    word_starts_of,
    write_tokens,
)
from electra.pretraining.options import PretrainConfig
from electra.tokenizer import SpecialIds


class DisentangledEmbeddings(nn.Module):
    """The discriminator's embeddings under DeBERTa-V3's gradient-disentangled sharing (GDES):
    each table is the generator's, detached, plus a zero-initialised residual of its own,
    E_D = sg(E_G) + E_delta, under a LayerNorm of its own. The generator learns its embeddings
    from its MLM loss alone; the discriminator's loss reaches only the residuals. The tables are
    whichever the backbone's embeddings have: word, position, token type (DeBERTa-V3: word)."""

    TABLES = ("word", "position", "token_type")

    def __init__(self, shared: nn.Module, config: ModelConfig) -> None:
        super().__init__()
        self._shared = (shared,)  # the generator's: owned (and registered) there
        self.names = [n for n in self.TABLES if getattr(shared, n, None) is not None]
        for name in self.names:  # `word_delta`, ...: the names runs' checkpoints hold
            setattr(
                self, f"{name}_delta", nn.Parameter(torch.zeros_like(getattr(shared, name).weight))
            )
        self.norm = nn.LayerNorm(shared.norm.normalized_shape, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)
        self.padding_idx = shared.word.padding_idx

    def tables(self) -> dict[str, Tensor]:
        g = self._shared[0]
        return {n: getattr(g, n).weight.detach() + getattr(self, f"{n}_delta") for n in self.names}

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """What the generator's embeddings compute, over E_D."""
        tables = self.tables()
        x = F.embedding(input_ids, tables["word"], self.padding_idx)
        if "position" in tables:
            x = x + (
                tables["position"][: input_ids.shape[1]]
                if position_ids is None
                else F.embedding(position_ids, tables["position"])
            )
        if "token_type" in tables:
            token_type = tables["token_type"]
            x = x + (
                token_type[0] if token_type_ids is None else F.embedding(token_type_ids, token_type)
            )
        return self.dropout(self.norm(x))

    def merged(self, config: ModelConfig) -> nn.Module:
        """The backbone's plain embeddings holding E_D: what the exported discriminator carries."""
        merged = type(self._shared[0])(config)
        with torch.no_grad():
            for name, weight in self.tables().items():
                getattr(merged, name).weight.copy_(weight)
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
        self, model_config: ModelConfig, config: PretrainConfig, special: SpecialIds,
        word_starts: Tensor | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.config, self.special = config, special
        self.register_buffer("word_starts", word_starts, persistent=False)  # whole-word masking
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
        out = self.discriminator.head.out  # the official `tf.layers.dense(hidden, units=1)`
        if config.head_init == "official":
            nn.init.xavier_uniform_(out.weight)
        if config.output_bias_prior:  # a departure: start at the share of replaced tokens
            with torch.no_grad():
                out.bias.fill_(torch.logit(torch.tensor(config.mask_prob), eps=1e-3))

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
        word_starts: Tensor | None = None,
    ) -> Output:
        """Inputs as `electra.pretraining.packing.pack_rows` makes them: `position_ids` and
        `document_ids` for packed rows, neither for full ones; or padded rows with their (B, L)
        `attention_mask`."""
        c = self.config
        is_token = input_ids != self.special.pad  # (B, L)
        # 1. Choose ~mask_prob of the maskable tokens.
        starts = word_starts_of(input_ids, self.word_starts, word_starts)
        masked = choose_positions(input_ids, self.special, c.mask_prob, c.max_predictions, starts)
        # 2. Generator input: [MASK] at mask_token_prob of them, the original token at the rest.
        show_mask = torch.rand(masked.positions.shape, device=input_ids.device) < c.mask_token_prob
        gen_input = write_tokens(
            input_ids, masked, masked.original.masked_fill(show_mask, self.special.mask)
        )
        # 3. Generator loss at the chosen positions, and 4. replacements sampled there from its
        # softmax (no gradient flows through them).
        inputs = dict(attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, document_ids=document_ids)  # fmt: skip
        gen_loss, gen_acc, sampled = generator_output(
            self.generator, {"input_ids": gen_input, **inputs}, masked, c.temperature
        )
        disc_input = write_tokens(input_ids, masked, sampled)
        # 5. Labels: replaced where the token differs; a sample equal to the original is original.
        is_replaced = disc_input != input_ids  # (B, L)
        # 6. Discriminator loss over every non-padding token, special tokens included.
        disc_logits = self.discriminator(disc_input, **inputs)
        losses = F.binary_cross_entropy_with_logits(
            disc_logits.float(), is_replaced.float(), reduction="none"
        )
        disc_loss = weighted_mean(losses, is_token)
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
                disc_acc=weighted_mean((predicted == actual).float(), is_token),
                replaced_frac=weighted_mean(actual.float(), is_token),
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


OBJECTIVE = ReplacedTokenDetection
