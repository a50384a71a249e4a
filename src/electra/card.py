"""Model cards: the README.md of every directory the toolkit exports, in the Hugging Face format
(YAML metadata, then prose), written from the run's own files, never filled in by hand.

Pre-trained networks get theirs from `pretrain.json`, `metrics.jsonl` and the data manifest;
fine-tuned models from `results.json`; ONNX exports repeat their model's card and say what the
graph is. The metadata's `model-index` carries the scores the run measured, so the Hub shows
them; `license` is `unknown` until the user, who knows the data's terms, sets it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from electra import backbones, hf
from electra.backbones.models import Discriminator, Generator
from electra.config import ModelConfig
from electra.files import write_text

CARD_FILE = "README.md"
_PRETRAINED_SCORES = {  # held-out metric -> (name, what chance scores)
    "disc_precision": ("replaced-token precision", "the replaced fraction"),
    "disc_recall": ("replaced-token recall", None),
    "disc_average_precision": ("replaced-token average precision", "the replaced fraction"),
    "disc_auc": ("replaced-token ROC AUC", "0.5"),
    "gen_acc": ("generator accuracy at masked positions", None),
}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _last_heldout(run_dir: Path) -> tuple[int, dict[str, float]]:
    """The step and scores of the run's last held-out evaluation (metrics.jsonl)."""
    step, scores = 0, {}
    path = run_dir / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if any(k.startswith("heldout_") for k in record):
                step = record["step"]
                scores = {
                    k[len("heldout_") :]: v for k, v in record.items() if k.startswith("heldout_")
                }
    return step, scores


TITLES = {"electra": "ELECTRA", "deberta-v3": "DeBERTa-V3"}


def _sizes(model: ModelConfig, algorithm: str) -> str:
    positions = f"{model.max_position_embeddings} positions"
    if model.backbone == "deberta-v3":
        positions = (f"disentangled attention over {model.position_buckets} relative-position "
                     f"buckets each way, up to {model.max_position_embeddings} positions")  # fmt: skip
    return (f"{model.num_layers} layers, hidden size {model.hidden_size}, {model.num_heads} "
            f"attention heads, feed-forward {model.intermediate_size}, embeddings "
            f"{model.embedding_size}, a vocabulary of {model.vocab_size:,} {algorithm} tokens, "
            f"{positions}")  # fmt: skip


def _algorithm(directory: Path) -> str:
    """The saved tokenizer's algorithm (WordPiece, Unigram, BPE), as tokenizer.json names it."""
    try:
        return str(_read_json(directory / "tokenizer.json")["model"]["type"])
    except (OSError, KeyError, TypeError, ValueError):
        return "WordPiece"


def _data(manifest: dict[str, Any], sources: list[str]) -> str:
    """The data manifest in a sentence: what it says, and nothing it does not."""
    parts = [f"{manifest.get('num_examples', 0):,} examples of {manifest.get('seq_len')} tokens"]
    if "num_tokens" in manifest:
        parts.append(f"{manifest['num_tokens']:,} tokens in all")
    if sources:
        shown = ", ".join(sources[:10]) + (
            f" and {len(sources) - 10} more" if len(sources) > 10 else ""
        )
        parts.append(f"from {len(sources)} source files ({shown})")
    if "vocab_sha256" in manifest:
        parts.append(f"vocabulary sha256 `{manifest['vocab_sha256']}`")
    return "; ".join(parts)


def _load_section(directory: str, head: str, ours: str) -> str:
    return (
        f"```python\nfrom transformers import AutoTokenizer, {head}\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{directory}")\n'
        f'model = {head}.from_pretrained("{directory}")\n```\n\n'
        f"With this toolkit: `{ours}`."
    )


def _card(data: ModelCardData, title: str, sections: list[tuple[str, str]]) -> str:
    body = f"# {title}\n\n" + "\n\n".join(f"## {head}\n\n{text}" for head, text in sections)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n"))


