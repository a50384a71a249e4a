"""Summarise a `make mutation` run: killed and surviving mutants per module, and every survivor
with its diff and its triage (a rule below, or `open`). Writes benchmarks/MUTATION.md.

    make mutation && python benchmarks/mutation_report.py
"""

from __future__ import annotations

import ast
import collections
import difflib
import json
import re
from pathlib import Path

MUTANTS = Path("mutants")
OUT = Path("benchmarks/MUTATION.md")
KILLED, SURVIVED, NO_TESTS = (1, 3), (0,), (33,)

# (function pattern, diff pattern, verdict): the first rule whose patterns both match applies.
RULES = [
    (
        r"bucket_positions",
        r"full_like\(magnitude, mid [-+] \d\)",
        "equivalent: the stand-in for near distances only keeps the log finite; they take the "
        "distance itself",
    ),
    (
        r"bucket_positions",
        r"magnitude < mid, distance|far / distance\.sign|near = magnitude <= mid",
        "equivalent at |d| = mid, whose log bucket is mid itself (and the sign is +-1 where read)",
    ),
    (
        r"relative_index",
        r"limit >= 0|limit > 1",
        "equivalent: a max_relative_positions of 0 or 1 is refused by the config check",
    ),
    (
        r"relative_index|Encoder.*forward",
        r"arange\(length, \)|config, None\)",
        "equivalent on CPU, where the suite runs (one device); GPU placement is the GPU check's",
    ),
    (
        r"DebertaModel.*forward",
        r"\.to\(None\)",
        "equivalent: multiplying by an integer or boolean mask promotes to the states' dtype",
    ),
    (
        r"DebertaModel.*forward",
        r"token_type_ids, (None)?\)",
        "equivalent: DeBERTa's embeddings take no positions",
    ),
    (
        r"DisentangledAttention.*forward",
        r'or x\.device\.type == "cpu"|self\.training or self\.dropout\.p',
        "equivalent in results: both attention paths compute the same (tested), and dropout is "
        "off outside training",
    ),
    (
        r"DisentangledAttention.*forward",
        r"transpose\(-1, \+2\)",
        "equivalent for the 4-D tensors it is called with (dim 2 is -2)",
    ),
    (
        r"DisentangledAttention.*forward",
        r"dropout_p=|\n\+\s+\)  # fmt: skip",
        "equivalent on CPU: training with dropout never takes SDPA there (GPU: the device tests)",
    ),
    (
        r"deberta.*config_from_hf",
        r"raw\.get\(key, (None)?\)",
        "equivalent: an absent layout key reads as its transformers default does (refused, or "
        "no convolution)",
    ),
    (
        r"deberta.*config_from_hf",
        r"hidden / heads",
        "equivalent: hidden_size is a multiple of the heads (checked), so the division is exact",
    ),
    (
        r"deberta.*config_from_hf",
        r'"XX|"[A-Z ,]{8,}"',
        "message text: what the refusal names, not what it refuses",
    ),
    (
        r"deberta.*config_to_hf",
        r"pooler_hidden_size|POOLER_HIDDEN_SIZE",
        "equivalent: transformers takes pooler_hidden_size as hidden_size when absent",
    ),
    (
        r"read_scored",
        r"seen|XX|[A-Z]{4}",
        "message text: what the refusal names, not what it refuses",
    ),
    (
        r"official_spans",
        r"start = set\(\), \"O\", [-+]\d",
        'equivalent: the first tag always sets `start` (after the initial "O")',
    ),
    (
        r"",
        r"device=None|device=\w+\.device\)|\(\w+\.shape, \)|, \)\.masked_fill"
        r"|torch\.empty\(count, (dtype=torch\.\w+, )?\)",
        "equivalent on CPU, where the suite runs (one device); GPU placement is the GPU check's",
    ),
    (
        r"",
        r"zip\(.*(strict=(None|False)|, \))",
        "equivalent: the zipped sequences always have equal lengths (strict only turns a bug into "
        "an error)",
    ),
    (
        r"",
        r'kind=None|kind="XX|kind="STABLE|argsort\([^)]*, \)',
        "equivalent but on exact ties of float scores (none in real logits)",
    ),
    (
        r"",
        r"UserError|raise |f\"|warn",
        "message text: the one-line error tests match its important parts",
    ),
    (
        r"block_rows",
        r"",
        "equivalent: the block size changes how many rows are projected at once, not the results (tested with 2-row and whole blocks)",
    ),
    (
        r"_invert_cdf",
        r"dim=\+1|unsqueeze\(\+1\)|squeeze\(\+1\)|cumsum_\(\+1\)",
        "equivalent for the 2-D (rows, V) logits and 1-D draws it is called with",
    ),
    (
        r"_invert_cdf",
        r"clamp_|/ cdf|right=",
        "equivalent: the CDF ends at 1 and the clamp only guards a draw rounding past it; a tie of a float draw with a CDF value has probability 0",
    ),
    (
        r"_Blockwise.*backward",
        r"low|autocast|\.to\(",
        "equivalent in values: inside autocast every product casts its operands to autocast's "
        "dtype anyway; the explicit casts only save repeating them (a bf16 test checks the path)",
    ),
    (
        r"_Blockwise.*forward",
        r"block_rows\(|slice\(",
        "equivalent in results: another block size, or blocks that overlap, recompute the same "
        "rows",
    ),
    (
        r"_Blockwise.*forward|vocabulary_output|choose_positions|_whole_words",
        r"\(\+1\)|topk\(max_predictions, \)|argsort\(descending",
        "equivalent for the 2-D tensors it is called with (dim 1 is the last)",
    ),
    (
        r"_Blockwise.*forward",
        r"mark_non_differentiable",
        "equivalent: boolean and integer outputs are never differentiable",
    ),
    (
        r"_whole_words",
        r"-2\.0",
        "equivalent: any negative key marks a token that is never chosen",
    ),
    (
        r"_whole_words",
        r"stable=False",
        "equivalent: a word's pieces share a key no other word draws, so they stay together",
    ),
    (
        r"_whole_words",
        r"> 0\)",
        "equivalent but when torch.rand draws exactly 0 (probability 2^-24 a word)",
    ),
    (
        r"_whole_words",
        r"index, 1\)",
        "equivalent: every row begins with [CLS], a special token that is its own word",
    ),
    (
        r"ReplacedTokenDetection.*__init__",
        r"persistent=None",
        "equivalent: register_buffer reads persistent=None as False (falsy)",
    ),
    (
        r"weighted_mean",
        r"\.to\(None\)",
        "equivalent: boolean weights multiply as 0 and 1 either way",
    ),
    (
        r"ReplacedTokenDetection.*__init__",
        r"eps=None|mask_prob\), \)",
        "equivalent: eps only clamps a mask_prob below 0.001 or above 0.999",
    ),
    (
        r"DisentangledEmbeddings.*merged",
        r"strict=(None|False)\)|tables\(\), \)",
        "equivalent: the zipped sequences always have equal lengths (strict only turns a bug into "
        "an error)",
    ),
    (
        r"official_spans",
        r'split\("-", (2)?\)|\[\+1\]',
        "equivalent for span tags (prefix-type): the first split part is the prefix, the second "
        "the type",
    ),
    (
        r"read_scored",
        r"read_conll\(path, \)",
        "equivalent: read_conll's tag column is the last by default",
    ),
    (
        r"x_decode",
        r"offsets\[f, :, 1\]|dtype=None|np\.array\(\[score for _, score in nbest\], \)",
        "equivalent: a token outside the context has offsets (-1, -1), and Python floats make a "
        "float64 array anyway",
    ),
    (
        r"detect_version",
        r'"XXXX"|"XXvXX"|"version", None|"version", \)|is_impossible", (None|\))',
        "equivalent: a missing version or is_impossible reads as not 2.0 either way",
    ),
    (
        r"evaluate_v|_check_predictions",
        r"_check_predictions\(predictions, |needs an answer|NEEDS AN ANSWER",
        "message text: what the refusal names, not what it refuses",
    ),
    (
        r"x_score",
        r"sklearn_f1\(.*(zero_division=1|\"macro\", \))",
        "equivalent: a macro average over the tags either side has never divides by zero (each "
        "tag has tp + fp + fn > 0)",
    ),
    (
        r"f1_v2",
        r"not pred_tokens and not gold_tokens",
        "equivalent: when only one side is empty the token F1 shares nothing and is 0 too",
    ),
    (
        r"config_to_hf",
        r"tie_word_embeddings|TIE_WORD",
        "equivalent: transformers' ElectraConfig ties word embeddings by default",
    ),
    (
        r"AdamWeightDecay.*__init__",
        r"weight_decay",
        "equivalent: every caller gives each parameter group its weight decay",
    ),
    (
        r"build_optimizer",
        r'"XXlrXX"|"LR"',
        "equivalent: the loop sets every group's lr from its base_lr before each step",
    ),
    (
        r"build_optimizer|rename",
        r"key=None|sorted\(table\.items\(\), \)|sorted\(groups\.items\(\), \)",
        "equivalent for these keys' order (tuples sort by their first entry)",
    ),
    (
        r"layer_lrs",
        r"n \+ 3",
        "equivalent: max(top - depth, 0) gives the head exponent 0 either way",
    ),
    (
        r"ReplacedTokenDetection.*forward",
        r"<= c\.mask_token_prob|>= 0\)",
        "equivalent but when a uniform draw or a logit is exactly at the threshold (probability 0)",
    ),
]


