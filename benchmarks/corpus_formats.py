"""`electra prepare` on the same text as .txt, .jsonl, .parquet and a `datasets` folder: throughput
and peak memory side by side, each format against the .txt run of the same session.

    python benchmarks/corpus_formats.py [--corpus ../shared/data/corpus] [--megabytes 30] [--workers 2]

The text is the corpus's files cut into blank-line-separated documents (the `.txt` reading of
them), written once per format; throughput is the same text MB over each run's wall and CPU time,
so the formats' ratios to `.txt` are comparable. Peak memory is sampled as in
prepare_throughput.py. Shards differ from format to format only where units are cut (a unit's
boundary ends a document); tests/test_data_formats.py checks that one unit gives identical shards.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from prepare_throughput import SHARED, run

FIELD = "text"


def documents(corpus: Path, megabytes: float) -> list[str]:
    docs, size = [], 0
    for path in sorted(corpus.rglob("*.txt")):
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        for doc in text.split("\n\n"):
            lines = [line.strip() for line in doc.split("\n") if line.strip()]
            if lines:
                docs.append("\n".join(lines))
                size += len(docs[-1].encode()) + 2
        if size > megabytes * 1e6:
            break
    return docs


def write_formats(docs: list[str], root: Path) -> dict[str, Path]:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = {name: root / name for name in ("corpus.txt", "corpus.jsonl", "corpus.parquet")}
    paths["corpus.txt"].write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    with open(paths["corpus.jsonl"], "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps({FIELD: doc}, ensure_ascii=False) + "\n")
    pq.write_table(pa.table({FIELD: docs}), paths["corpus.parquet"], row_group_size=2048)
    datasets.Dataset.from_dict({FIELD: docs}).save_to_disk(str(root / "saved"))
    paths["datasets folder"] = root / "saved"
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--vocab", default=str(SHARED / "vocab" / "bert-base-uncased-vocab.txt"))
    parser.add_argument("--megabytes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"cpu: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_formats(documents(args.corpus, args.megabytes), root)
        results, shards = {}, {}
        for name, path in paths.items():
            out = root / f"out-{name.replace(' ', '_')}"
            results[name] = run(path, args.vocab, out, args.workers)
            shards[name] = [p.read_bytes() for p in sorted(out.glob("shard-*.bin"))]
        text_mb = results["corpus.txt"]["text_mb"]
        print(f"{text_mb:.1f} MB of text, {len(shards['corpus.txt'])} shards from the .txt file")
        for name, r in results.items():
            ratio = results["corpus.txt"]["wall_s"] / r["wall_s"]
            print(f"{name:<16} {r['wall_s']:6.1f} s = {text_mb / r['wall_s']:.2f} MB/s "
                  f"({ratio:.2f}x the .txt run), peak PSS {r['peak_pss_mb']:.0f} MB, "
                  f"largest RSS {r['peak_rss_mb']:.0f} MB; {len(shards[name])} shards, "
                  f"{r['tokens']:,} tokens")  # fmt: skip


if __name__ == "__main__":
    main()
