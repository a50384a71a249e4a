"""fp32 linear layers on CPU: PyTorch's default BLAS (MKL in the CPU wheels) against oneDNN, the
choice `electra.cpu_linear` makes (`auto`: oneDNN on AMD CPUs), so that a CPU of another kind can
be measured before choosing with ELECTRA_CPU_LINEAR.

Two parts, both in this one process:
1. every linear shape of the preset's pre-training step (discriminator and generator), with the
   step's rows: forward product and input gradient on each library, and the weight gradient,
   which stays with the default BLAS in both cases;
2. whole pre-training steps of the preset, alternating the two choices step by step, so that
   both see the same machine: the median of the paired ratios.

    python benchmarks/cpu_linear.py --preset small --threads 2 --rounds 10
"""

from __future__ import annotations

import os
import statistics
import time

import torch
import torch.nn.functional as F
from pretrain_step import SPECIAL, make_batch, step_parser

from electra import cpu_linear
from electra.config import ModelConfig
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.setup import make_optimizer


def choose(kernel: str) -> None:
    os.environ["ELECTRA_CPU_LINEAR"] = kernel
    cpu_linear.onednn_enabled.cache_clear()


def seconds(work, repeats: int = 10) -> float:
    for _ in range(2):
        work()
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - start) / repeats


def product_cells(n_in: int, n_out: int, rows: int) -> list[str]:
    """One shape's row: forward and input gradient on each library, the weight gradient."""
    x, w = torch.randn(rows, n_in), torch.randn(n_out, n_in)
    b, g = torch.randn(n_out), torch.randn(rows, n_out)
    gflop = 2 * rows * n_in * n_out / 1e9
    cells = []
    for onednn, blas in (
        (lambda: cpu_linear._product(x, w, b), lambda: F.linear(x, w, b)),
        (lambda: cpu_linear._product(g, w.t(), None), lambda: g @ w),
    ):
        a, c = gflop / seconds(onednn), gflop / seconds(blas)
        cells.append(f"{a:6.0f} / {c:4.0f} {a / c:4.2f}x")
    return [*cells, f"{gflop / seconds(lambda: g.t() @ x):.0f}"]


def shapes_table(model: torch.nn.Module, rows: int) -> None:
    shapes = sorted({(m.in_features, m.out_features) for m in model.modules()
                     if isinstance(m, torch.nn.Linear)})  # fmt: skip
    print(f"linear products, {rows} rows: GFLOP/s (oneDNN / default BLAS)")
    print(f"{'in -> out':<14}{'forward':>22}{'input gradient':>22}{'weight gradient':>17}")
    for n_in, n_out in shapes:
        forward, input_grad, weight_grad = product_cells(n_in, n_out, rows)
        print(f"{f'{n_in} -> {n_out}':<14}{forward:>22}{input_grad:>22}{weight_grad:>17}")


def main() -> None:
    parser = step_parser(__doc__)
    parser.add_argument("--threads", type=int, help="default: PyTorch's, one per core")
    parser.add_argument("--rounds", type=int, default=10, help="step pairs timed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        raise SystemExit("this PyTorch build has no oneDNN linear: nothing to compare")
    torch.manual_seed(0)
    model_config = ModelConfig.preset(args.preset)
    config = PretrainConfig.preset(args.preset, seq_len=args.seq_len, batch_size=args.batch_size)
    model = ReplacedTokenDetection(model_config, config, SPECIAL).train()
    print(f"preset {args.preset}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"this CPU's `auto` choice: {'oneDNN' if cpu_linear.onednn_enabled() else 'default BLAS'}")  # fmt: skip
    shapes_table(model, args.batch_size * args.seq_len)

    batch = make_batch(args.batch_size, args.seq_len, model_config.vocab_size, torch.device("cpu"))
    optimizer = make_optimizer(model, config, torch.device("cpu"))

    def step() -> float:
        start = time.perf_counter()
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"onednn": [], "aten": []}
    for kernel in times:  # warm-up of both
        choose(kernel)
        step()
    for _ in range(args.rounds):
        for kernel, taken in times.items():
            choose(kernel)
            taken.append(step())
    ratios = [a / o for o, a in zip(times["onednn"], times["aten"], strict=True)]
    print(f"\nfp32 pre-training step, {args.batch_size} x {args.seq_len}, {args.rounds} pairs:")
    for kernel, taken in times.items():
        print(f"  {kernel:<8} median {statistics.median(taken):.3f} s "
              f"(range {min(taken):.3f}-{max(taken):.3f})")  # fmt: skip
    print(f"  default BLAS / oneDNN step time: median {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
