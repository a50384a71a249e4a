"""`electra prepare`: a text corpus -> a directory of packed pre-training shards.

The corpus is cut into units of about `shard_mb` MB of text (a large file into several byte
ranges at line boundaries, small files grouped), and each unit becomes one shard, built by a pool
of worker processes. A range boundary ends a document, as a file's end does: at most one document
per `shard_mb` MB is split in two, never mixed with another. A unit's examples depend only on its text, the settings and `seed`, never on
the number of workers, so the output is deterministic. Each finished shard is renamed into place
and then recorded in `shard-NNNNN.json`; a re-run after an interruption keeps every shard whose
record matches and builds the rest. `manifest.json` is written last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from electra.data.corpus import ReadStats, default_corpus_file
from electra.data.examples import BUILDER_VERSION, ExampleBuilder
from electra.data.formats import check, find_files, read_blocks, splittable, table_parts
from electra.data.options import PrepareConfig, Reading
from electra.data.scripts import sample, stripping_damage
from electra.data.segmenters import load_segmenter, token_word_starts
from electra.data.shards import (
    MANIFEST_FILE,
    WORDS_SUFFIX,
    ShardWriter,
    pack_word_starts,
    token_dtype,
    words_width,
    write_manifest,
)
from electra.errors import UserError
from electra.files import one_writer, writable_dir, write_json
from electra.tokenizer import (
    Normalization,
    SpecialIds,
    is_lowercase,
    load_tokenizer,
    save_tokenizer,
    strips_accents,
    vocab_sha256,
)

SHARD_NAME = re.compile(r"shard-(\d+)\.(bin|json|words)")
# (file, start, end or None for the rest, its bytes): byte offsets in a text file, row groups or
# record batches in a table (weighed by their uncompressed bytes); the bytes weigh the piece when
# units are planned and progress is shown.
Piece = tuple[str, int, int | None, int]


def _file_pieces(path: Path, unit_bytes: int) -> list[Piece]:
    parts = table_parts(path)
    if parts is not None:  # runs of row groups (record batches) of about unit_bytes
        pieces, start, filled = [], 0, 0
        for i, part in enumerate(parts):  # weighed by their uncompressed bytes: the work
            filled += part
            if filled >= unit_bytes or i == len(parts) - 1:
                pieces.append((str(path), start, i + 1, filled))
                start, filled = i + 1, 0
        return pieces or [(str(path), 0, None, path.stat().st_size)]
    size = path.stat().st_size
    step = unit_bytes if splittable(path) else size  # a .gz stream cannot be entered mid-way
    return [
        (str(path), start, None if start + step >= size else start + step, min(step, size - start))
        for start in range(0, max(size, 1), max(step, 1))
    ]


def plan_units(files: Sequence[Path], unit_bytes: int) -> list[list[Piece]]:
    """Cut the corpus into units of about `unit_bytes`: big files split, small ones grouped."""
    units: list[list[Piece]] = [[]]
    filled = 0
    for path in files:
        for piece in _file_pieces(path, unit_bytes):
            if units[-1] and filled + piece[3] > unit_bytes:
                units.append([])
                filled = 0
            units[-1].append(piece)
            filled += piece[3]
    return units


def _unit_key(settings: dict, index: int, pieces: list[Piece]) -> str:
    """Identity of a unit's work: a finished shard is reused only if nothing it depends on changed."""
    stamps = [(p, s, e, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p, s, e, _ in pieces]
    blob = json.dumps([settings, index, stamps], sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --- One unit, in a worker process --------------------------------------------------------------

_worker: dict = {}


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the process that started it dies (a SIGKILLed
    `prepare` leaves no orphans printing tracebacks)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the workers notice the closed queue and exit


def _init_worker(out: str, done_bytes, done_examples, parallel: bool) -> None:
    if parallel:
        _die_with_parent()
        # The pool already uses every core; Rust threads on top would only contend.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        # Ctrl-C is the main process's to handle: it stops the pool, and a re-run resumes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    tokenizer = load_tokenizer(out)
    _worker.update(
        tokenizer=tokenizer, ids=SpecialIds.of(tokenizer), bytes=done_bytes, examples=done_examples
    )


def _add(counter, amount: int) -> None:
    with counter.get_lock():
        counter.value += amount
    if "refresh" in _worker:  # building in the main process: move the bar ourselves
        _worker["refresh"]()


def _build_unit(job: tuple[int, list[Piece], str, str, dict]) -> None:
    """Pack one unit into `shard-NNNNN.bin`, then record it in `shard-NNNNN.json`."""
    index, pieces, key, out, settings = job
    tokenizer, ids = _worker["tokenizer"], _worker["ids"]
    rng = random.Random(f"{settings['seed']}/{index}")
    segmenter = settings.get("word_segmenter")
    if segmenter and "segment" not in _worker:
        _worker["segment"] = load_segmenter(segmenter)
    # With a segmenter the builder packs `id * 2 + begins-a-word` (specials stand alone), so each
    # token's word start travels with it through the example builder's cuts.
    word = 2 if segmenter else 1
    builder = ExampleBuilder(settings["seq_len"], ids.cls * word + word - 1,
                             ids.sep * word + word - 1, ids.pad * word + word - 1, rng)  # fmt: skip
    shard = Path(out) / f"shard-{index:05d}.bin"
    sources, tokens, unknown = [], 0, 0
    words = (
        ShardWriter(shard.with_suffix(WORDS_SUFFIX), words_width(settings["seq_len"]), np.uint8)
        if segmenter
        else contextlib.nullcontext()
    )
    with ShardWriter(shard, settings["seq_len"], np.dtype(settings["dtype"])) as writer, words:

        def flush() -> int:
            nonlocal tokens, unknown
            rows = builder.take()  # (N, seq_len)
            if segmenter:
                words.write(pack_word_starts(rows & 1))
                rows = rows >> 1
            writer.write(rows)
            tokens += int((rows != ids.pad).sum())
            unknown += int((rows == ids.unk).sum())
            _add(_worker["examples"], len(rows))
            return len(rows)

        for path, start, end, piece_bytes in pieces:
            stats, examples, reported = ReadStats(), 0, 0
            reading = Reading(settings["text_field"], settings["skip_bad_records"])
            for lines in read_blocks(Path(path), start, end, stats, reading):
                encodings = iter(
                    tokenizer.encode_batch([ln for ln in lines if ln], add_special_tokens=False)
                )
                for line in lines:
                    if line and segmenter:
                        encoding = next(encodings)
                        begins = token_word_starts(line, encoding.offsets, _worker["segment"](line))
                        builder.add_line(
                            [2 * i + b for i, b in zip(encoding.ids, begins, strict=True)]
                        )
                    elif line:
                        builder.add_line(next(encodings).ids)
                    elif line is None or settings["blanks_separate_docs"]:
                        builder.end_document()
                examples += flush()
                if splittable(Path(path)):
                    _add(_worker["bytes"], stats.text_bytes - reported)
                    reported = stats.text_bytes
            builder.end_document()  # a file (or range) boundary ends the document
            examples += flush()
            if not splittable(Path(path)):
                _add(_worker["bytes"], piece_bytes)
            sources.append(
                {
                    "path": path,
                    "text_bytes": stats.text_bytes,
                    "lines": stats.lines,
                    "invalid_bytes": stats.invalid_bytes,
                    "records": stats.records,
                    "skipped_records": stats.skipped_records,
                    "examples": examples,
                }
            )
    record = {
        "key": key,
        "examples": writer.rows,
        "tokens": tokens,
        "unknown": unknown,
        "sources": sources,
    }
    write_json(shard.with_suffix(".json"), record)


# --- The whole job ------------------------------------------------------------------------------


def _load_record(
    shard_json: Path, key: str, seq_len: int, itemsize: int, words: bool
) -> dict | None:
    """A finished unit's record, or None when it is absent, stale or its shard (or its word
    starts, when `words`) damaged."""
    try:
        record = json.loads(shard_json.read_text(encoding="utf-8"))
        expected = record["examples"] * seq_len * itemsize
        intact = shard_json.with_suffix(".bin").stat().st_size == expected
        if words:
            size = shard_json.with_suffix(WORDS_SUFFIX).stat().st_size
            intact &= size == record["examples"] * words_width(seq_len)
        if record["key"] == key and intact:
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _run_units(
    jobs: list, out: Path, workers: int, total: int, initial: int, progress: bool
) -> None:
    """Build the units on `workers` processes, with a progress bar of MB/s and examples."""
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    done_bytes, done_examples = context.Value("q", 0), context.Value("q", 0)
    init_args = (str(out), done_bytes, done_examples, workers > 1)
    bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True, disable=not progress)
    finished = 0

    def show() -> None:
        bar.set_description(f"prepare: {finished}/{len(jobs)} shards", refresh=False)
        bar.set_postfix_str(f"{done_examples.value:,} examples", refresh=False)
        bar.update(initial + done_bytes.value - bar.n)

    try:
        if workers == 1:
            _init_worker(*init_args)
            _worker["refresh"] = show
            while finished < len(jobs):
                _build_unit(jobs[finished])
                finished += 1
                show()
            return
        pool = ProcessPoolExecutor(workers, context, _init_worker, init_args)
        try:
            pending = {pool.submit(_build_unit, job) for job in jobs}
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        future.result()  # a worker's UserError surfaces here, as raised
                    except BrokenProcessPool:
                        raise UserError(
                            "prepare: a worker process died (killed, or out of memory?); run the "
                            "same command again to resume, perhaps with fewer workers or a smaller "
                            "shard_mb"
                        ) from None
                    finished += 1
                show()
        except BaseException:  # an error, Ctrl-C: no worker outlives the job
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    finally:
        _worker.pop("refresh", None)
        bar.close()


UNKNOWN_WARN = 0.01  # a share of [UNK] tokens above this says the vocabulary misses the corpus


@dataclass
class Prepared:
    manifest: dict
    seconds: float  # spent building shards in this run
    built_bytes: int  # text bytes tokenized in this run (the rest came from finished shards)
    reused_shards: int

    def describe(self, out: str | Path) -> str:
        m = self.manifest
        fill = m["num_tokens"] / max(1, m["num_examples"] * m["seq_len"])
        lines = [f"{out}: {m['num_examples']:,} examples of {m['seq_len']} tokens "
                 f"({m['num_tokens']:,} tokens, {fill:.0%} filled) "
                 f"in {len(m['shards'])} shards from {len(m['sources'])} files"]  # fmt: skip
        if self.built_bytes:
            mb = self.built_bytes / 1e6
            reused = f"; reused {self.reused_shards} finished shards" if self.reused_shards else ""
            lines.append(f"built {mb:.1f} MB of text in {self.seconds:.1f} s "
                         f"({mb / max(self.seconds, 1e-9):.2f} MB/s){reused}")  # fmt: skip
        else:
            lines.append("already complete: nothing to do")
        if "num_unknown" in m:
            share = m["num_unknown"] / max(1, m["num_tokens"])
            warn = (
                " (warning: above 1%; does the vocabulary fit this corpus?)"
                if share > UNKNOWN_WARN
                else ""
            )
            lines.append(f"[UNK]: {share:.2%} of the tokens ({m['num_unknown']:,}){warn}")
        if m.get("skipped_records"):
            lines.append(
                f"skipped {m['skipped_records']:,} malformed records (counted in the manifest)"
            )
        damaged = [s for s in m["sources"] if s["invalid_bytes"]]
        if damaged:
            listed = ", ".join(f"{s['path']} ({s['invalid_bytes']})" for s in damaged[:5])
            more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
            lines.append(
                f"replaced {m['invalid_bytes']:,} invalid UTF-8 byte sequences: {listed}{more}"
            )
        return "\n".join(lines)


@one_writer("out")
def prepare(
    corpus: Sequence[str],
    vocab: str | Path,
    out: str | Path,
    seq_len: int = 128,
    seed: int = 0,
    workers: int = 2,
    shard_mb: float = 8.0,
    blanks_separate_docs: bool = True,
    reading: Reading | None = None,
    default_corpus: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    strip_accents: bool = False,
    word_segmenter: str = "none",
) -> Prepared:
    """Tokenize and pack `corpus` (files, directories, globs) into shards under `out`.
    Re-running after an interruption finishes the job; re-running a finished job does nothing.
    With `blanks_separate_docs=False` (the official builder's option) blank lines are skipped and
    a document ends only with its file (or record), for text such as books whose paragraphs are
    separated by blank lines. `reading` says where records keep their text. A vocabulary whose
    accent stripping would damage a script other than Latin, Greek or Cyrillic in the corpus is
    refused unless `strip_accents` accepts it. `word_segmenter` records, beside each shard, which
    tokens begin a word of the segmenter's (for whole-word masking of text without spaces)."""
    PrepareConfig(seq_len, seed, workers, shard_mb, blanks_separate_docs, word_segmenter,
                  strip_accents)  # fmt: skip
    if word_segmenter != "none":
        load_segmenter(word_segmenter)  # installed? before any work
    reading = reading or Reading()
    out = writable_dir(out)
    tokenizer = load_tokenizer(vocab)  # refuses a vocabulary that lists a token twice
    settings = {
        "seq_len": seq_len,
        "seed": seed,
        "vocab_sha256": vocab_sha256(tokenizer),
        "lowercase": is_lowercase(tokenizer),
        "strip_accents": strips_accents(tokenizer),
        "dtype": token_dtype(tokenizer.get_vocab_size()).name,
        "shard_mb": shard_mb,
        "blanks_separate_docs": blanks_separate_docs,
        "text_field": reading.text_field,
        "skip_bad_records": reading.skip_bad_records,
        "builder_version": BUILDER_VERSION,  # shards of an older builder are rebuilt, not reused
    }
    # recorded only when set, so that sets prepared before these options existed still match
    if (form := Normalization.of(tokenizer).form) != "none":
        settings["normalize"] = form
    if word_segmenter != "none":
        settings["word_segmenter"] = word_segmenter
    files = _corpus_files(corpus, default_corpus, out, reading)
    sizes = {str(p): p.stat().st_size for p in files}
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file() and not overwrite and _same_job(manifest_path, settings, sizes):
        return Prepared(json.loads(manifest_path.read_text(encoding="utf-8")), 0.0, 0, 0)
    _check_accent_stripping(vocab, tokenizer, files, reading, strip_accents)  # before any removal
    if manifest_path.is_file():
        if not overwrite:
            raise UserError(
                f"{out}: already holds a set prepared from other settings or files; "
                "pass `overwrite` to replace it, or choose another `out`"
            )
        manifest_path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    save_tokenizer(tokenizer, out)  # beside the shards, where the workers read it

    units = plan_units(files, int(shard_mb * 1e6))
    for old in out.iterdir():  # left by an interrupted or a different run
        number = SHARD_NAME.fullmatch(old.name)
        if old.suffix == ".tmp" or (number and int(number[1]) >= len(units)):
            old.unlink()
    keys = [_unit_key(settings, i, pieces) for i, pieces in enumerate(units)]
    itemsize = np.dtype(settings["dtype"]).itemsize

    def record(i: int) -> dict | None:
        return _load_record(out / f"shard-{i:05d}.json", keys[i], seq_len, itemsize,
                            word_segmenter != "none")  # fmt: skip

    todo = [i for i in range(len(units)) if overwrite or record(i) is None]
    jobs = [(i, units[i], keys[i], str(out), settings) for i in todo]
    built = sum(piece[3] for i in todo for piece in units[i])
    started = time.perf_counter()
    total = sum(piece[3] for unit in units for piece in unit)
    workers = min(workers, len(jobs) or 1)
    _run_units(jobs, out, workers, total, total - built, progress)
    seconds = time.perf_counter() - started
    records = [record(i) for i in range(len(units))]
    assert all(records), "a unit finished without its record"
    manifest = _write_manifest(out, tokenizer, settings, sizes, records)
    return Prepared(manifest, seconds, built, len(units) - len(todo))


def _check_accent_stripping(
    vocab: str | Path, tokenizer: Tokenizer, files: Sequence[Path], reading: Reading, accepted: bool
) -> None:
    if not strips_accents(tokenizer):
        return
    found = stripping_damage(sample(files, reading), is_lowercase(tokenizer))
    damaged = found.damaged()
    if damaged and not accepted:
        raise UserError(f"{vocab}: its normalisation strips accents, which would change "
                        f"{found.describe(damaged[0])} of the corpus; learn a vocabulary that "
                        "keeps them (electra vocab --no-strip-accents), or pass --strip-accents "
                        "to accept it")  # fmt: skip
    if damaged:
        print(f"electra: warning: the vocabulary's accent stripping changes "
              f"{found.describe(damaged[0])}", file=sys.stderr)  # fmt: skip


def _corpus_files(
    corpus: Sequence[str], default_corpus: bool, out: Path, reading: Reading
) -> list[Path]:
    """The corpus's files, checked to be text, without any inside `out` (an output folder inside
    a corpus folder holds our vocab.txt: never read our own output as text)."""
    files = [default_corpus_file()] if default_corpus else find_files(corpus)
    files = [p for p in files if out.resolve() not in p.resolve().parents]
    if not files:
        raise UserError(f"{out}: the corpus given is only this output directory's own files")
    for path in files:
        check(path, reading)
    if not any(p.stat().st_size for p in files):
        raise UserError(f"the corpus is empty: {len(files)} file(s) of 0 bytes, e.g. {files[0]}")
    return files


def _same_job(manifest_path: Path, settings: dict, sizes: dict[str, int]) -> bool:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        sources = {s["path"]: s["bytes"] for s in manifest["sources"]}
    except (ValueError, KeyError, TypeError):
        return False
    return sources == sizes and all(manifest.get(k) == v for k, v in settings.items())


_COUNTS = ("text_bytes", "lines", "invalid_bytes", "records", "skipped_records", "examples")


def _write_manifest(
    out: Path, tokenizer, settings: dict, sizes: dict[str, int], records: list[dict]
) -> dict:
    """Sum the units' records per source file and write the manifest, whose presence marks the
    set complete."""
    sources = {
        path: {
            "path": path,
            "bytes": size,
            **dict.fromkeys(_COUNTS, 0),
        }
        for path, size in sizes.items()
    }
    for rec in records:
        for piece in rec["sources"]:
            for field in _COUNTS:
                sources[piece["path"]][field] += piece.get(field, 0)
    num_examples = sum(r["examples"] for r in records)
    if not num_examples:
        raise UserError(
            f"the corpus is empty: no text in {len(sizes)} file(s), e.g. {next(iter(sizes))}"
        )
    ids = SpecialIds.of(tokenizer)
    return write_manifest(
        out,
        settings["seq_len"],
        np.dtype(settings["dtype"]),
        tokenizer.get_vocab_size(),
        [(f"shard-{i:05d}.bin", r["examples"]) for i, r in enumerate(records)],
        **{k: v for k, v in settings.items() if k not in ("seq_len", "dtype")},
        special_ids={
            "pad": ids.pad,
            "unk": ids.unk,
            "cls": ids.cls,
            "sep": ids.sep,
            "mask": ids.mask,
        },
        num_tokens=sum(r["tokens"] for r in records),
        num_unknown=sum(r.get("unknown", 0) for r in records),
        invalid_bytes=sum(s["invalid_bytes"] for s in sources.values()),
        skipped_records=sum(s["skipped_records"] for s in sources.values()),
        sources=list(sources.values()),
    )
