"""`electra prepare` and `electra vocab` end to end: real text in, examples that decode back to it."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from electra.cli import main
from electra.data import corpus, prepare
from electra.data.prepare import prepare as run_prepare
from electra.data.shards import Shards
from electra.errors import UserError
from electra.pretraining.packing import model_inputs
from electra.tokenizer import SpecialIds, load_tokenizer


@pytest.fixture
def books(assets):
    """Three files of the suite's own corpus (~200 KB of standard-library docstrings)."""
    return [str(path) for path in sorted((assets / "corpus").glob("*.txt"))]


@pytest.fixture
def vocab(assets):
    return str(assets / "vocab.txt")


def shard_bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.glob("shard-*.bin"))}


def squeeze(text: str) -> str:
    return "".join(text.split())


VOCAB_SHA256 = (
    "aa7310dd68f24fc75d096756f8f6734713f9f126dbd58fb0bf283ea279cca5a8"  # tests/assets/vocab.txt
)


@pytest.mark.parametrize(
    "blanks_separate_docs, fill, pairs",
    [(True, (0.9, 0.97), (0.65, 0.73)), (False, (0.975, 1), (0.73, 0.8))],
)
def test_examples_decode_to_the_original_text(
    books, vocab, tmp_path, blanks_separate_docs, fill, pairs
):
    result = run_prepare(
        books, vocab, tmp_path, seq_len=64, shard_mb=0.05, workers=1, progress=False,
        blanks_separate_docs=blanks_separate_docs,
    )  # fmt: skip
    shards, tokenizer = Shards(tmp_path), load_tokenizer(tmp_path)
    assert (
        len(shards) == result.manifest["num_examples"] > 300 and len(shards.manifest["shards"]) > 2
    )
    assert shards.manifest["vocab_sha256"] == VOCAB_SHA256
    assert shards.dtype == np.uint16 and shards.seq_len == 64
    texts = [Path(b).read_text(encoding="utf-8-sig") for b in books]
    originals = [squeeze(tokenizer.normalizer.normalize_str(text)) for text in texts]
    ids = shards.examples(np.arange(len(shards)))
    special = SpecialIds.of(tokenizer)
    inputs = model_inputs(ids, pad_id=special.pad, sep_id=special.sep)
    lengths = inputs["attention_mask"].sum(1).tolist()
    with_b = 0
    for row, types, length in zip(ids, inputs["token_type_ids"], lengths, strict=True):
        seps = np.flatnonzero(row[:length] == special.sep).tolist()
        # [CLS] A [SEP] (B [SEP])? [PAD]*, segment ids 0 then 1
        assert row[0] == special.cls and seps[-1] == length - 1 and len(seps) in (1, 2)
        assert types[: seps[0] + 1].eq(0).all() and types[seps[0] + 1 : length].eq(1).all()
        if special.unk in row:  # [UNK] decodes to nothing comparable
            continue
        a, b = row[1 : seps[0]].tolist(), row[seps[0] + 1 : length - 1].tolist()
        with_b += bool(b)
        # B continues A; a row may open mid-word, where the previous row of its document stopped.
        ab = squeeze(tokenizer.decode(a + b)).removeprefix("##")
        assert any(ab in text for text in originals), ab
    assert pairs[0] < with_b / len(ids) < pairs[1]
    assert fill[0] < sum(lengths) / ids.size <= fill[1]


def test_tokens_match_transformers(books, vocab, tmp_path):
    from transformers import ElectraTokenizerFast

    run_prepare(books[:1], vocab, tmp_path, seq_len=128, workers=1, progress=False)
    shards = Shards(tmp_path)
    rows = shards.examples(np.arange(len(shards)))
    special = SpecialIds.of(load_tokenizer(tmp_path))
    theirs = ElectraTokenizerFast.from_pretrained(
        tmp_path
    )  # the tokenizer copied beside the shards
    stream = theirs(Path(books[0]).read_text(encoding="utf-8-sig"), add_special_tokens=False)[
        "input_ids"
    ]
    stream_text, position = ",".join(map(str, stream)) + ",", 0
    for row in rows:
        text = "".join(f"{t}," for t in row if t not in (special.pad, special.cls, special.sep))
        assert stream_text.startswith(text, position)  # in order, nothing skipped
        position += len(text)
    assert position == len(stream_text)  # every token of the book is in an example