def pretrained(
    out_dir: Path, name: str, run_dir: Path, manifest: dict[str, Any], tokens_seen: int,
    hardware: str, wall_seconds: float, departures: list[str] | None = None,
) -> None:  # fmt: skip
    """The card of a pre-training run's exported `name` (discriminator or generator), naming
    its `departures` from the official recipe."""
    saved = _read_json(run_dir / "pretrain.json")
    model, config = ModelConfig(**saved["model"]), saved["pretrain"]
    step, scores = _last_heldout(run_dir)
    sources = [Path(s["path"]).name for s in manifest.get("sources", [])]
    discriminator = name == "discriminator"
    shown = {k: v for k, v in _PRETRAINED_SCORES.items()
             if k in scores and (discriminator or k == "gen_acc")}  # fmt: skip
    task = ("token-classification", "replaced token detection") if discriminator else (
        "fill-mask", "masked language modelling")  # fmt: skip
    results = [
        EvalResult(task_type=task[0], task_name=task[1], dataset_type="held-out",
                   dataset_name="held-out pre-training examples", metric_type=key,
                   metric_name=label, metric_value=float(scores[key]))
        for key, (label, _) in shown.items()
    ]  # fmt: skip
    data = ModelCardData(
        license="unknown", library_name="transformers", model_name=f"{model.backbone}-{name}",
        tags=[*dict.fromkeys(["electra", model.backbone]),
              "replaced-token-detection" if discriminator else "fill-mask"],
        datasets=sources[:20] or None, eval_results=results or None,
        pipeline_tag=None if discriminator else "fill-mask",
    )  # fmt: skip

    def chance(what: str | None) -> str:
        if what == "the replaced fraction":
            return f"{scores['replaced_frac']:.4f}" if "replaced_frac" in scores else "-"
        return what or "-"

    rows = [
        f"| {label} | {scores[key]:.4f} | {chance(what)} |" for key, (label, what) in shown.items()
    ]
    spec = backbones.of(model)
    head = hf.architecture(Discriminator if discriminator else Generator, spec)
    title = TITLES[model.backbone]
    ours = f'electra detect --model {run_dir / name} "a text"' if discriminator else (
        "electra finetune ... --model the discriminator beside it")  # fmt: skip
    if discriminator and Discriminator.hf_class in spec.side_heads:
        ours += (f". `transformers` has no {title} class with the replaced-token head: "
                 f"`{head}` loads the encoder, and the head (the official code's "
                 f"`mask_predictions`) is in `{hf.HEAD_FILE}` beside it, which `electra detect` "
                 "and `electra.hf.load(DIR, Discriminator)` read")  # fmt: skip
    sections = [
        ("Model", f"The {name} of a {title} model pre-trained with the `{config['objective']}` "
                  f"objective by the `electra` toolkit: "
                  f"{_sizes(model if discriminator else model.generator(), _algorithm(out_dir))}."),
        ("Training", f"{config['steps']:,} steps of {config['batch_size']} sequences, "
                     f"{tokens_seen:,} real (non-padding) tokens seen, on {hardware}; {wall_seconds / 60:.1f} min of "
                     f"wall time in its last session. Data: {_data(manifest, sources)}.\n\n"
                     + ("Departures from the official recipe: " + "; ".join(departures) + ".\n\n"
                        if departures else "The official recipe's optimizer and initialisation.\n\n")
                     + f"Resolved configuration:\n\n```json\n{json.dumps(saved, indent=2)}\n```"),
        ("Held-out scores", f"At step {step:,}:\n\n| metric | value | chance |\n|---|---|---|\n"
         + "\n".join(rows) if rows else "No held-out evaluation was recorded."),
        *([("Training curves", "![training curves](../curves.png)")]
          if (run_dir / "curves.png").is_file() else []),
        ("How to load", _load_section(".", head, ours)),
        ("Limitations", "Pre-trained on the corpus above only, at the compute stated: its "
                        "held-out scores say how far pre-training got, not how well it will "
                        "fine-tune. The corpus's biases are the model's."),
    ]  # fmt: skip
    write_text(out_dir / CARD_FILE, _card(data, f"{title} {name}", sections))


