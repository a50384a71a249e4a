"""The DeBERTa-V3 backbone against `transformers`' `DebertaV2*` classes as the oracle, both
directions, on tiny models whose every parameter is drawn at a large scale."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from test_hf_parity import scrambled

from electra import hf
from electra.backbones.deberta.network import bucket_positions
from electra.backbones.models import Discriminator, EncoderOnly, Generator
from electra.config import ModelConfig
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.squad.model import QuestionAnswerer
from electra.tasks.tagging.model import TokenClassifier

transformers = pytest.importorskip("transformers")

# Eight buckets over 24 tokens: distances past 4 fall into the log-spaced buckets, and those past
# 16 (max_relative_positions) onto the table's last rows.
SHAPE = dict(vocab_size=61, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=48,
             max_position_embeddings=64, position_buckets=8, max_relative_positions=16)  # fmt: skip
CONFIG = ModelConfig.preset("tiny", backbone="deberta-v3", embedding_size=32, **SHAPE)


def hf_config(**extra):
    return transformers.DebertaV2Config(**{**hf.config_to_hf(CONFIG), **extra})


def batch():
    """Two rows of 24 tokens, the second padded after 15."""
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 61, (2, 24), generator=g)
    attention_mask = torch.ones(2, 24, dtype=torch.long)
    attention_mask[1, 15:] = 0
    input_ids[1, 15:] = 0
    return input_ids, attention_mask


def real(tensor, attention_mask):
    """The positions that hold tokens (padding's outputs are nobody's)."""
    return tensor[attention_mask.bool()]


def test_distances_fall_into_transformers_log_buckets():
    from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position

    distance = torch.arange(-600, 601)[None, :]
    for buckets, limit in ((8, 64), (256, 512), (32, 100), (7, 50)):  # an odd count too
        assert torch.equal(
            bucket_positions(distance, buckets, limit),
            make_log_bucket_position(distance, buckets, limit).long(),
        )


CASES = [
    (EncoderOnly, "DebertaV2Model", {}, lambda out: out.last_hidden_state),
    (Generator, "DebertaV2ForMaskedLM", {}, lambda out: out.logits),
    (SequenceClassifier, "DebertaV2ForSequenceClassification", {"num_labels": 3},
     lambda out: out.logits[:, None]),
    (TokenClassifier, "DebertaV2ForTokenClassification", {"num_labels": 5},
     lambda out: out.logits),
    (QuestionAnswerer, "DebertaV2ForQuestionAnswering", {},
     lambda out: torch.stack([out.start_logits, out.end_logits], -1)),
]  # fmt: skip


def ours(model, inputs):
    out = model(*inputs)
    if isinstance(out, tuple):
        return torch.stack(out, -1)
    return out[:, None] if out.dim() == 2 and out.shape[1] != inputs[0].shape[1] else out


@pytest.mark.parametrize("ours_cls, hf_name, kwargs, pick", CASES, ids=[c[1] for c in CASES])
def test_a_transformers_deberta_loads_with_identical_outputs(
    tmp_path, ours_cls, hf_name, kwargs, pick
):
    torch.manual_seed(0)
    reference = scrambled(getattr(transformers, hf_name)(hf_config(**kwargs))).eval()
    reference.save_pretrained(tmp_path)
    model = hf.load(tmp_path, ours_cls).eval().double()  # float64: no rounding to hide behind
    reference.double()
    input_ids, attention_mask = batch()
    with torch.no_grad():
        expected = pick(reference(input_ids, attention_mask))
        got = ours(model, (input_ids, attention_mask))
    mask = attention_mask if expected.shape[1] == input_ids.shape[1] else attention_mask[:, :1]
    torch.testing.assert_close(real(got, mask), real(expected, mask), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ours_cls, hf_name, kwargs, pick", CASES, ids=[c[1] for c in CASES])
def test_a_saved_deberta_loads_in_transformers_with_identical_outputs(
    tmp_path, ours_cls, hf_name, kwargs, pick
):
    model = scrambled(ours_cls(CONFIG, **kwargs), seed=1).eval()
    hf.save(model, tmp_path)
    reference, info = getattr(transformers, hf_name).from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    model.double(), reference.double()
    input_ids, attention_mask = batch()
    with torch.no_grad():
        expected = pick(reference.eval()(input_ids, attention_mask))
        got = ours(model, (input_ids, attention_mask))
    mask = attention_mask if expected.shape[1] == input_ids.shape[1] else attention_mask[:, :1]
    torch.testing.assert_close(real(got, mask), real(expected, mask), rtol=1e-5, atol=1e-5)


def official_rtd_head(hidden, weights):
    """The official `LMMaskPredictionHead` (microsoft/DeBERTa replaced_token_detection_model.py),
    transcribed: LayerNorm(first state + state) -> dense -> GELU -> classifier."""
    w = {k.removeprefix("mask_predictions."): v.double() for k, v in weights.items()}
    x = torch.nn.functional.layer_norm(hidden + hidden[:, :1], hidden.shape[-1:],
                                       w["LayerNorm.weight"], w["LayerNorm.bias"], eps=1e-7)  # fmt: skip
    x = torch.nn.functional.gelu(x @ w["dense.weight"].T + w["dense.bias"])
    return (x @ w["classifier.weight"].T + w["classifier.bias"]).squeeze(-1)


def test_the_discriminator_saves_a_transformers_encoder_and_the_official_head_beside_it(tmp_path):
    from safetensors.torch import load_file

    model = scrambled(Discriminator(CONFIG), seed=2).eval()
    hf.save(model, tmp_path)
    head = load_file(tmp_path / hf.HEAD_FILE)
    assert sorted(head) == sorted(f"mask_predictions.{m}.{p}" for m in ("LayerNorm", "dense",
                                  "classifier") for p in ("weight", "bias"))  # fmt: skip
    encoder, info = transformers.DebertaV2Model.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info.values())  # nothing missing, unexpected or mismatched
    input_ids, attention_mask = batch()
    with torch.no_grad():
        hidden = encoder.double().eval()(input_ids, attention_mask).last_hidden_state
        expected = official_rtd_head(hidden, head)
        got = hf.load(tmp_path, Discriminator).double().eval()(input_ids, attention_mask)
    torch.testing.assert_close(real(got, attention_mask), real(expected, attention_mask))
    assert hf.is_saved_as(tmp_path, Discriminator) and not hf.is_saved_as(tmp_path, EncoderOnly)
    assert hf.load(tmp_path, EncoderOnly).head_initialized is False  # the encoder, head left


def test_a_packed_row_adds_each_examples_own_first_state():
    from electra.backbones.deberta.network import first_states

    hidden = torch.arange(6.0)[None, :, None]
    documents = torch.tensor([[0, 0, 0, 1, 1, -1]])
    assert first_states(hidden, documents).flatten().tolist() == [0, 0, 0, 3, 3, 5]
    assert first_states(hidden, None).flatten().tolist() == [0] * 6


@pytest.mark.parametrize("sharing", ["gdes", "shared", "none"])
def test_replaced_token_detection_trains_a_deberta_pair_and_exports_it(tmp_path, sharing):
    from electra.pretraining.objectives.rtd import ReplacedTokenDetection
    from electra.pretraining.options import PretrainConfig
    from electra.tokenizer import SpecialIds

    special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    config = PretrainConfig.preset("tiny", "deberta-v3", embedding_sharing=sharing)
    model_config = ModelConfig.preset("tiny", backbone="deberta-v3", **SHAPE)
    assert model_config.generator().num_layers == 1 and model_config.generator().hidden_size == 32
    objective = ReplacedTokenDetection(model_config, config, special)
    shared, own = objective.generator.electra.embeddings, objective.discriminator.electra.embeddings
    assert (own is shared) == (sharing == "shared")
    assert (getattr(own, "_shared", (None,))[0] is shared) == (sharing == "gdes")
    input_ids, attention_mask = batch()
    input_ids[:, 0] = special.cls
    out = objective(input_ids, attention_mask)
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.replaced > 0
    exported = objective.exported()
    for name, network in exported.items():
        hf.save(network.eval(), tmp_path / name)
    objective.eval()
    with torch.no_grad():
        logits = objective.discriminator(input_ids, attention_mask)
        loaded = hf.load(tmp_path / "discriminator", Discriminator).eval()(
            input_ids, attention_mask
        )
    torch.testing.assert_close(real(loaded, attention_mask), real(logits, attention_mask))
    generator = transformers.DebertaV2ForMaskedLM.from_pretrained(tmp_path / "generator")
    assert generator.config.num_hidden_layers == 1


def test_pretraining_continues_a_transformers_deberta_encoder_with_a_fresh_head(
    prepared, tmp_path, capsys
):
    """`--init-from` a `DebertaV2Model` saved by transformers (which has no replaced-token head):
    the encoder's weights are the checkpoint's, the head starts fresh, and the run exports."""
    from electra.cli import main
    from electra.tokenizer import load_tokenizer, save_tokenizer

    tokenizer = load_tokenizer(prepared)
    shape = {**SHAPE, "vocab_size": tokenizer.get_vocab_size(), "max_position_embeddings": 128}
    config = ModelConfig.preset("tiny", backbone="deberta-v3", **shape)
    encoder = transformers.DebertaV2Model(transformers.DebertaV2Config(**hf.config_to_hf(config)))
    encoder.save_pretrained(tmp_path / "encoder")
    save_tokenizer(tokenizer, tmp_path / "encoder")
    argv = ["pretrain", "--data", str(prepared), "--out", str(tmp_path / "run"), "--preset", "tiny",
            "--init-from", str(tmp_path / "encoder"), "--steps", "1", "--batch-size", "4",
            "--warmup-steps", "1", "--eval-batches", "1", "--lr", "1e-9"]  # fmt: skip
    assert main(argv) == 0
    assert "a bare encoder; the discriminator's head starts fresh" in capsys.readouterr().err
    exported = transformers.DebertaV2Model.from_pretrained(tmp_path / "run" / "discriminator")
    before, after = encoder.state_dict(), exported.state_dict()
    assert sorted(before) == sorted(after)
    for key in (
        "encoder.layer.1.attention.self.query_proj.weight",
        "embeddings.word_embeddings.weight",
    ):  # GDES: E_G := E_D, residuals 0
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-6)  # a step at 1e-9
    saved = json.loads((tmp_path / "run" / "pretrain.json").read_text())
    assert saved["pretrain"]["embedding_sharing"] == "gdes"  # DeBERTa-V3's recipe
    generator = transformers.DebertaV2ForMaskedLM.from_pretrained(tmp_path / "run" / "generator")
    torch.testing.assert_close(generator.state_dict()["deberta.embeddings.word_embeddings.weight"],
                               before["embeddings.word_embeddings.weight"], rtol=0, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("made_by", ["electra", "transformers"])
def test_deberta_models_export_to_onnx_with_identical_outputs(assets, tmp_path, made_by):
    """Our discriminator (with its head file) and a `transformers`-made DeBERTa tagger: the
    graph in onnxruntime gives the PyTorch outputs on a padded batch, int8 exports too."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from electra.cli import main
    from electra.onnx_export import load_model
    from electra.onnx_runtime import ONNX_FILE, OnnxRunner
    from electra.tokenizer import load_tokenizer, save_tokenizer

    tokenizer = load_tokenizer(assets / "vocab.txt")
    config = ModelConfig.preset("tiny", backbone="deberta-v3",
                                **{**SHAPE, "vocab_size": tokenizer.get_vocab_size()})  # fmt: skip
    torch.manual_seed(0)
    if made_by == "electra":
        hf.save(Discriminator(config), tmp_path / "model", tokenizer=tokenizer)
    else:
        hf_config = transformers.DebertaV2Config(**hf.config_to_hf(config), num_labels=3)
        transformers.DebertaV2ForTokenClassification(hf_config).save_pretrained(tmp_path / "model")
        save_tokenizer(tokenizer, tmp_path / "model")
    out = tmp_path / "onnx"
    argv = ["export", "onnx", "--model", str(tmp_path / "model"), "--out", str(out)]
    assert main([*argv, "--quantize", "int8"]) == 0
    model, kind, _ = load_model(tmp_path / "model")
    assert kind == ("discriminator" if made_by == "electra" else "tagging")
    ids = torch.randint(5, config.vocab_size, (3, 30))
    mask = torch.ones_like(ids)
    mask[1, 17:], mask[2, 6:] = 0, 0
    with torch.no_grad():
        expected = model(ids, mask.bool(), torch.zeros_like(ids))
    got = OnnxRunner(out / ONNX_FILE, model)(ids, mask, torch.zeros_like(ids))
    got = got[0] if isinstance(got, tuple) else got
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-4, rtol=1e-4)