def functions(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    return {n.name: ast.get_source_segment(text, n) or "" for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}  # fmt: skip


def diff(sources: dict[Path, dict[str, str]], path: Path, mutant: str) -> list[str]:
    original = re.sub(r"__mutmut_\d+$", "__mutmut_orig", mutant)
    funcs = sources[path]
    a = funcs.get(original, "").replace(original, "f")
    b = funcs.get(mutant, "").replace(mutant, "f")
    return [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]  # fmt: skip


def verdict(name: str, lines: list[str]) -> str:
    changed = "\n".join(lines)
    for function, pattern, text in RULES:
        if re.search(function, name) and re.search(pattern, changed):
            return text
    return "open"


def main() -> None:
    table, survivors = [], []
    sources: dict[Path, dict[str, str]] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        source = meta.with_suffix("")
        sources[source] = functions(source.read_text())
        count = collections.Counter(
            "killed" if c in KILLED else "survived" if c in SURVIVED else "no tests" if c in NO_TESTS
            else "other" for c in codes.values())  # fmt: skip
        module = str(source.relative_to(MUTANTS))
        for name, code in sorted(codes.items()):
            if code in SURVIVED or code in NO_TESTS:
                lines = diff(sources, source, name.rsplit(".", 1)[-1])
                survivors.append(
                    (module, name, lines, verdict(name, lines) if code in SURVIVED else "no tests")
                )
        table.append((module, count))
    rows = [
        "| module | mutants | killed | survived | equivalent (argued) | open | no tests |",
        "|---|---|---|---|---|---|---|",
    ]
    for module, count in table:
        mine = [s for s in survivors if s[0] == module and s[3] != "no tests"]
        open_ = sum(1 for s in mine if s[3].endswith("open") or s[3] == "open")
        rows.append(f"| `{module}` | {sum(count.values())} | {count['killed']} | {count['survived']} | "
                    f"{len(mine) - open_} | {open_} | {count['no tests']} |")  # fmt: skip
    body = ["# Mutation testing: every survivor and its triage", "",
            "Generated by `benchmarks/mutation_report.py` from a `make mutation` run (mutmut; the "
            "modules and tests in pyproject's `[tool.mutmut]`). A survivor is `equivalent` with the "
            "one-line reason given, or `open` (no test yet tells it apart).", "", *rows, ""]  # fmt: skip
    for _module, name, lines, text in survivors:
        body += [f"### `{name}` - {text}", "", "```diff", *lines, "```", ""]
    OUT.write_text("\n".join(body) + "\n", encoding="utf-8")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
