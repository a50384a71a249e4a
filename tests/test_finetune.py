"""The shared fine-tuning loop: recipe, layer-wise learning rates, schedule, batching, training."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)

from electra import hf
from electra.backbones.models import Discriminator
from electra.config import ModelConfig
from electra.errors import UserError
from electra.schedule import lr_factor
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.loop import finetune
from electra.tasks.optimizer import build_optimizer, layer_lrs
from electra.tasks.options import FinetuneConfig, recipe_size
from electra.tasks.registry import FAMILIES
from electra.tasks.task import Task, collate, make_predict

TINY = dict(
    vocab_size=40,
    embedding_size=16,
    hidden_size=32,
    num_layers=3,
    num_heads=2,
    intermediate_size=64,
)


def _recipe(size: str, family: str, task: str, **overrides):
    return FinetuneConfig.for_task(size, FAMILIES[family].recipe(task), **overrides)


def test_recipe_follows_the_paper_table():
    small = _recipe("small", "glue", "rte")
    assert (small.lr, small.layerwise_lr_decay, small.epochs) == (3e-4, 0.8, 10)
    assert (small.batch_size, small.max_seq_length, small.warmup_fraction) == (32, 128, 0.1)
    assert small.weight_decay == 0.0
    base = _recipe("base", "glue", "sst2")
    assert (base.lr, base.layerwise_lr_decay, base.epochs) == (1e-4, 0.8, 3)
    large = _recipe("large", "glue", "stsb")
    assert (large.lr, large.layerwise_lr_decay, large.epochs) == (5e-5, 0.9, 10)
    squad = _recipe("large", "squad", "squad")
    assert (squad.epochs, squad.max_seq_length) == (2, 512)
    assert _recipe("small", "tagging", "tagging").max_seq_length == 256
    # Flags override; flags not given (None) do not.
    tuned = _recipe("small", "glue", "rte", epochs=2, lr=None, seed=7)
    assert (tuned.epochs, tuned.lr, tuned.seed) == (2, 3e-4, 7)


def test_recipe_size_follows_the_model_shape():
    assert recipe_size(ModelConfig.small()) == "small"
    assert recipe_size(ModelConfig.base()) == "base"
    assert recipe_size(ModelConfig.large()) == "large"
    assert recipe_size(ModelConfig.tiny()) == "small"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": 0}, "`epochs` must be positive"),
        ({"layerwise_lr_decay": 1.5}, "layerwise_lr_decay 1.5 is not in (0, 1]"),
        ({"keep": "first"}, "`keep` 'first' is not 'last' or 'best'"),
        ({"max_seq_length": 1024}, "max_seq_length 1024 exceeds 512"),
    ],
)
def test_recipe_rejects_bad_values(overrides, message):
    with pytest.raises(
        UserError, match="fine-tuning config: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        _recipe("small", "glue", "rte", **overrides)


def official_layer_lrs(learning_rate: float, layer_decay: float, n_layers: int) -> dict[str, float]:
    """A transcription of `_get_layer_lrs` in google-research/electra's model/optimization.py:
    TensorFlow variable-name keys -> their learning rates."""
    key_to_depths = {"/embeddings/": 0, "/embeddings_project/": 0, "task_specific/": n_layers + 2}
    for layer in range(n_layers):
        key_to_depths["encoder/layer_" + str(layer) + "/"] = layer + 1
    return {key: learning_rate * (layer_decay ** (n_layers + 2 - depth))
            for key, depth in key_to_depths.items()}  # fmt: skip


def official_key(name: str) -> str:
    """The official variable-name key our parameter `name` falls under."""
    if name.startswith("electra.encoder.layers."):
        return f"encoder/layer_{name.split('.')[3]}/"
    if name.startswith("electra.projection."):
        return "/embeddings_project/"
    return "/embeddings/" if name.startswith("electra.") else "task_specific/"


@pytest.mark.parametrize("layers", [12, 3])
def test_layerwise_learning_rates_equal_the_official_table(layers):
    model = SequenceClassifier(ModelConfig(**{**TINY, "num_layers": layers}), num_labels=2)
    rates, official = layer_lrs(model, 3e-4, 0.8), official_layer_lrs(3e-4, 0.8, layers)
    assert set(rates) == {name for name, _ in model.named_parameters()}
    for name, rate in rates.items():
        assert rate == pytest.approx(official[official_key(name)], rel=1e-12), name
    top = f"electra.encoder.layers.{layers - 1}.ffn.up.weight"
    assert rates[top] == pytest.approx(3e-4 * 0.8**2)  # the official top layer: lr * d^2
    assert rates["electra.embeddings.word.weight"] == pytest.approx(3e-4 * 0.8 ** (layers + 2))
    assert rates["head.out.weight" if "head.out.weight" in rates else next(
        n for n in rates if not n.startswith("electra."))] == pytest.approx(3e-4)  # fmt: skip
    intended = layer_lrs(model, 3e-4, 0.8, rule="intended")
    assert intended[top] == pytest.approx(3e-4 * 0.8)
    assert intended["electra.embeddings.word.weight"] == pytest.approx(3e-4 * 0.8 ** (layers + 1))


def official_adam_updates(param, grads, lr, wd, beta1=0.9, beta2=0.999, eps=1e-6):
    """A transcription of AdamWeightDecayOptimizer._apply_gradients (official code), in numpy."""
    m, v = np.zeros_like(param), np.zeros_like(param)
    for grad in grads:
        m = beta1 * m + (1.0 - beta1) * grad
        v = beta2 * v + (1.0 - beta2) * np.square(grad)
        update = m / (np.sqrt(v) + eps)
        if wd > 0:
            update += wd * param
        param = param - lr * update
    return param


def test_three_optimizer_updates_equal_the_official_update():
    from electra.tasks.optimizer import AdamWeightDecay

    rng = np.random.default_rng(0)
    start = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(3)]
    for wd in (0.0, 0.01):
        param = torch.nn.Parameter(torch.tensor(start))
        optimizer = AdamWeightDecay([param], lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=wd)
        for grad in grads:
            param.grad = torch.tensor(grad)
            optimizer.step()
        expected = official_adam_updates(start, grads, 1e-2, wd)
        np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-12, atol=1e-15)
    # Without bias correction the first step is sqrt(1 - beta2) / (1 - beta1) = 3.16x larger.
    param = torch.nn.Parameter(torch.tensor(start))
    torch_adam = torch.optim.AdamW([param], lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0)
    param.grad = torch.tensor(grads[0])
    torch_adam.step()
    official = official_adam_updates(start, grads[:1], 1e-2, 0.0)
    ratio = np.abs(param.detach().numpy() - start) / np.abs(official - start)
    assert np.median(ratio) == pytest.approx((1 - 0.999) ** 0.5 / (1 - 0.9), rel=1e-3)


def test_the_recipe_uses_the_official_optimizer_unless_asked():
    from electra.tasks.optimizer import AdamWeightDecay

    model = SequenceClassifier(ModelConfig(**TINY), num_labels=2)
    assert isinstance(build_optimizer(model, FinetuneConfig()), AdamWeightDecay)
    assert isinstance(
        build_optimizer(model, FinetuneConfig(bias_correction=True)), torch.optim.AdamW
    )


def test_optimizer_groups_cover_every_parameter_once_without_decay_on_norms_and_biases():
    model = SequenceClassifier(ModelConfig(**TINY), num_labels=2)
    optimizer = build_optimizer(model, FinetuneConfig(weight_decay=0.01))
    seen = [id(p) for group in optimizer.param_groups for p in group["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters())
    by_id = {id(p): name for name, p in model.named_parameters()}
    rates = layer_lrs(model, 3e-4, 0.8)
    for group in optimizer.param_groups:
        for p in group["params"]:
            assert group["base_lr"] == pytest.approx(rates[by_id[id(p)]])
            assert group["weight_decay"] == (0.01 if p.ndim >= 2 else 0.0), by_id[id(p)]
    assert optimizer.defaults["eps"] == 1e-6


def test_schedule_is_the_official_polynomial_decay_times_warm_up():
    """A transcription of `optimization.py`: polynomial_decay(power 1, end 0) of the global step,
    times min(1, step / warmup_steps); the first update is at rate 0."""

    def official(step: int, total: int, warmup: int) -> float:
        decayed = (1 - min(step, total) / total) ** 1.0
        return decayed * min(1.0, step / warmup)

    for total, warmup in ((100, 10), (37, 3), (5, 1)):
        for step in range(total):
            assert lr_factor(step, total, warmup) == pytest.approx(official(step, total, warmup))
    assert lr_factor(0, 100, 10) == 0.0
    assert lr_factor(10, 100, 10) == pytest.approx(0.9)  # the peak ends the warm-up
    assert lr_factor(0, 10, 0) == 1.0  # no warm-up: the first step at the peak


def test_collate_pads_each_batch_to_its_longest_member():
    features = [
        {"input_ids": [2, 5, 6, 3], "token_type_ids": [0, 0, 0, 0], "labels": [-100, 1, 2, -100],
         "label": 1, "first": [1, 2], "id": "a"},
        {"input_ids": [2, 7, 3], "token_type_ids": [0, 0, 1], "labels": [-100, 0, -100],
         "label": 0, "first": [1], "id": "b"},
    ]  # fmt: skip
    batch = collate(features, pad_id=0, sequence_pad={"labels": -100})
    assert batch["input_ids"].tolist() == [[2, 5, 6, 3], [2, 7, 3, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0], [0, 0, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 1, 2, -100], [-100, 0, -100, -100]]
    assert batch["attention_mask"].tolist() == [[True] * 4, [True, True, True, False]]
    assert batch["label"].tolist() == [1, 0]
    assert set(batch) == {"input_ids", "token_type_ids", "labels", "attention_mask", "label"}
    unpadded = collate(features[:1], pad_id=0, sequence_pad={"labels": -100})
    assert "attention_mask" not in unpadded, "an unpadded batch takes the mask-free path"


def test_predict_returns_each_feature_in_order_as_if_run_alone():
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(**TINY), num_labels=3).eval()
    generator = torch.Generator().manual_seed(1)
    features = []
    for length in (9, 3, 12, 5, 3, 7, 10):
        ids = torch.randint(5, 40, (length,), generator=generator).tolist()
        features.append({"input_ids": ids, "token_type_ids": [0] * length})
    outputs = make_predict(model, pad_id=0, batch_size=3, device=torch.device("cpu"))(features)
    for feature, output in zip(features, outputs, strict=True):
        alone = model(
            torch.tensor([feature["input_ids"]]), None, torch.tensor([feature["token_type_ids"]])
        )
        torch.testing.assert_close(output, alone[0], atol=1e-5, rtol=1e-5)


def _toy_task(train, dev):
    """Label 1 when the text holds a token from 5 to 8: learnable in a few epochs."""

    def evaluate(predict):
        predicted = torch.stack(predict(dev)).argmax(-1)
        gold = torch.tensor([f["label"] for f in dev])
        return {"accuracy": (predicted == gold).float().mean().item()}, predicted.tolist()

    def write(predictions, out_dir):
        (out_dir / "predictions.json").write_text(json.dumps(predictions))

    return Task(
        name="toy",
        model_class=SequenceClassifier,
        model_kwargs={"num_labels": 2},
        train=train,
        loss=lambda outputs, batch: F.cross_entropy(outputs, batch["label"]),
        evaluate=evaluate,
        main_metric="accuracy",
        write_predictions=write,
        config_extra={"id2label": {"0": "no", "1": "yes"}, "label2id": {"no": 0, "yes": 1}},
    )


def _toy_features(count, seed):
    generator = torch.Generator().manual_seed(seed)
    features = []
    for _ in range(count):
        length = int(torch.randint(4, 10, (1,), generator=generator))
        ids = torch.randint(5, 40, (length,), generator=generator).tolist()
        features.append(
            {
                "input_ids": [2, *ids, 3],
                "token_type_ids": [0] * (length + 2),
                "label": int(min(ids) <= 8),
            }
        )
    return features


def save_tiny_discriminator(directory: Path, layers: int) -> Path:
    """A tiny randomly initialised discriminator saved as a checkpoint to fine-tune."""
    hf.save(Discriminator(ModelConfig(**{**TINY, "num_layers": layers})), directory)
    return directory


@pytest.mark.slow
def test_finetune_learns_saves_the_best_epoch_and_loads_in_transformers(tmp_path):
    from transformers import ElectraForSequenceClassification

    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=2)
    task = _toy_task(_toy_features(256, seed=1), _toy_features(100, seed=2))
    config = FinetuneConfig(lr=3e-3, epochs=3, batch_size=8, eval_batch_size=64, keep="best")
    results = finetune(task, tmp_path / "pre", config, tmp_path / "out", progress=False)

    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert results["steps"] == 3 * math.ceil(256 / 8)
    history = [epoch["accuracy"] for epoch in results["epochs"]]
    assert results["dev"]["accuracy"] == max(history) >= 0.9
    assert results["saved_epoch"] == history.index(max(history)) + 1
    assert results["epochs"][-1]["train_loss"] < results["epochs"][0]["train_loss"]

    # The saved model is the best epoch's: transformers loads it whole and predicts what we wrote.
    model, info = ElectraForSequenceClassification.from_pretrained(
        tmp_path / "out" / "model", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert model.config.id2label == {0: "no", 1: "yes"}
    predicted = json.loads((tmp_path / "out" / "predictions.json").read_text())
    dev = _toy_features(100, seed=2)
    batch = collate(dev, pad_id=0, sequence_pad={})
    with torch.no_grad():
        logits = model(
            input_ids=batch["input_ids"],
            attention_mask=batch.get("attention_mask"),
            token_type_ids=batch["token_type_ids"],
        ).logits
    assert logits.argmax(-1).tolist() == predicted


def test_keep_last_saves_the_final_epoch_and_random_init_ignores_the_weights(tmp_path):
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    task = _toy_task(_toy_features(48, seed=1), _toy_features(16, seed=2))
    config = FinetuneConfig(epochs=2, batch_size=16, keep="last")
    results = finetune(
        task, tmp_path / "pre", config, tmp_path / "out", random_init=True, progress=False
    )
    assert results["saved_epoch"] == 2 and results["random_init"] is True
    assert results["dev"] == {"accuracy": results["epochs"][1]["accuracy"]}
    pretrained = hf.load(tmp_path / "pre", Discriminator).state_dict()[
        "electra.embeddings.word.weight"
    ]
    finetuned = hf.load(tmp_path / "out" / "model", SequenceClassifier).state_dict()
    assert not torch.allclose(finetuned["electra.embeddings.word.weight"], pretrained, atol=1e-2)


def test_official_defaults_final_model_and_summed_losses(tmp_path, monkeypatch):
    """The official code reports the final model and sums the batch's per-example losses (per
    labelled token for tagging) before clipping."""
    config = FinetuneConfig()
    assert (config.keep, config.loss_reduction, config.bias_correction) == ("last", "sum", False)
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    features = _toy_features(16, seed=1)
    from electra.adam import AdamWeightDecay

    norms, real_step = [], AdamWeightDecay.step

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.stack([g.norm() for g in grads]).norm()))
        return real_step(self, closure)

    monkeypatch.setattr(AdamWeightDecay, "step", step)
    losses, first_norms = {}, {}
    for reduction in ("sum", "mean"):
        norms.clear()
        task = _toy_task(features, features)
        seen = []
        real_loss = task.loss
        task.loss = lambda outputs, batch, real=real_loss, seen=seen: seen.append(
            len(batch["input_ids"])) or real(outputs, batch)  # fmt: skip
        run = FinetuneConfig(
            lr=1e-3, epochs=1, batch_size=8, loss_reduction=reduction, max_grad_norm=1e9
        )
        torch.manual_seed(0)
        losses[reduction] = finetune(
            task, tmp_path / "pre", run, tmp_path / reduction, progress=False
        )
        assert seen and all(n == 8 for n in seen)
        first_norms[reduction] = norms[0]
    # the optimizer gets the batch's sum: 8 examples, 8 times the mean's gradient
    assert first_norms["sum"] == pytest.approx(8 * first_norms["mean"], rel=1e-3)
    # the optimizer sums; the log says the loss per example either way
    assert losses["sum"]["epochs"][0]["train_loss"] == pytest.approx(
        losses["mean"]["epochs"][0]["train_loss"], rel=0.2
    )


def test_stsb_trains_on_scores_over_five_and_predicts_on_the_original_scale(tmp_path):
    from electra.tasks.glue.catalog import GLUE
    from electra.tasks.glue.features import labelled_features
    from electra.tasks.glue.scoring import decode

    spec = GLUE["stsb"]
    assert spec.target_scale == 5.0
    (tmp_path / "dev.tsv").write_text(
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tx\tx\tx\t0\tx\tx\ta man plays\ta man plays music\t4.5\n"
        "1\tx\tx\tx\t1\tx\tx\ta cat\tthe stock market\t0.5\n", encoding="utf-8"
    )  # fmt: skip
    from electra.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["a man plays music the cat stock market"] * 3, 50)
    _, features = labelled_features(spec, tmp_path / "dev.tsv", tokenizer, 32)
    assert [f["label"] for f in features] == pytest.approx([0.9, 0.1])
    predicted = decode(spec, [torch.tensor([0.8]), torch.tensor([0.2])])
    assert predicted.tolist() == pytest.approx([4.0, 1.0])  # leaderboard files on GLUE's 0-5 scale


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradient_accumulation_takes_the_same_step(tmp_path, reduction):
    """A batch in 3 micro-batches (of unequal sizes) gives the optimizer the gradients the whole
    batch gives (compared before the update: Adam without bias correction amplifies rounding in
    near-zero gradients to whole steps)."""
    from electra.tasks.loop import Progress, train_step
    from electra.tasks.optimizer import build_optimizer

    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(**{**TINY, "num_layers": 1}), num_labels=2).eval()
    task = _toy_task([], [])
    features = _toy_features(8, seed=3)
    seen = {}
    for accum in (1, 3):
        config = FinetuneConfig(lr=1e-2, batch_size=8, grad_accum=accum, loss_reduction=reduction)
        optimizer = build_optimizer(model, config)
        grads = {}
        optimizer.step = lambda grads=grads: grads.update(
            {n: p.grad.clone() for n, p in model.named_parameters()})  # fmt: skip
        parts = torch.arange(8).tensor_split(accum)
        batches = [collate([features[i] for i in part], 0, {}) for part in parts]
        loss = train_step(model, task, batches, optimizer, config, Progress(10, 0),
                          torch.amp.GradScaler("cpu", enabled=False))  # fmt: skip
        seen[accum] = (loss, grads)
    torch.testing.assert_close(seen[3][0], seen[1][0], rtol=1e-5, atol=1e-6)
    assert seen[1][1]
    for name, grad in seen[1][1].items():
        torch.testing.assert_close(seen[3][1][name], grad, rtol=1e-4, atol=1e-7, msg=name)


def test_a_nan_loss_stops_in_one_line_and_saves_nothing(tmp_path):
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    task = _toy_task(_toy_features(40, seed=1), _toy_features(8, seed=2))
    task.loss = lambda outputs, batch: outputs.sum() * float("nan")
    config = FinetuneConfig(epochs=2, batch_size=4)
    with pytest.raises(UserError, match=r"toy: the training loss became nan by step 10; stopped"):
        finetune(task, tmp_path / "pre", config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "model").exists()
    assert not (tmp_path / "out" / "results.json").exists()


def test_max_steps_metrics_and_curves(tmp_path):
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    task = _toy_task(_toy_features(40, seed=1), _toy_features(8, seed=2))
    config = FinetuneConfig(epochs=1, batch_size=4, max_steps=25, precision="bf16")
    results = finetune(task, tmp_path / "pre", config, tmp_path / "out", progress=False)
    assert results["steps"] == 25 and len(results["epochs"]) == 3  # 10 + 10 + 5 steps
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").open()]
    train = [r for r in records if "loss" in r]
    dev = [r for r in records if "dev_accuracy" in r]
    assert [r["step"] for r in train] == [10, 20, 25]
    assert [r["step"] for r in dev] == [10, 20, 25]
    assert all(math.isfinite(r["loss"]) and r["lr"] > 0 for r in train)
    assert [r["dev_accuracy"] for r in dev] == [e["accuracy"] for e in results["epochs"]]
    assert any((tmp_path / "out" / "tensorboard").iterdir())


def test_an_interrupted_run_resumes_on_the_same_trajectory(tmp_path):
    """Killed mid-epoch, resumed from its last checkpoint: the same model, scores and curves
    as the run that was never stopped, and no checkpoints left once it has finished."""
    from safetensors.torch import load_file

    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    train, dev = _toy_features(40, seed=1), _toy_features(8, seed=2)
    config = FinetuneConfig(lr=1e-3, epochs=3, batch_size=4, save_every=4, keep="best")
    whole = finetune(
        _toy_task(train, dev), tmp_path / "pre", config, tmp_path / "a", progress=False
    )

    class Crash(Exception):
        pass

    task = _toy_task(train, dev)
    real, calls = task.loss, []

    def crashing(outputs, batch):
        calls.append(1)
        if len(calls) == 19:  # in epoch 2, after the checkpoint of step 16
            raise Crash
        return real(outputs, batch)

    task.loss = crashing
    with pytest.raises(Crash):
        finetune(task, tmp_path / "pre", config, tmp_path / "b", progress=False)
    assert [p.name for p in (tmp_path / "b" / "checkpoints").iterdir()] == ["step-00000016"]
    resumed = finetune(_toy_task(train, dev), tmp_path / "pre", config, tmp_path / "b",
                       progress=False, resume=True)  # fmt: skip

    drop = ("wall_seconds",)
    assert {k: v for k, v in resumed.items() if k not in drop} == {
        k: (str(tmp_path / "pre") if k == "model" else v) for k, v in whole.items() if k not in drop
    }
    a, b = (load_file(tmp_path / run / "model" / "model.safetensors") for run in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curves = [(tmp_path / run / "metrics.jsonl").read_text() for run in ("a", "b")]
    assert curves[0] == curves[1]
    assert not (tmp_path / "b" / "checkpoints").exists()


def test_step_based_evaluation_scores_between_epochs_and_keeps_the_best(tmp_path):
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    task = _toy_task(_toy_features(40, seed=1), _toy_features(8, seed=2))
    config = FinetuneConfig(lr=1e-3, epochs=2, batch_size=4, eval_every=4, keep="best")
    results = finetune(task, tmp_path / "pre", config, tmp_path / "out", progress=False)
    history = results["epochs"]
    assert [(e["epoch"], e["step"]) for e in history] == [
        (1, 4),
        (1, 8),
        (1, 10),
        (2, 12),
        (2, 16),
        (2, 20),
    ]
    assert [("train_loss" in e) for e in history] == [False, False, True, False, False, True]
    best = max(history, key=lambda e: e["accuracy"])  # the first of equals, as `keep best` does
    assert (results["saved_epoch"], results["saved_step"]) == (best["epoch"], best["step"])
    dev = [
        json.loads(line)
        for line in (tmp_path / "out" / "metrics.jsonl").open()
        if "dev_accuracy" in line
    ]
    assert [r["step"] for r in dev] == [4, 8, 10, 12, 16, 20]


def test_a_resume_with_another_learning_rate_is_refused_and_nothing_is_rewritten(tmp_path):
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    train, dev = _toy_features(40, seed=1), _toy_features(8, seed=2)
    config = FinetuneConfig(lr=1e-3, epochs=2, batch_size=4, save_every=4)
    task = _toy_task(train, dev)
    real, calls = task.loss, []

    def crashing(outputs, batch):
        calls.append(1)
        if len(calls) == 6:  # after the checkpoint of step 4
            raise KeyboardInterrupt
        return real(outputs, batch)

    task.loss = crashing
    with pytest.raises(KeyboardInterrupt):
        finetune(task, tmp_path / "pre", config, tmp_path / "b", progress=False)
    saved = (tmp_path / "b" / "finetune_config.json").read_text()
    changed = dataclasses.replace(config, lr=0.01)
    with pytest.raises(UserError, match=r"lr 0.001 -> 0.01.*--allow-changes"):
        finetune(_toy_task(train, dev), tmp_path / "pre", changed, tmp_path / "b",
                 progress=False, resume=True)  # fmt: skip
    assert (tmp_path / "b" / "finetune_config.json").read_text() == saved
    finetune(_toy_task(train, dev), tmp_path / "pre", changed, tmp_path / "b", progress=False,
             resume=True, allow_changes=True)  # fmt: skip
    record = json.loads((tmp_path / "b" / "changes.jsonl").read_text())
    assert record == {"step": 4, "changes": {"lr": {"old": 0.001, "new": 0.01}}}
