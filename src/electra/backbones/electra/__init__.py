"""ELECTRA's encoder (Clark et al., 2020): BERT's layout with a separate embedding width."""

from electra.backbones import layers
from electra.backbones.electra import network, weights
from electra.backbones.spec import Backbone

BACKBONE = Backbone(
    name="electra",
    model_type="electra",
    hf_prefix="Electra",
    prefix="electra",
    config_to_hf=weights.config_to_hf,
    config_from_hf=weights.config_from_hf,
    encoder_from_hf=weights.encoder_from_hf,
    encoder_to_hf=weights.encoder_to_hf,
    encoder=network.ElectraModel,
    discriminator_head=network.DiscriminatorHead,
    generator_head=layers.GeneratorHead,
)
