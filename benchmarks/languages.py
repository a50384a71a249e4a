"""Non-English data end to end: the UD treebanks (German, Japanese, Chinese) and Japanese named
entities, through every vocabulary algorithm, a short pre-training, and tagging beside a
random-initialisation control and the majority-tag baseline.

For each treebank: its `# text` lines are the corpus; for each algorithm a vocabulary, `prepare`
(throughput measured on the corpus repeated to about 2 MB), the round trip (characters lost
between the normalised text and the decoded tokens) and the `[UNK]` share. Then with the Unigram
vocabulary a `tiny` pre-training of `--steps` steps, and UPOS tagging trained on the treebank's dev
file and scored on its test file (there is no train file in ../shared), pre-trained and from
random initialisation; the baseline tags every word with the training file's most frequent tag.
Japanese NER trains on a subset of `train.bio` and scores on `dev.bio`, with the Japanese model.

    python benchmarks/languages.py --shared ../shared/data --out runs/languages --steps 300
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from electra.cli import main
from electra.tasks.tagging.reader import read_conll, read_conllu
from electra.tokenizer import load_tokenizer

ALGORITHMS = ("wordpiece", "unigram", "bpe")
TREEBANKS = ("de_gsd", "ja_gsd", "zh_gsd")


def run(*argv: str) -> None:
    code = main([*argv])
    if code:
        raise SystemExit(f"electra {' '.join(argv)}: exit {code}")


def corpus(treebank: Path, out: Path) -> tuple[Path, list[str]]:
    lines = [line.removeprefix("# text = ").strip()
             for name in ("dev.conllu", "test.conllu")
             for line in (treebank / name).read_text(encoding="utf-8").splitlines()
             if line.startswith("# text = ")]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    path = out / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    repeats = max(1, 2_000_000 // path.stat().st_size)
    (out / "timing").mkdir(exist_ok=True)
    (out / "timing" / "corpus.txt").write_text("\n\n".join(["\n".join(lines)] * repeats) + "\n",
                                               encoding="utf-8")  # fmt: skip
    return path, lines


def vocabulary(name: str, corpus_file: Path, lines: list[str], out: Path, algorithm: str) -> dict:
    vocab = out / f"vocab-{algorithm}"
    run("vocab", "--algorithm", algorithm, "--corpus", str(corpus_file), "--size", "3000", "--out",
        str(vocab), "--overwrite", "--no-lowercase")  # fmt: skip
    tokenizer = load_tokenizer(vocab)
    lost = total = 0
    for line in lines:
        expected = "".join(tokenizer.normalizer.normalize_str(line).split())
        decoded = "".join(
            tokenizer.decode(tokenizer.encode(line, add_special_tokens=False).ids).split()
        )
        total += len(expected)
        lost += sum(a != b for a, b in zip(expected, decoded, strict=False)) + abs(
            len(expected) - len(decoded)
        )
    timing = out / "timing"
    started = time.perf_counter()
    run("prepare", "--corpus", str(timing / "corpus.txt"), "--vocab", str(vocab), "--out",
        str(out / f"timed-{algorithm}"), "--seq-len", "128", "--overwrite", "--no-progress")  # fmt: skip
    seconds = time.perf_counter() - started
    run("prepare", "--corpus", str(corpus_file), "--vocab", str(vocab), "--out",
        str(out / f"data-{algorithm}"), "--seq-len", "128", "--overwrite", "--no-progress")  # fmt: skip
    manifest = json.loads((out / f"data-{algorithm}" / "manifest.json").read_text())
    mb = (timing / "corpus.txt").stat().st_size / 1e6
    return {"treebank": name, "algorithm": algorithm, "prepare_mb_s": round(mb / seconds, 2),
            "unk_share": round(manifest["num_unknown"] / manifest["num_tokens"], 4),
            "round_trip_lost_chars": lost, "chars": total,
            "tokens_per_char": round(manifest["num_tokens"] / max(1, total), 3)}  # fmt: skip


def majority(train: list, test: list) -> float:
    tag, _ = Counter(t for s in train for t in s.tags).most_common(1)[0]
    words = [t for s in test for t in s.tags]
    return sum(t == tag for t in words) / len(words)


def tag(model: Path, train: Path, dev: Path, out: Path, extra: list[str]) -> dict:
    scores = {}
    for init, flags in (("pre-trained", []), ("random init", ["--random-init"])):
        target = out / init.replace(" ", "-")
        run("finetune", "tagging", "--train", str(train), "--dev", str(dev), "--model", str(model),
            "--out", str(target), "--overwrite", "--no-progress", *flags, *extra)  # fmt: skip
        results = json.loads((target / "results.json").read_text())
        scores[init] = results["dev"][results["main_metric"]]
        scores["metric"] = results["main_metric"]
    return scores


def main_(args: argparse.Namespace) -> None:
    shared, out = Path(args.shared), Path(args.out)
    figures = {"vocabularies": [], "tagging": []}
    for name in TREEBANKS:
        treebank, work = shared / "ud" / name, out / name
        corpus_file, lines = corpus(treebank, work)
        for algorithm in ALGORITHMS:
            figures["vocabularies"].append(vocabulary(name, corpus_file, lines, work, algorithm))
            print(json.dumps(figures["vocabularies"][-1]), flush=True)
        run("pretrain", "--preset", "tiny", "--data", str(work / "data-unigram"), "--out",
            str(work / "run"), "--steps", str(args.steps), "--no-progress")  # fmt: skip
        model = work / "run" / "discriminator"
        scores = tag(model, treebank / "dev.conllu", treebank / "test.conllu", work / "upos",
                     ["--epochs", "3"])  # fmt: skip
        scores["majority"] = majority(read_conllu(treebank / "dev.conllu"),
                                      read_conllu(treebank / "test.conllu"))  # fmt: skip
        figures["tagging"].append({"task": f"{name} UPOS", **scores})
        print(json.dumps(figures["tagging"][-1]), flush=True)
        if name == "ja_gsd":
            ner = shared / "ja_gsd_ner"
            scores = tag(model, ner / "train.bio", ner / "dev.bio", work / "ner",
                         ["--epochs", "3", "--max-train-examples", str(args.ner_examples)])  # fmt: skip
            scores["majority"] = majority(
                read_conll(ner / "train.bio"), read_conll(ner / "dev.bio")
            )
            figures["tagging"].append({"task": "ja_gsd_ner (span F1)", **scores})
            print(json.dumps(figures["tagging"][-1]), flush=True)
    (out / "languages.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--out", default="runs/languages")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--ner-examples", type=int, default=2000)
    main_(parser.parse_args())