def test_a_transformers_deberta_multiple_choice_model_scores_as_ours(tmp_path):
    from electra.tasks.choice.model import MultipleChoice

    reference = scrambled(transformers.DebertaV2ForMultipleChoice(hf_config())).eval().double()
    reference.save_pretrained(tmp_path)
    model = hf.load(tmp_path, MultipleChoice, num_choices=3, pad_id=0).eval().double()
    ids = torch.randint(3, 61, (2, 3, 10))
    with torch.no_grad():
        expected = reference(ids).logits
        got = model(ids.reshape(2, 30))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_every_family_fine_tunes_predicts_and_exports_a_deberta_discriminator(assets, tmp_path):
    """From a tiny DeBERTa-V3 discriminator: each fine-tuning family trains, saves a model
    `transformers` loads as its DebertaV2 class (or, for the official heads, the encoder in
    `encoder/`), predicts, and exports to ONNX; `detect` reads the discriminator."""
    from electra.cli import main
    from electra.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(assets / "vocab.txt")
    config = ModelConfig.preset("tiny", backbone="deberta-v3",
                                **{**SHAPE, "vocab_size": tokenizer.get_vocab_size(),
                                   "max_position_embeddings": 256})  # fmt: skip
    torch.manual_seed(0)
    disc = hf.save(Discriminator(config), tmp_path / "disc", tokenizer=tokenizer)
    assert main(["detect", "--model", str(disc), "the quick brown fox", "--json"]) == 0
    rows = ["text,label"] + [f"{'good fine day' if i % 2 else 'bad awful night'} {i},{i % 2}"
                             for i in range(16)]  # fmt: skip
    (tmp_path / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    own = ["--train", str(tmp_path / "own.csv"), "--dev", str(tmp_path / "own.csv"),
           "--text-columns", "text", "--label-column", "label"]  # fmt: skip
    conll, squad = str(assets / "conll" / "dev.txt"), str(assets / "squad" / "dev-v2.0.json")
    short = ["--max-seq-length", "96", "--doc-stride", "48", "--max-query-length", "24"]
    runs = {  # family args, transformers class (None: the official head, encoder/ saved)
        "glue": (["glue", *own], None),
        "glue-transformers": (["glue", *own, "--head", "transformers"],
                              "DebertaV2ForSequenceClassification"),
        "tagging": (["tagging", "--train", conll, "--dev", conll, "--max-train-examples", "8"],
                    "DebertaV2ForTokenClassification"),
        "squad": (["squad", "--train", squad, "--dev", squad, *short], None),
        "squad-independent": (["squad", "--train", squad, "--dev", squad, *short, "--head",
                               "independent"], "DebertaV2ForQuestionAnswering"),
    }  # fmt: skip
    quiet = ["--epochs", "1", "--batch-size", "8", "--no-progress"]
    for name, ((family, *args), hf_class) in runs.items():
        out = tmp_path / name
        assert (
            main(["finetune", family, "--model", str(disc), "--out", str(out), *quiet, *args]) == 0
        )
        model = out / "model"
        if hf_class is None:
            loaded = transformers.DebertaV2Model.from_pretrained(model, subfolder="encoder")
            assert loaded.config.model_type == "deberta-v2"
        else:
            assert type(transformers.AutoModel.from_pretrained(model)).__name__ == "DebertaV2Model"
            assert (
                getattr(transformers, hf_class).from_pretrained(model).config.num_hidden_layers == 2
            )
        assert main(["export", "onnx", "--model", str(model), "--out", str(out / "onnx")]) == 0
    assert main(["predict", "tagging", "--model", str(tmp_path / "tagging" / "model"),
                 "the big dog"]) == 0  # fmt: skip
    assert main(["predict", "squad", "--model", str(tmp_path / "squad" / "model"), "--data", squad,
                 "--out", str(tmp_path / "answers")]) == 0  # fmt: skip
    assert (tmp_path / "answers" / "predictions.json").is_file()
    card = (tmp_path / "glue" / "model" / "README.md").read_text()
    assert "# DeBERTa-V3 fine-tuned on" in card and "DebertaV2Model.from_pretrained(" in card


@pytest.mark.slow
def test_compare_runs_a_deberta_arm_beside_an_electra_one_to_equal_flops(
    prepared, assets, tmp_path
):
    from electra.cli import main
    from electra.pretraining.flops import OFFICIAL
    from electra.pretraining.objectives import step_flops

    shape = ["--embedding-size", "32", "--hidden-size", "32", "--num-layers", "2",
             "--num-heads", "2", "--intermediate-size", "64", "--max-position-embeddings", "64",
             "--batch-size", "8", "--eval-batches", "1"]  # fmt: skip
    deberta = ModelConfig.preset("tiny", backbone="deberta-v3", vocab_size=400, hidden_size=32,
                                 num_layers=2, num_heads=2, intermediate_size=64,
                                 max_position_embeddings=64)  # fmt: skip
    budget = 3 * step_flops(deberta, 32, 8, "rtd", c=OFFICIAL)
    out = tmp_path / "compare"
    argv = ["compare", "--data", str(prepared), "--out", str(out), "--flops-budget", str(budget),
            "--arms", "rtd,deberta-v3:rtd+gdes", "--fractions", "1", "--tagging-dir",
            str(assets / "conll"), "--seeds", "1", "--max-train-examples", "16", "--epochs", "1",
            "--no-random-init", *shape]  # fmt: skip
    assert main(argv) == 0
    arms = json.loads((out / "compare.json").read_text())["arms"]
    assert arms["deberta-v3:rtd+gdes"]["steps"] == 3 < arms["rtd"]["steps"]
    for arm in arms.values():
        final = arm["stages"][-1]
        assert final["flops"] <= budget < final["flops"] + arm["step_flops"]["official"]
    saved = json.loads((out / "deberta-v3-rtd+gdes" / "run" / "pretrain.json").read_text())
    assert saved["model"]["backbone"] == "deberta-v3"
    assert saved["pretrain"]["embedding_sharing"] == "gdes"
    bad = ["compare", "--data", str(prepared), "--out", str(tmp_path / "x"), "--flops-budget",
           "1e9", "--arms", "gpt:rtd", "--tagging-dir", str(assets / "conll")]  # fmt: skip
    assert main(bad) == 2


def test_the_attention_training_path_equals_the_fused_one_when_nothing_is_dropped(monkeypatch):
    """On CPU with dropout due, attention runs its own steps (our dropout masks); with every
    element kept they must give what the fused SDPA path gives, gradients included."""
    from electra.backbones import layers
    from electra.backbones.deberta.network import DisentangledAttention, relative_index

    config = ModelConfig.preset("tiny", backbone="deberta-v3", attention_dropout=0.25,
                                hidden_dropout=0.0, **SHAPE)  # fmt: skip
    attention = DisentangledAttention(config)
    x = torch.randn(2, 24, 32, requires_grad=True)
    relative = torch.randn(2 * config.position_buckets, 32)
    index, keys = relative_index(24, config, x.device), batch()[1].bool()[:, None, None, :]
    monkeypatch.setattr(
        layers, "keep_mask", lambda shape, p, device: torch.ones(shape, dtype=torch.bool)
    )
    trained = attention.train()(x, keys, relative, index)
    (grad,) = torch.autograd.grad(trained.sum(), x)
    inner = []  # what the fused path feeds the output projection
    attention.out.register_forward_pre_hook(lambda module, args: inner.append(args[0]))
    attention.eval()(x, keys, relative, index)
    fused = attention.out(inner[-1] / 0.75)  # every element kept: probabilities rescaled
    (fused_grad,) = torch.autograd.grad(fused.sum(), x)
    torch.testing.assert_close(trained, fused, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, fused_grad, rtol=1e-4, atol=1e-5)


def test_a_transformers_deberta_mlm_in_its_default_legacy_layout_loads(tmp_path):
    """`DebertaV2ForMaskedLM` defaults to `legacy` true (a `cls.predictions` head): what users
    trained with `transformers` holds. It loads as our generator with the same logits."""
    config = hf.config_to_hf(CONFIG)
    reference = transformers.DebertaV2ForMaskedLM(
        transformers.DebertaV2Config(**{**config, "legacy": True})
    )
    assert hasattr(reference, "cls")
    scrambled(reference).eval().double().save_pretrained(tmp_path)
    model = hf.load(tmp_path, Generator).eval().double()
    input_ids, attention_mask = batch()
    with torch.no_grad():
        expected = reference(input_ids, attention_mask).logits
        got = model(input_ids, attention_mask)
    torch.testing.assert_close(
        real(got, attention_mask), real(expected, attention_mask), rtol=1e-5, atol=1e-5
    )


V3_LAYOUT = dict(model_type="deberta-v2", relative_attention=True, position_biased_input=False,
                 pos_att_type="p2c|c2p", share_att_key=True, norm_rel_ebd="layer_norm",
                 position_buckets=256)  # fmt: skip


def test_a_config_json_without_the_sizes_takes_transformers_defaults():
    from electra.backbones.deberta.weights import config_from_hf
    from electra.errors import UserError

    theirs = transformers.DebertaV2Config()
    ours = config_from_hf({**V3_LAYOUT, "pad_token_id": None})
    pairs = {"vocab_size": "vocab_size", "hidden_size": "hidden_size",
             "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
             "intermediate_size": "intermediate_size", "hidden_act": "hidden_act",
             "max_position_embeddings": "max_position_embeddings",
             "type_vocab_size": "type_vocab_size", "hidden_dropout": "hidden_dropout_prob",
             "attention_dropout": "attention_probs_dropout_prob",
             "layer_norm_eps": "layer_norm_eps", "initializer_range": "initializer_range",
             "max_relative_positions": "max_relative_positions"}  # fmt: skip
    for field, key in pairs.items():
        assert getattr(ours, field) == getattr(theirs, key), field
    assert ours.pad_token_id == 0 and ours.embedding_size == ours.hidden_size
    assert (ours.generator_fraction, ours.generator_layers) == (1.0, 0.5)
    assert config_from_hf(V3_LAYOUT).pad_token_id == 0  # absent: transformers' 0
    no_buckets = {k: v for k, v in V3_LAYOUT.items() if k != "position_buckets"}
    with pytest.raises(UserError, match="position_buckets"):  # transformers' -1: no buckets
        config_from_hf(no_buckets)


@pytest.mark.parametrize(
    "change, named",
    [({"relative_attention": False}, "relative_attention"),
     ({"position_biased_input": True}, "position_biased_input"),
     ({"pos_att_type": "c2p"}, "pos_att_type"), ({"pos_att_type": ["c2p"]}, "pos_att_type"),
     ({"pos_att_type": None}, "pos_att_type"), ({"max_relative_positions": 5}, "max_relative"),
     ({"share_att_key": False}, "share_att_key"), ({"norm_rel_ebd": "none"}, "norm_rel_ebd"),
     ({"conv_kernel_size": 3}, "conv_kernel_size"),
     ({"embedding_size": 128, "hidden_size": 64}, "embedding_size"),
     ({"attention_head_size": 32, "hidden_size": 64, "num_attention_heads": 4},
      "attention_head_size")],
)  # fmt: skip
def test_a_layout_other_than_v3s_is_refused_naming_the_key(change, named):
    from electra.backbones.deberta.weights import config_from_hf
    from electra.errors import UserError

    with pytest.raises(UserError, match=named):
        config_from_hf({**V3_LAYOUT, **change})
    relaxed = config_from_hf({**V3_LAYOUT, "pos_att_type": "P2C | c2p", "hidden_size": 64,
                              "num_attention_heads": 4, "attention_head_size": 16})  # fmt: skip
    assert relaxed.hidden_size == 64  # the hub's spelling of the terms, and a matching head size


def test_segments_another_activation_and_no_mask_match_transformers(tmp_path):
    """What the V3 presets leave out but a `config.json` may hold: segment embeddings and
    another activation (every one of DeBERTa's follows `hidden_act`); full rows with no mask."""
    reference = transformers.DebertaV2ForMaskedLM(
        hf_config(type_vocab_size=2, hidden_act="gelu_new")
    )
    scrambled(reference).eval().double().save_pretrained(tmp_path)
    model = hf.load(tmp_path, Generator).eval().double()
    input_ids = batch()[0][:1]
    types = (torch.arange(24) >= 10).long()[None, :]
    with torch.no_grad():
        expected = reference(input_ids, token_type_ids=types).logits
        torch.testing.assert_close(model(input_ids, None, types), expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(model(input_ids), expected)  # segment 0 everywhere differs
        zeros = reference(input_ids, token_type_ids=torch.zeros_like(types)).logits
        torch.testing.assert_close(model(input_ids), zeros, rtol=1e-5, atol=1e-5)


def test_packed_rows_compute_each_example_as_alone_and_padding_trains_nothing():
    from test_pretrain_packing import SPECIAL, assert_each_example_as_alone, examples

    from electra.pretraining.packing import model_inputs, pack_rows

    config = ModelConfig.preset("tiny", backbone="deberta-v3", **{**SHAPE, "vocab_size": 50})
    model = scrambled(Discriminator(config), seed=3).eval()
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = pack_rows(ids, SPECIAL)
    alone_inputs = model_inputs(ids, SPECIAL.pad, SPECIAL.sep)
    with torch.no_grad():
        assert_each_example_as_alone(
            packed, ids, model.electra(**packed), model.electra(**alone_inputs)
        )
        logits = model(**packed)[..., None]  # the head adds each example's own first state
        assert_each_example_as_alone(packed, ids, logits, model(**alone_inputs)[..., None])
    model.train()
    model(**packed).sum().backward()  # packed rows' padding is not multiplied away
    word = model.electra.embeddings.word.weight.grad
    assert word[SPECIAL.pad].abs().sum() == 0 and word[ids[0, 1]].abs().sum() > 0


@pytest.mark.parametrize("limit", [16, -1])
def test_relative_rows_are_transformers_clamped_buckets_past_the_farthest_distance(limit):
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

    from electra.backbones.deberta.network import relative_index

    config = dataclasses.replace(CONFIG, max_relative_positions=limit)
    states = torch.zeros(1, 70, 1)  # longer than the farthest distance: rows clamp at both ends
    theirs = build_relative_position(states, states, 8, limit if limit > 0 else 64)[0]
    expected = (theirs + 8).clamp(0, 15)
    got = relative_index(70, config, torch.device("cpu"))
    assert torch.equal(got, expected) and got.min() == 0 and got.max() == 15
