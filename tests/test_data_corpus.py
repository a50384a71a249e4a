"""Corpus reading: file discovery, byte ranges at line boundaries, bad input, the default corpus."""

from __future__ import annotations

import gzip
import random
import re
import sys
import sysconfig

import pytest

from electra.data import corpus
from electra.data.corpus import ReadStats, check_file, read_lines
from electra.data.formats import find_files
from electra.errors import UserError


def all_lines(path, start=0, end=None, stats=None):
    return [line for block in read_lines(path, start, end, stats) for line in block]


def test_find_files_directories_globs_and_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.txt", "b/1.txt.gz", "a.txt", "notes.md", "b/data.tsv"):
        (tmp_path / name).write_bytes(b"x\n")
    assert find_files([str(tmp_path)]) == [
        tmp_path / "a.txt",
        tmp_path / "b/1.txt.gz",
        tmp_path / "b/2.txt",
    ]
    assert find_files([str(tmp_path / "b" / "*"), str(tmp_path / "a.txt")]) == [
        tmp_path / "b/1.txt.gz",
        tmp_path / "b/2.txt",
        tmp_path / "b/data.tsv",  # a glob is taken at its word
        tmp_path / "a.txt",
    ]
    assert find_files([str(tmp_path / "a.txt"), str(tmp_path / "*.txt")]) == [tmp_path / "a.txt"]


@pytest.mark.parametrize(
    "pattern, message",
    [("nope/*.txt", "matches no file"), ("empty", "directory holds no corpus files")],
)
def test_find_files_refuses_what_matches_nothing(tmp_path, pattern, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / pattern}: ") + message):
        find_files([str(tmp_path / pattern)])


def test_ranges_split_a_file_at_line_boundaries_without_overlap(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "BLOCK_BYTES", 7)  # many blocks, lines straddling them
    rng = random.Random(0)
    path = tmp_path / "c.txt"
    for _ in range(300):
        lines = [
            "".join(rng.choice("ab é") for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(0, 9))
        ]
        data = ("\n".join(lines) + rng.choice(["", "\n"])).encode()
        path.write_bytes(data)
        expected = [line.strip() for line in data.decode().split("\n")]
        if data.endswith(b"\n") or not data:
            expected.pop()
        cuts = sorted(rng.sample(range(1, len(data) + 1), min(3, len(data))))
        bounds = [0, *cuts, None]
        pieces = [
            line for a, b in zip(bounds, bounds[1:], strict=False) for line in all_lines(path, a, b)
        ]
        assert all_lines(path) == expected
        assert pieces == expected, (data, bounds)


def test_gzip_bom_crlf_and_counts(tmp_path):
    text = "\ufeffFirst line\r\nsecond\r\n\r\nnew document\r\n"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8", newline="")
    with gzip.open(tmp_path / "a.txt.gz", "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    for name in ("a.txt", "a.txt.gz"):
        stats = ReadStats()
        assert all_lines(tmp_path / name, stats=stats) == [
            "First line",
            "second",
            "",
            "new document",
        ]
        assert (stats.lines, stats.invalid_bytes, stats.text_bytes) == (4, 0, len(text.encode()))


def test_a_few_bad_bytes_are_replaced_and_counted(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("good text \ufffd kept\n".encode() + b"bad \xff\xfe byte and \xc3\n")
    check_file(path)  # not refused: most of it is fine
    stats = ReadStats()
    assert all_lines(path, stats=stats) == [
        "good text \ufffd kept",
        "bad \ufffd\ufffd byte and \ufffd",
    ]
    assert stats.invalid_bytes == 3  # the genuine U+FFFD in line 1 is not an error


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x7fELF\x02\x01\x01\0\0\0\0", "binary file"),
        ("some text\n".encode("utf-16"), "UTF-16"),
        ("\n".join(["déjà vu à côté"] * 50).encode("latin-1"), "not UTF-8"),
    ],
)
def test_check_file_refuses_what_is_not_text(tmp_path, content, message):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=f"^{path}: {message}"):
        check_file(path)


def test_check_file_refuses_a_broken_gzip(tmp_path):
    path = tmp_path / "x.txt.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(UserError, match=f"^{path}: cannot read"):
        check_file(path)


def test_ten_megabyte_line_names_the_file(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_bytes(b"fine\n" + b"a" * (10 << 20))
    check_file(path)  # the sniffed head has newlines; the reader finds the long line
    with pytest.raises(UserError, match=f"^{path}: a line longer than 1 MiB starting near byte 5"):
        all_lines(path)
    with pytest.raises(UserError, match=f"^{path}: a line longer than 1 MiB"):
        all_lines(path, start=3 << 20)  # entering mid-way through the long line


def test_default_corpus_is_english_docstrings_without_imports(tmp_path, monkeypatch):
    sysconfig.get_paths()  # where the standard library lives; this may load sysconfig's data
    from tqdm import tqdm

    tqdm([], disable=True)  # what a progress bar imports (its lock), so it is not counted below

    before = set(sys.modules)
    roots = corpus.default_corpus_roots()
    documents = corpus.default_corpus_documents(max_files=25)
    assert set(sys.modules) == before  # located and parsed with ast, nothing imported
    assert [r.name for r in roots[1:]] == list(corpus.DEFAULT_CORPUS_PACKAGES)  # all installed
    assert 10 < len(documents) <= 25  # one document per module that has prose docstrings
    assert documents == corpus.default_corpus_documents(max_files=25)  # a seeded shuffle
    lines = [line for doc in documents for line in doc]
    assert all(line and "\n" not in line and not line.startswith(">>>") for line in lines)
    words = " ".join(lines).lower().split()
    assert words.count("the") > 100  # English prose, not code
    stdlib = roots[0]
    monkeypatch.setattr(corpus, "default_corpus_roots", lambda: [stdlib])
    real_sources = corpus._python_sources
    monkeypatch.setattr(corpus, "_python_sources", lambda root: real_sources(root)[:25])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = corpus.default_corpus_file(progress=False)  # the documents/lines format, cached
    assert path.parent == tmp_path / "electra" and path.name.startswith("default-corpus-v3-")
    text = path.read_text(encoding="utf-8")
    assert [doc.split("\n") for doc in text.rstrip("\n").split("\n\n")] == documents
    monkeypatch.setattr(corpus, "default_corpus_documents", None)  # cached: not generated again
    assert corpus.default_corpus_file() == path


def test_default_corpus_is_rebuilt_when_a_package_changes(monkeypatch):
    roots = corpus.default_corpus_roots()
    before = corpus._sources_fingerprint(roots)
    real_version = corpus.importlib.metadata.version
    monkeypatch.setattr(
        corpus.importlib.metadata,
        "version",
        lambda name: "0.0.1" if name == "scikit-learn" else real_version(name),
    )
    assert corpus._sources_fingerprint(roots) != before


def test_docstring_prose_keeps_paragraphs_and_drops_code_and_underlines():
    docstring = (
        "Sum the values.\n\nParameters\n----------\nx : array\n    The input.\n\n"
        ">>> total([1, 2])\n3\n\n    indented code block"
    )
    assert corpus._docstring_lines(docstring) == [
        "Sum the values.",
        "Parameters x : array The input.",
    ]


def test_default_corpus_cache_must_be_writable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    with pytest.raises(UserError, match="cannot hold the default corpus.*XDG_CACHE_HOME"):
        corpus.default_corpus_file()
