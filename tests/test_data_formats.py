"""Corpora in JSON Lines, Parquet and `datasets` folders give exactly what the same text gives as
`.txt`; malformed records stop the job in one line naming `file:line`, or are counted when asked."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from electra.cli import main
from electra.data.formats import find_files, read_blocks
from electra.data.options import Reading
from electra.data.prepare import prepare
from electra.data.vocabulary import learn_vocabulary
from electra.errors import UserError

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402


@pytest.fixture
def documents(assets) -> list[str]:
    """The assets' corpus as documents: paragraphs a line, no blank line inside one."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((assets / "corpus").glob("*.txt")))
    return [doc.strip("\n") for doc in text.split("\n\n") if doc.strip()]


def write_formats(documents: list[str], root) -> dict[str, str]:
    """The same documents as .txt, .jsonl, .jsonl.gz, .parquet and a datasets folder."""
    root.mkdir()
    (root / "corpus.txt").write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    records = "".join(json.dumps({"id": i, "body": d}) + "\n" for i, d in enumerate(documents))
    (root / "corpus.jsonl").write_text(records, encoding="utf-8")
    with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(records)
    table = pa.table({"id": list(range(len(documents))), "body": documents})
    pq.write_table(table, root / "corpus.parquet", row_group_size=10)  # several row groups
    formats = {
        name: str(root / name)
        for name in ("corpus.txt", "corpus.jsonl", "corpus.jsonl.gz", "corpus.parquet")
    }
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"body": documents}).save_to_disk(str(root / "saved"))
    formats["datasets folder"] = str(root / "saved")
    return formats


def shard_bytes(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("shard-*.bin"))}


def test_every_format_gives_the_shards_and_vocabulary_of_the_same_text(documents, assets, tmp_path):
    formats = write_formats(documents, tmp_path / "in")
    reading = Reading(text_field="body")
    shards, vocabularies = {}, {}
    for name, path in formats.items():
        out = tmp_path / name.replace(" ", "_")
        result = prepare([path], assets / "vocab.txt", out / "shards", seq_len=64, workers=1,
                         progress=False, reading=reading)  # fmt: skip
        shards[name] = shard_bytes(out / "shards")
        learn_vocabulary([path], out / "vocab", reading=reading)
        vocabularies[name] = (out / "vocab" / "vocab.txt").read_text(encoding="utf-8")
        if name != "corpus.txt":
            assert result.manifest["sources"][0]["records"] == len(documents)
    reference = shards.pop("corpus.txt")
    assert len(reference) >= 1 and sum(map(len, reference.values())) > 100_000
    for name, found in shards.items():
        assert found == reference, f"{name}: other examples than the .txt file's"
    # WordPiece training breaks ties differently from run to run (tokenizers' trainer), so the
    # vocabularies are compared by what they are learned from: the same lines, in order.
    text_lines = [
        line for block in read_blocks(Path(formats["corpus.txt"])) for line in block if line
    ]
    for name, path in formats.items():
        files = find_files([path])
        lines = [
            line
            for f in files
            for block in read_blocks(f, reading=reading)
            for line in block
            if line
        ]
        assert lines == text_lines, name
        tokens = set(vocabularies[name].split("\n"))
        assert len(tokens ^ set(vocabularies["corpus.txt"].split("\n"))) < 0.02 * len(tokens), name
        assert not {'"body":', '{"', "##body"} & tokens  # never read as raw JSON


@pytest.mark.parametrize("name", ["corpus.jsonl", "corpus.parquet", "datasets folder"])
def test_large_files_split_into_parallel_units_reading_every_record_once(
    name, documents, assets, tmp_path
):
    """JSONL byte ranges start and end at record boundaries, as lines of a .txt do; tables split
    at row groups (record batches)."""
    formats = write_formats(documents, tmp_path / "in")
    if name == "datasets folder":  # several record batches: save with small shards of batches
        datasets = pytest.importorskip("datasets")
        table = datasets.Dataset.from_dict({"body": documents})
        table.save_to_disk(str(tmp_path / "batched"), max_shard_size="40KB")
        formats[name] = str(tmp_path / "batched")
    one = prepare([formats[name]], assets / "vocab.txt", tmp_path / "one", seq_len=64,
                  workers=1, shard_mb=100, progress=False, reading=Reading("body"))  # fmt: skip
    many = prepare([formats[name]], assets / "vocab.txt", tmp_path / "many", seq_len=64,
                   workers=2, shard_mb=0.03, progress=False, reading=Reading("body"))  # fmt: skip
    assert len(one.manifest["shards"]) == 1 and len(many.manifest["shards"]) > 3
    records = sum(s["records"] for s in many.manifest["sources"])
    assert records == sum(s["records"] for s in one.manifest["sources"]) == len(documents)


