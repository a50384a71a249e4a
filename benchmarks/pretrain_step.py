"""Time one full ELECTRA pre-training step, this package against `transformers`, side by side.

A step is: choose masked positions -> generator -> sampling -> discriminator -> both
losses -> backward -> gradient clipping -> AdamW update. The `transformers` side builds the same
model and objective from `ElectraForMaskedLM` + `ElectraForPreTraining` (same config, shared
embeddings, tied generator projection, the same masking function, SDPA attention), used the
way their API offers: the generator returns logits at every position and computes its loss
through `labels`. Both run the same batch at the same precision (fp32 with fp32, bf16 autocast
with bf16 autocast).

Both sides are credited with the same model FLOPs per token, this toolkit's count of the work a
step needs (`electra.pretraining.flops.step_flops`: forward and backward of both networks, the
generator's vocabulary projection at the masked positions only), so "model TFLOP/s" is that count
times tokens/s, and MFU divides it by the device's peak (known GPUs' bf16 dense peak, or
`--peak-tflops`).

Each (implementation, precision) pair runs in its own child process, so its peak memory is its
own: the peak resident-set growth over the process's state before the model was built on CPU,
`torch.cuda.max_memory_allocated` on GPU.

    python benchmarks/pretrain_step.py --preset small --batch-size 32 --seq-len 128
    python benchmarks/pretrain_step.py --preset small --data runs/demo/shards  # real, padded rows
    python benchmarks/pretrain_step.py --preset base --device cuda --precision bf16
    python benchmarks/pretrain_step.py --backbone deberta-v3 --preset tiny   # DebertaV2 classes

Both sides share one embedding module between generator and discriminator (ELECTRA's sharing,
DeBERTa-V3 included), so the steps compute the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

from electra.config import ModelConfig
from electra.data.shards import Shards
from electra.pretraining.objectives import step_flops
from electra.pretraining.objectives.masking import choose_positions
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import model_inputs, pack_rows
from electra.pretraining.setup import make_optimizer
from electra.pretraining.vocabulary import sample
from electra.tokenizer import SpecialIds, load_tokenizer

SPECIAL = SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)  # BERT uncased ids
IMPLEMENTATIONS = ("electra", "transformers")


class DebertaRTDHead(nn.Module):
    """The official DeBERTa-V3 replaced-token head (`LMMaskPredictionHead`) on `DebertaV2Model`,
    built from plain modules: `transformers` has no class for it."""

    def __init__(self, config) -> None:
        import transformers

        super().__init__()
        self.deberta = transformers.DebertaV2Model(config)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.deberta(input_ids, attention_mask=attention_mask).last_hidden_state
        x = nn.functional.gelu(self.dense(self.norm(hidden[:, :1] + hidden)))
        logits = self.classifier(x).squeeze(-1)
        loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return type("Out", (), {"loss": loss})


class TransformersRTD(nn.Module):
    """The same objective on `transformers`' classes, as their API is meant to be used: ELECTRA's
    two, or DeBERTa-V3's `DebertaV2ForMaskedLM` with `DebertaV2Model` under the official head."""

    def __init__(
        self, model_config: ModelConfig, config: PretrainConfig, special: SpecialIds
    ) -> None:
        import transformers

        from electra import hf

        super().__init__()
        self.config, self.special = config, special
        deberta = model_config.backbone == "deberta-v3"
        prefix = "DebertaV2" if deberta else "Electra"
        make_config = getattr(transformers, prefix + "Config")
        gen_config = make_config(**hf.config_to_hf(model_config.generator()))
        disc_config = make_config(**hf.config_to_hf(model_config))
        self.generator = getattr(transformers, prefix + "ForMaskedLM")(gen_config)
        if deberta:
            self.discriminator = DebertaRTDHead(disc_config)
            self.discriminator.deberta.embeddings = self.generator.deberta.embeddings  # shared
        else:
            self.discriminator = transformers.ElectraForPreTraining(disc_config)
            self.discriminator.electra.embeddings = self.generator.electra.embeddings  # shared
            assert (
                self.generator.generator_lm_head.weight
                is self.generator.electra.embeddings.word_embeddings.weight
            )

    def forward(self, input_ids, token_type_ids, attention_mask=None):
        c = self.config
        masked = choose_positions(input_ids, self.special, c.mask_prob, c.max_predictions)
        show_mask = torch.rand(masked.positions.shape, device=input_ids.device) < c.mask_token_prob
        shown = torch.where(show_mask & masked.weights, self.special.mask, masked.original)
        gen_input = input_ids.scatter(1, masked.positions, shown)
        labels = torch.full_like(input_ids, -100).scatter(
            1, masked.positions, masked.original.masked_fill(~masked.weights, -100)
        )
        gen = self.generator(
            input_ids=gen_input,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            labels=labels,
        )
        with torch.no_grad():
            at = masked.positions.unsqueeze(-1).expand(-1, -1, gen.logits.shape[-1])
            sampled = sample(gen.logits.detach().gather(1, at), c.temperature)
        disc_input = input_ids.scatter(
            1, masked.positions, torch.where(masked.weights, sampled, masked.original)
        )
        disc = self.discriminator(
            input_ids=disc_input,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            labels=(disc_input != input_ids).long(),
        )
        return c.gen_weight * gen.loss + c.disc_weight * disc.loss


