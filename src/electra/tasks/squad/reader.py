"""SQuAD-format JSON (1.1 and 2.0) as examples, every field checked with its place named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from electra.data.formats import dataset_records, is_dataset
from electra.errors import UserError


@dataclass
class Example:
    qid: str
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (text, character start)
    is_impossible: bool = False


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None


def _typed(obj: dict, key: str, kind: type, where: str, problems: list[str]) -> Any:
    """`obj[key]` when it has type `kind` (a bool is no int here), else None and a problem noted."""
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        found = "missing" if value is None else f"a {type(value).__name__}"
        problems.append(f"{where}: {key!r} is {found}, expected a {kind.__name__}")
        return None
    return value


def _is_object(value: Any, where: str, keys: str, problems: list[str]) -> bool:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object with {keys}")
    return isinstance(value, dict)


def _read_answers(
    qa: dict, qid: str, context: str, check_offsets: bool, problems: list[str]
) -> list[tuple[str, int]]:
    answers = []
    for k, answer in enumerate(qa.get("answers") or []):
        where = f"question {qid} answer {k}"
        if not _is_object(answer, where, "'text' and 'answer_start'", problems):
            continue
        text = _typed(answer, "text", str, where, problems)
        if not check_offsets:  # scoring reads only the texts, as the official scripts do
            if text is not None:
                answers.append((text, -1))
            continue
        start = _typed(answer, "answer_start", int, where, problems)
        if text is None or start is None:
            continue
        found = context[start : start + len(text)] if start >= 0 else ""
        if not text.strip() or found != text:
            problems.append(
                f"question {qid}: answer_start {start} does not match the answer {text!r} "
                f"(the context there reads {found!r})"
            )
            continue
        answers.append((text, start))
    return answers


def parse_squad(
    dataset: Any, source: str, need_answers: bool = True, check_offsets: bool = True
) -> list[Example]:
    """Validate a loaded SQuAD JSON object; every problem is collected, then raised as one line.

    `need_answers` (training and scoring) requires each question to have answers or, in SQuAD 2.0,
    `is_impossible: true`; prediction-only files may leave answers out. `check_offsets` requires
    each answer's `answer_start` to point at its text in the context (training needs it).
    """
    data = dataset.get("data") if isinstance(dataset, dict) else None
    if not isinstance(data, list):
        raise UserError(f"{source}: expected a JSON object with a 'data' list (the SQuAD format)")
    examples, problems, seen = [], [], set()
    for a, article in enumerate(data):
        if not _is_object(article, f"data[{a}]", "'paragraphs'", problems):
            continue
        paragraphs = _typed(article, "paragraphs", list, f"data[{a}]", problems)
        for p, paragraph in enumerate(paragraphs or []):
            where = f"data[{a}].paragraphs[{p}]"
            if not _is_object(paragraph, where, "'context' and 'qas'", problems):
                continue
            context = _typed(paragraph, "context", str, where, problems)
            qas = _typed(paragraph, "qas", list, where, problems)
            for q, qa in enumerate(qas or []):
                if not _is_object(qa, f"{where}.qas[{q}]", "'id' and 'question'", problems):
                    continue
                qid = _typed(qa, "id", str, f"{where}.qas[{q}]", problems)
                if qid is None:
                    continue
                if qid in seen:  # predictions and scores are keyed by id: one would be lost
                    problems.append(f"question {qid}: the id appears twice ({where}.qas[{q}])")
                    continue
                seen.add(qid)
                question = _typed(qa, "question", str, f"question {qid}", problems)
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    problems.append(
                        f"question {qid}: 'is_impossible' is {impossible!r}, expected true or false"
                    )
                    continue
                if "answers" in qa and not isinstance(qa["answers"], list):
                    problems.append(f"question {qid}: 'answers' is not a list")
                    continue
                if context is None or question is None:
                    continue
                answers = _read_answers(qa, qid, context, check_offsets, problems)
                if impossible and answers:
                    problems.append(f"question {qid}: is_impossible is true but it has answers")
                elif need_answers and not impossible and not qa.get("answers"):
                    problems.append(
                        f"question {qid}: no answers (expected at least one, or is_impossible: true)"
                    )
                examples.append(Example(qid, question, context, answers, impossible))
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise UserError(f"{source}: {problems[0]}{more}")
    if not examples:
        raise UserError(f"{source}: no questions found")
    return examples


def load_squad(
    path: str | Path, need_answers: bool = True, check_offsets: bool = True
) -> tuple[Any, list[Example]]:
    """(the raw JSON, its validated examples) of a SQuAD-format file, or of a `datasets` folder
    or hub split in the hub's SQuAD layout (put back into the file's)."""
    dataset = from_records(path) if is_dataset(path) else read_json(path)
    return dataset, parse_squad(dataset, str(path), need_answers, check_offsets)


def from_records(path: str | Path) -> dict[str, Any]:
    """The hub's SQuAD rows (`id`, `title`, `context`, `question`, `answers: {text: [...],
    answer_start: [...]}`) as a SQuAD file: consecutive rows of one context make one paragraph; a
    question without answers makes it SQuAD 2.0 (`is_impossible`)."""
    articles: dict[str, dict[str, Any]] = {}
    version = "1.1"
    for number, row in enumerate(dataset_records(path), 1):
        answers = row.get("answers") or {}
        if not isinstance(answers, dict) or not all(
            k in row for k in ("id", "context", "question")
        ):
            raise UserError(f"{path}:{number}: expected the hub's SQuAD fields id, context, "
                            f"question, answers (found {', '.join(row)})")  # fmt: skip
        texts, starts = answers.get("text") or [], answers.get("answer_start") or []
        qa = {"id": str(row["id"]), "question": row["question"],
              "answers": [{"text": t, "answer_start": a} for t, a in zip(texts, starts, strict=True)]}  # fmt: skip
        if not texts:
            qa["is_impossible"], version = True, "2.0"
        article = articles.setdefault(
            str(row.get("title", "")), {"title": row.get("title", ""), "paragraphs": []}
        )
        paragraphs = article["paragraphs"]
        if not paragraphs or paragraphs[-1]["context"] != row["context"]:
            paragraphs.append({"context": row["context"], "qas": []})
        paragraphs[-1]["qas"].append(qa)
    return {"version": version, "data": list(articles.values())}