BAD_RECORDS = [
    ('{"text": "fine"}\n{"text": "unterminated\n', r"bad\.jsonl:2: not JSON"),
    ('{"text": "fine"}\n\n{"body": "x"}\n', r"bad\.jsonl:3: no 'text' field \(found: body\)"),
    ('{"text": 7}\n', r"bad\.jsonl:1: 'text' is not a string"),
    ('["a list"]\n', r"bad\.jsonl:1: no 'text' field \(found: list\)"),
]


@pytest.mark.parametrize("content, message", BAD_RECORDS)
def test_a_bad_record_is_one_line_naming_file_and_line(content, message, assets, tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text(content, encoding="utf-8")
    for command in (
        ["vocab", "--size", "50"],
        ["prepare", "--vocab", str(assets / "vocab.txt"), "--no-progress"],
    ):
        code = main(
            [*command, "--corpus", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o")]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert pytest.importorskip("re").search(message, err), err
        assert "--skip-bad-records" in err  # the way out, spelled as the flag
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_the_line_number_counts_from_the_file_start_in_a_later_range(assets, tmp_path):
    good = "".join(json.dumps({"text": f"record number {i} " * 20}) + "\n" for i in range(400))
    (tmp_path / "big.jsonl").write_text(good + "{oops\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"big\.jsonl:401: not JSON"):
        prepare([str(tmp_path / "big.jsonl")], assets / "vocab.txt", tmp_path / "o", seq_len=32,
                workers=1, shard_mb=0.02, progress=False)  # fmt: skip


def test_skipped_records_are_counted_in_the_manifest(assets, tmp_path, capsys):
    lines = ['{"text": "one good record here"}', "{broken", '{"body": "no text"}', '{"text": null}',
             '{"text": "another good one"}']  # fmt: skip
    (tmp_path / "some.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["prepare", "--corpus", str(tmp_path / "some.jsonl"), "--vocab", str(assets / "vocab.txt"),
            "--out", str(tmp_path / "o"), "--skip-bad-records", "--no-progress", "--seq-len", "16"]  # fmt: skip
    assert main(argv) == 0
    assert "skipped 3 malformed records" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["skipped_records"] == 3 and manifest["sources"][0]["records"] == 2


def test_tables_without_the_text_column_and_dataset_dicts_are_refused(documents, tmp_path):
    formats = write_formats(documents[:5], tmp_path / "in")
    with pytest.raises(UserError, match=r"corpus\.parquet: no column 'text' \(columns: id, body\)"):
        learn_vocabulary([formats["corpus.parquet"]], tmp_path / "v")
    datasets = pytest.importorskip("datasets")
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a b"]})})
    splits.save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(UserError, match=r"a DatasetDict; give one split's folder: .*dict/train"):
        learn_vocabulary([str(tmp_path / "dict")], tmp_path / "v")


def test_a_hub_name_offline_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code = main(
        [
            "vocab",
            "--corpus",
            "hf:no-such-user/no-such-dataset",
            "--size",
            "50",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert (
        code == 2 and err.count("\n") == 1 and "hf:no-such-user/no-such-dataset: cannot load" in err
    )


def test_vocab_on_records_counts_their_lines(tmp_path, capsys):
    from electra.cli import main

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "one line\\nand another"}\n{"text": "a third"}\n' * 20)
    assert (
        main(["vocab", "--corpus", str(corpus), "--size", "60", "--out", str(tmp_path / "v")]) == 0
    )
    assert "learned from 60 lines" in capsys.readouterr().out
