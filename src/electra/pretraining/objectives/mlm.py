"""The BERT baseline: masked-language modelling on the same data, for equal-compute comparisons."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from electra.backbones.models import Generator
from electra.config import ModelConfig
from electra.pretraining.objectives.masking import (
    Output,
    choose_positions,
    generator_output,
    word_starts_of,
    write_tokens,
)
from electra.pretraining.options import PretrainConfig
from electra.tokenizer import SpecialIds


class MaskedLanguageModel(nn.Module):
    """The BERT baseline on the same data: a discriminator-sized encoder with a generator head,
    predicting mask_prob of the tokens, shown as [MASK] 80%, a random token 10%, unchanged 10%."""

    def __init__(
        self, model_config: ModelConfig, config: PretrainConfig, special: SpecialIds,
        word_starts: Tensor | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.config, self.special = config, special
        self.register_buffer("word_starts", word_starts, persistent=False)  # whole-word masking
        self.generator = Generator(model_config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
        word_starts: Tensor | None = None,
    ) -> Output:
        c = self.config
        starts = word_starts_of(input_ids, self.word_starts, word_starts)
        masked = choose_positions(input_ids, self.special, c.mask_prob, c.max_predictions, starts)
        draw = torch.rand(masked.positions.shape, device=input_ids.device)  # (B, P)
        random_tokens = torch.randint_like(masked.original, self.generator.config.vocab_size)
        shown = torch.where(
            draw < 0.8, self.special.mask, torch.where(draw < 0.9, random_tokens, masked.original)
        )
        inputs = dict(input_ids=write_tokens(input_ids, masked, shown), attention_mask=attention_mask,
                      token_type_ids=token_type_ids, position_ids=position_ids,
                      document_ids=document_ids)  # fmt: skip
        loss, acc, _ = generator_output(self.generator, inputs, masked, None)
        return Output(loss=loss, gen_loss=loss, gen_acc=acc)

    def exported(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}


OBJECTIVE = MaskedLanguageModel
