"""DeBERTa-V3's encoder (He et al., 2021): disentangled relative attention, trained by the same
replaced-token detection; `transformers` runs it as `DebertaV2Model`."""

from electra.backbones.deberta import network, weights
from electra.backbones.spec import Backbone

BACKBONE = Backbone(
    name="deberta-v3",
    model_type="deberta-v2",
    hf_prefix="DebertaV2",
    prefix="deberta",
    config_to_hf=weights.config_to_hf,
    config_from_hf=weights.config_from_hf,
    encoder_from_hf=weights.encoder_from_hf,
    encoder_to_hf=weights.encoder_to_hf,
    encoder=network.DebertaModel,
    discriminator_head=network.DiscriminatorHead,
    generator_head=network.generator_head,
    classes={
        "ForPreTraining": ("Model", weights.DISCRIMINATOR_HEAD),  # its head beside the weights
        "ForMaskedLM": ("ForMaskedLM", weights.GENERATOR_HEAD),
        "Model": ("Model", {}),
        "ForTokenClassification": ("ForTokenClassification", {"classifier": "out"}),
        "ForQuestionAnswering": ("ForQuestionAnswering", {"qa_outputs": "out"}),
        "ForSequenceClassification": (
            "ForSequenceClassification",
            {"pooler.dense": "dense", "classifier": "out"},
        ),
        "ForMultipleChoice": (
            "ForMultipleChoice",
            {"pooler.dense": "summary", "classifier": "out"},
        ),
    },
    side_heads=("ForPreTraining",),
    read_also={"ForMaskedLM": weights.LEGACY_GENERATOR_HEAD},
)