def make_batch(
    batch_size: int, seq_len: int, vocab_size: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Packed `[CLS] A [SEP] B [SEP]` rows of ordinary token ids: no padding, as pre-training."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(SPECIAL.mask + 1, vocab_size, (batch_size, seq_len), generator=g)
    ids[:, 0], ids[:, seq_len // 2], ids[:, -1] = SPECIAL.cls, SPECIAL.sep, SPECIAL.sep
    types = torch.zeros_like(ids)
    types[:, seq_len // 2 + 1 :] = 1
    batch = {"input_ids": ids, "token_type_ids": types}  # no padding: no mask, for either side
    return {k: v.to(device) for k, v in batch.items()}


# Dense bf16 peak TFLOP/s of common GPUs (vendor data sheets, SXM parts), for MFU.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
                    "A10": 125.0, "RTX 4090": 165.0}  # fmt: skip


def device_peak_tflops(device: torch.device) -> float | None:
    """The table's peak for this GPU's name, or None (CPUs, unknown GPUs: pass --peak-tflops)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def child(args: argparse.Namespace) -> dict:
    """Build one implementation, run warm-up and timed steps, report speed and peak memory."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.data:  # real examples: ours packs them, transformers computes on their padding
        shards = Shards(args.data)
        special = SpecialIds.of(load_tokenizer(shards.directory))
        ids = shards.examples(np.arange(args.batch_size))
        model_config = ModelConfig.preset(
            args.preset, backbone=args.backbone, vocab_size=shards.vocab_size
        )
        inputs = (
            pack_rows(ids, special)
            if args.impl == "electra"
            else model_inputs(ids, special.pad, special.sep)
        )
        batch = {k: v.to(device) for k, v in inputs.items()}
        args.seq_len = shards.seq_len
        tokens = int((ids != special.pad).sum())  # real tokens: both sides get the same count
    else:
        special = SPECIAL
        model_config = ModelConfig.preset(args.preset, backbone=args.backbone)
        batch = make_batch(args.batch_size, args.seq_len, model_config.vocab_size, device)
        tokens = args.batch_size * args.seq_len  # full rows, no padding
    config = PretrainConfig.preset(args.preset, args.backbone, seq_len=args.seq_len,
                                   batch_size=args.batch_size, embedding_sharing="shared")  # fmt: skip
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.impl == "electra":
        model = ReplacedTokenDetection(model_config, config, special)
    else:
        model = TransformersRTD(model_config, config, special)
    model.to(device).train()
    optimizer = make_optimizer(model, config, device)  # the trainer's, for both
    precision = args.precision[0]
    dtype = {"bf16": torch.bfloat16, "fp32": None}[precision]
    compiled = args.compile and (args.impl == "electra" or args.compile_peer)
    network = torch.compile(model) if compiled else model

    def step() -> float:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = network(**batch)
        loss = out if isinstance(out, torch.Tensor) else out.loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()  # waits for the device

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024
    flops_per_token = step_flops(model_config, args.seq_len, args.batch_size, "rtd",
                                       config.mask_prob) / (args.batch_size * args.seq_len)  # fmt: skip
    achieved = flops_per_token * tokens / seconds  # the same model FLOPs for both sides
    peak = args.peak_tflops or device_peak_tflops(device)
    return {
        "impl": args.impl,
        "preset": preset_label(args),
        "precision": precision,
        "compile": compiled,
        "batch": [args.batch_size, args.seq_len],
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "step_s": seconds,
        "tokens_per_s": tokens / seconds,
        "peak_mb": peak_mb,
        "flops_per_token": flops_per_token,
        "model_tflops": achieved / 1e12,
        "mfu": achieved / (peak * 1e12) if peak else None,
        "threads": torch.get_num_threads(),
    }


def preset_label(args: argparse.Namespace) -> str:
    """The preset as results name it: `small`, or `deberta-v3 xsmall` for another backbone."""
    return args.preset if args.backbone == "electra" else f"{args.backbone} {args.preset}"


def append_json(path: str, record: dict) -> None:
    """One line per record, written the moment it exists: a later crash loses nothing."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def run_side(args: argparse.Namespace, impl: str, precision: str) -> dict | None:
    """One implementation in a child process (its peak memory its own); its figures, or None
    with the child's error output printed when it fails or runs past `--child-timeout`."""
    command = [sys.executable, __file__, *sys.argv[1:], "--impl", impl, "--precision", precision]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.child_timeout)
    except subprocess.TimeoutExpired:
        print(f"{precision:<10}{impl:<16}did not finish in {args.child_timeout:g} s", flush=True)
        return None
    if done.returncode != 0:
        print(f"{precision:<10}{impl:<16}failed (exit {done.returncode}):", flush=True)
        print("\n".join(done.stderr.strip().splitlines()[-20:]), file=sys.stderr, flush=True)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if args.json:
        append_json(args.json, result)
    return result


def step_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every step benchmark takes: which model, which batch."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="small")
    parser.add_argument("--backbone", default="electra", choices=("electra", "deberta-v3"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    return parser


def main() -> None:
    parser = step_parser(__doc__)
    parser.add_argument(
        "--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per side, alternating; best kept"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile our step")
    parser.add_argument(
        "--compile-peer", action="store_true", help="with --compile: the transformers step too"
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="time our step alone (no transformers installed)"
    )
    parser.add_argument(
        "--child-timeout", type=float, help="seconds each side may take (default: no limit)"
    )
    parser.add_argument(
        "--data", help="a prepared set: time its first examples, not random full rows"
    )
    parser.add_argument(
        "--threads", type=int, help="CPU threads (default: PyTorch's, one per core)"
    )
    parser.add_argument(
        "--peak-tflops", type=float,
        help="the device's peak, for MFU (default: known GPUs' bf16 dense peak; H200: 989)",
    )  # fmt: skip
    parser.add_argument("--json", help="append every result (one JSON object per line) here")
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.impl:
        print(json.dumps(child(args)))
        return
    print(
        f"{args.backbone} preset {args.preset}, batch {args.batch_size} x {args.seq_len}, {args.device}, "
        f"{args.threads or torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'precision':<10}{'implementation':<16}{'tokens/s':>10}{'step s':>9}{'peak MB':>10}{'model TFLOP/s':>15}{'MFU':>7}"
    )
    sides = IMPLEMENTATIONS[:1] if args.no_peer else IMPLEMENTATIONS
    for precision in args.precision:
        results: dict[str, dict] = {}
        round_ratios = []  # ours / theirs within each round: neighbours in time, paired
        for _ in range(args.rounds):  # alternating; the best round filters out other jobs' load
            speeds = {}
            for impl in sides:
                r = run_side(args, impl, precision)
                if r is None:
                    continue
                speeds[impl] = r["tokens_per_s"]
                if impl not in results or r["tokens_per_s"] > results[impl]["tokens_per_s"]:
                    results[impl] = r
            if len(speeds) == 2:
                round_ratios.append(speeds["electra"] / speeds["transformers"])
        for impl, r in results.items():
            mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
            print(
                f"{precision:<10}{impl:<16}{r['tokens_per_s']:>10.0f}{r['step_s']:>9.3f}{r['peak_mb']:>10.0f}"
                f"{r['model_tflops']:>15.3f}{mfu:>7}"
            )
        if len(results) < 2:
            continue
        ours, theirs = results["electra"], results["transformers"]
        ratio = ours["tokens_per_s"] / theirs["tokens_per_s"]
        print(f"{precision:<10}{'model FLOPs/token':<16}{ours['flops_per_token']:>10.3g}")
        if args.json:
            append_json(args.json, {"impl": "ratio", "preset": preset_label(args), "precision": precision,
                                    "compile": args.compile, "ratio_to_transformers": ratio,
                                    "ratio_by_round": round_ratios})  # fmt: skip
        print(
            f"{precision:<10}{'ratio':<16}{ratio:>9.2f}x"
            f"{'':>9}{ours['peak_mb'] / theirs['peak_mb']:>9.2f}x"
        )
        if args.rounds > 1:  # the spread says how far to trust the ratio of the best rounds
            listed = ", ".join(f"{r:.2f}" for r in round_ratios)
            print(
                f"{precision:<10}{'by round':<16}{listed} (median {statistics.median(round_ratios):.2f}x)"
            )


if __name__ == "__main__":
    main()