def finetuned(out_dir: Path, results: dict[str, Any], family: str, task_type: str,
              transformers_class: str | None) -> None:  # fmt: skip
    """The card of a fine-tuned model (`out_dir`), from its run's results.json contents;
    `task_type` is the hub's (`text-classification`), from the family's spec."""
    task, dev = results["task"], results["dev"]
    numbers = {k: float(v) for k, v in dev.items() if isinstance(v, (int, float))}
    model = hf.load_config(out_dir)
    title, encoder = TITLES[model.backbone], backbones.of(model).hf_prefix + "Model"
    data = ModelCardData(
        license="unknown", library_name="transformers" if transformers_class else "electra",
        model_name=f"{model.backbone}-{task}",
        tags=[*dict.fromkeys(["electra", model.backbone]), family, task],
        eval_results=[EvalResult(task_type=task_type, dataset_type=task, dataset_name=task,
                                 dataset_split="validation", metric_type=k, metric_value=v)
                      for k, v in numbers.items()] or None,
    )  # fmt: skip
    config = results["config"]
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in numbers.items())
    load = (_load_section(".", transformers_class, f"electra predict {family} --model {out_dir} ...")
            if transformers_class else
            f"`electra predict {family} --model {out_dir} ...`, or in Python "
            f"`electra.predict(\"{family}\", \"{out_dir}\", ...)`, or as ONNX (`electra export "
            f"onnx --model {out_dir} --out DIR`). Its head is the official one, which "
            "`transformers` has no class for: `head.safetensors` holds it, and the encoder is in "
            f"`encoder/` (`{encoder}.from_pretrained(DIR, subfolder=\"encoder\")`), so no "
            "`transformers` class can load this directory with a random head in its place. For a "
            "model `transformers` runs as it is, fine-tune with `--head transformers`.")  # fmt: skip
    sections = [
        ("Model", f"{title} fine-tuned on `{task}` ({family}) by the `electra` toolkit from "
                  f"`{results['model']}`{' (random initialisation: a control run)' if results['random_init'] else ''}."),
        ("Training", f"{results['steps']:,} steps over {results['train_examples']:,} training "
                     f"examples; the model of epoch {results['saved_epoch']} (`keep` "
                     f"{results['keep']}); {results['wall_seconds']:.0f} s on "
                     f"{results.get('device', 'cpu')} x {results.get('processes', 1)}.\n\n"
                     f"Resolved configuration:\n\n```json\n{json.dumps(config, indent=2)}\n```"),
        ("Dev scores", f"| metric | value |\n|---|---|\n{rows}" if rows else "None recorded."),
        ("How to load", load),
        ("Limitations", "Scored on the dev set named above only; a single fine-tuning seed "
                        "varies, so compare medians over seeds (`--seeds`)."),
    ]  # fmt: skip
    write_text(out_dir / CARD_FILE, _card(data, f"{title} fine-tuned on {task}", sections))


def exported(out_dir: Path, kind: str, files: list[str], source: Path) -> None:
    """An ONNX export's card: its model's card (when it has one) and what the graph is."""
    base = source / CARD_FILE
    card = ModelCard(base.read_text(encoding="utf-8")) if base.is_file() else ModelCard(
        f"---\n{ModelCardData(license='unknown', library_name='onnx').to_yaml()}\n---\n\n# ELECTRA {kind}\n")  # fmt: skip
    card.data.tags = [*(card.data.tags or []), "onnx"]
    card.text += (
        f"\n\n## ONNX export\n\n{', '.join(f'`{f}`' for f in files)}: the {kind} model as an "
        "ONNX graph (inputs `input_ids`, `attention_mask`, `token_type_ids`, int64, dynamic batch "
        "and sequence axes), made by `electra export onnx`; `model.int8.onnx`, when present, is "
        "its dynamically int8-quantized copy. `electra detect` and `electra predict` run this "
        "directory in onnxruntime.\n"
    )
    write_text(out_dir / CARD_FILE, str(card))