def test_workers_interruption_and_resume_give_identical_shards(books, vocab, tmp_path, monkeypatch):
    def run(out, **kwargs):
        return run_prepare(books, vocab, tmp_path / out, shard_mb=0.04, progress=False, **kwargs)

    two = run("two", workers=2)
    reference = shard_bytes(tmp_path / "two")
    assert len(reference) >= 4
    run("one", workers=1)
    assert shard_bytes(tmp_path / "one") == reference  # the same examples whatever the workers

    # Killed while writing a shard: nothing half-written is left and the set is not readable.
    calls = 0
    real_read_blocks = prepare.read_blocks

    def interrupted(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real_read_blocks(*args, **kwargs)

    monkeypatch.setattr(prepare, "read_blocks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run("resumed", workers=1)
    monkeypatch.undo()
    assert not list((tmp_path / "resumed").glob("*.tmp"))
    with pytest.raises(UserError, match="incomplete"):
        Shards(tmp_path / "resumed")
    (tmp_path / "resumed" / "shard-00003.bin.tmp").write_bytes(b"junk from a killed process")
    again = run("resumed", workers=2)
    assert again.reused_shards >= 1 and 0 < again.built_bytes < sum(
        s["bytes"] for s in two.manifest["sources"]
    )
    assert shard_bytes(tmp_path / "resumed") == reference
    assert again.manifest == two.manifest | {"sources": again.manifest["sources"]}
    assert run("resumed", workers=2).built_bytes == 0  # finished: nothing to do


def test_out_inside_the_corpus_folder_is_not_read(books, vocab, tmp_path):
    (tmp_path / "book.txt").write_bytes(Path(books[0]).read_bytes())
    first = run_prepare([str(tmp_path)], vocab, tmp_path / "out", workers=1, progress=False)
    again = run_prepare([str(tmp_path)], vocab, tmp_path / "out", workers=1, progress=False)
    assert [s["path"] for s in again.manifest["sources"]] == [str(tmp_path / "book.txt")]
    assert again.built_bytes == 0 and again.manifest == first.manifest


def test_other_settings_need_overwrite(books, vocab, tmp_path):
    run_prepare(books[:1], vocab, tmp_path, seq_len=32, workers=1, progress=False)
    with pytest.raises(UserError, match="already holds a set prepared from other settings"):
        run_prepare(books[:1], vocab, tmp_path, seq_len=48, workers=1, progress=False)
    other_vocab = tmp_path.parent / "other-vocab.txt"
    other_vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n")
    with pytest.raises(UserError, match="already holds a set prepared from other settings"):
        run_prepare(books[:1], str(other_vocab), tmp_path, seq_len=32, workers=1, progress=False)
    assert (tmp_path / "vocab.txt").read_bytes() == Path(vocab).read_bytes()  # left untouched
    run_prepare(books[:1], vocab, tmp_path, seq_len=48, workers=1, progress=False, overwrite=True)
    assert Shards(tmp_path).seq_len == 48


def test_gzip_gives_the_same_examples(books, vocab, tmp_path):
    text = Path(books[0]).read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "book.txt").write_bytes(text)
    with gzip.open(tmp_path / "in" / "book2.txt.gz", "wb") as f:
        f.write(text)
    for name in ("book.txt", "book2.txt.gz"):
        run_prepare(
            [str(tmp_path / "in" / name)], vocab, tmp_path / name, workers=1, progress=False
        )
    assert shard_bytes(tmp_path / "book.txt") == shard_bytes(tmp_path / "book2.txt.gz")


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"{dir}/\*\.txt: matches no file"),
        (b"", "the corpus is empty: 1 file"),
        (b"\n\r\n  \n\n", r"the corpus is empty: no text in 1 file\(s\), e.g. {file}"),
        (b"PK\x03\x04\x14\0\0\0\x08\0", "{file}: binary file"),
        ("\n".join(["naïve café"] * 30).encode("latin-1"), "{file}: not UTF-8 text"),
        (b"ok\n" + b"x" * (10 << 20), "{file}: a line longer than 1 MiB"),
    ],
)
def test_bad_corpus_is_one_line_naming_the_file(vocab, tmp_path, capsys, content, message):
    (tmp_path / "in").mkdir()
    file = tmp_path / "in" / "bad.txt"
    if content is not None:
        file.write_bytes(content)
    code, _, err = cli(
        capsys, "prepare", "--corpus", str(tmp_path / "in" / "*.txt"), "--vocab", vocab,
        "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and err.startswith("electra: error: ")
    assert re.search(
        message.format(dir=re.escape(str(tmp_path / "in")), file=re.escape(str(file))), err
    ), err


def test_bad_flags(vocab, books, tmp_path, capsys):
    code, _, err = cli(
        capsys,
        "prepare",
        "--corpus",
        *books,
        "--vocab",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and "no vocabulary file" in err
    code, _, err = cli(
        capsys,
        "prepare",
        "--corpus",
        *books,
        "--vocab",
        vocab,
        "--out",
        str(tmp_path / "o"),
        "--seq-len",
        "4",
    )
    assert code == 2 and "--seq-len 4: expected at least 8" in err
    twice = tmp_path / "twice.txt"
    twice.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nthe\ncat\n")
    code, _, err = cli(
        capsys, "prepare", "--corpus", *books, "--vocab", str(twice), "--out", str(tmp_path / "o")
    )
    assert code == 2 and f"{twice}: the vocabulary lists a token twice" in err


def test_invalid_bytes_are_replaced_and_counted(vocab, tmp_path, capsys):
    good = "A perfectly ordinary sentence about the weather.\n" * 40
    path = tmp_path / "a.txt"
    path.write_bytes(good.encode() + b"Two bad bytes \xff here \xc0 and done.\n")
    code, out, _ = cli(
        capsys,
        "prepare",
        "--corpus",
        str(path),
        "--vocab",
        vocab,
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert code == 0 and f"replaced 2 invalid UTF-8 byte sequences: {path} (2)" in out
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["invalid_bytes"] == 2 and manifest["sources"][0]["invalid_bytes"] == 2


def test_vocab_then_prepare_on_the_default_corpus(tmp_path, capsys, monkeypatch):
    stdlib = corpus.default_corpus_roots()[0]
    monkeypatch.setattr(corpus, "default_corpus_roots", lambda: [stdlib])
    real_sources = corpus._python_sources
    monkeypatch.setattr(corpus, "_python_sources", lambda root: real_sources(root)[:20])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out, _ = cli(
        capsys, "vocab", "--default-corpus", "--size", "400", "--out", str(tmp_path / "v")
    )
    assert code == 0 and "vocab.txt" in out
    vocab = (tmp_path / "v" / "vocab.txt").read_text().split("\n")[:-1]
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and 300 < len(vocab) <= 400
    code, out, _ = cli(
        capsys, "prepare", "--default-corpus", "--vocab", str(tmp_path / "v"), "--out", str(tmp_path / "d"),
        "--seq-len", "32", "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert code == 0
    shards = Shards(tmp_path / "d")
    assert (
        shards.manifest["sources"][0]["path"].startswith(str(tmp_path / "cache" / "electra"))
        and len(shards) > 100
    )
    text = load_tokenizer(tmp_path / "d").decode(shards.examples(np.arange(50)).ravel().tolist())
    assert text.count(" the ") > 10


def test_vocab_cased(books, tmp_path, capsys):
    code, out, _ = cli(
        capsys,
        "vocab",
        "--corpus",
        *books,
        "--size",
        "2000",
        "--no-lowercase",
        "--out",
        str(tmp_path),
    )
    assert code == 0 and f"{tmp_path / 'vocab.txt'}: 2,000 tokens learned from" in out
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["do_lower_case"] is False
    ours = load_tokenizer(tmp_path)
    assert ours.get_vocab_size() == 2000
    assert ours.token_to_id("It") is not None and ours.token_to_id("it") != ours.token_to_id("It")


def test_a_dead_worker_is_one_line_never_a_hang(books, vocab, tmp_path, monkeypatch, capsys):
    """A worker killed mid-job (the OOM killer, a user's kill -9) ends `prepare` with one line,
    and a re-run resumes."""
    real = prepare.read_blocks

    def dies(path, start, *args, **kwargs):  # runs in a forked worker, where the patch is inherited
        if start > 0:
            os._exit(9)
        return real(path, start, *args, **kwargs)

    monkeypatch.setattr(prepare, "read_blocks", dies)
    argv = ["prepare", "--corpus", *books, "--vocab", vocab, "--out", str(tmp_path / "o"),
            "--workers", "2", "--shard-mb", "0.04", "--no-progress"]  # fmt: skip
    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 60
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a worker process died" in err and "Traceback" not in err
    monkeypatch.undo()
    assert main(argv) == 0
    assert Shards(tmp_path / "o").manifest["num_examples"] > 300


def test_a_truncated_gzip_is_one_line(books, vocab, tmp_path, capsys):
    data = gzip.compress(b"".join(Path(book).read_bytes() for book in books))  # past the sniff
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) * 2 // 3])
    argv = ["prepare", "--corpus", str(tmp_path / "cut.txt.gz"), "--vocab", vocab, "--out",
            str(tmp_path / "o"), "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cut.txt.gz: truncated or corrupt compressed file" in err
    assert not (tmp_path / "o" / "manifest.json").exists()
