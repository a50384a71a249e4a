"""Writes the suite's own small data, so that a clone without `../shared` tests everything but
the real-data checks. Run from the repository root: `python tests/assets/make_assets.py`.

- `corpus/{a,b,c}.txt`: ~200 KB of English prose, documents of the Python standard library's
  docstrings (PSF licence), one paragraph a line, a blank line between documents.
- `vocab.txt`: a lower-cased WordPiece vocabulary of 1,000 tokens learned from that corpus.
- `conll/{train,dev}.txt`: chunking in CoNLL-2000's layout (word, POS, BIO chunk), sentences
  generated from a small grammar, so the tags are right by construction.
- `squad/{train,dev}-v2.0.json`: SQuAD 2.0-format questions about generated biographies, a third
  of them unanswerable from their context.

The outputs are committed; the script documents how they were made and remakes them.
"""

from __future__ import annotations

import json
import random
import sysconfig
from pathlib import Path

from electra.data.corpus import default_corpus_documents
from electra.tokenizer import VOCAB_FILE, save_tokenizer, train_tokenizer

ASSETS = Path(__file__).resolve().parent
CORPUS_BYTES = 200_000
VOCAB_SIZE = 1000


def write_corpus() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documents = default_corpus_documents([stdlib / "json", stdlib / "email", stdlib / "logging",
                                          stdlib / "asyncio", stdlib / "importlib"])  # fmt: skip
    texts, size = [], 0
    for document in documents:
        if size >= CORPUS_BYTES:
            break
        texts.append("\n".join(document))
        size += len(texts[-1].encode("utf-8")) + 2
    third = len(texts) // 3
    (ASSETS / "corpus").mkdir(exist_ok=True)
    for name, part in zip(
        "abc", (texts[:third], texts[third : 2 * third], texts[2 * third :]), strict=True
    ):
        (ASSETS / "corpus" / f"{name}.txt").write_text("\n\n".join(part) + "\n", encoding="utf-8")
    return [line for text in texts for line in text.split("\n")]


def write_vocab(lines: list[str]) -> None:
    tokenizer = train_tokenizer(lines, VOCAB_SIZE)
    save_tokenizer(tokenizer, ASSETS / "tokenizer")
    (ASSETS / VOCAB_FILE).write_bytes((ASSETS / "tokenizer" / VOCAB_FILE).read_bytes())
    for path in (ASSETS / "tokenizer").iterdir():
        path.unlink()
    (ASSETS / "tokenizer").rmdir()


DETERMINERS = ("the", "a", "every", "this")
ADJECTIVES = ("small", "old", "quiet", "red", "clever", "busy", "distant", "famous")
NOUNS = ("dog", "river", "teacher", "market", "engine", "garden", "report", "village", "ship")
VERBS = ("saw", "built", "crossed", "painted", "found", "visited", "sold", "watched")
PREPOSITIONS = ("near", "behind", "under", "across", "beside")
NAMES = ("Anna", "Tomas", "Maria", "Kofi", "Lena", "Ravi", "Ines", "Oskar")


def noun_phrase(rng: random.Random) -> list[tuple[str, str, str]]:
    words = [(rng.choice(DETERMINERS), "DT")]
    if rng.random() < 0.5:
        words.append((rng.choice(ADJECTIVES), "JJ"))
    words.append((rng.choice(NOUNS), "NN"))
    return [(w, pos, ("B-NP" if i == 0 else "I-NP")) for i, (w, pos) in enumerate(words)]


def chunked_sentence(rng: random.Random) -> list[tuple[str, str, str]]:
    subject = [(rng.choice(NAMES), "NNP", "B-NP")] if rng.random() < 0.4 else noun_phrase(rng)
    sentence = [*subject, (rng.choice(VERBS), "VBD", "B-VP"), *noun_phrase(rng)]
    if rng.random() < 0.6:
        sentence += [(rng.choice(PREPOSITIONS), "IN", "B-PP"), *noun_phrase(rng)]
    return [*sentence, (".", ".", "O")]


def write_conll() -> None:
    rng = random.Random(0)
    (ASSETS / "conll").mkdir(exist_ok=True)
    for name, count in (("train", 160), ("dev", 40)):
        sentences = [chunked_sentence(rng) for _ in range(count)]
        text = "".join("".join(f"{w} {p} {t}\n" for w, p, t in s) + "\n" for s in sentences)
        (ASSETS / "conll" / f"{name}.txt").write_text(text, encoding="utf-8")


CITIES = ("Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Quebec", "Tbilisi", "Porto")
JOBS = ("a baker", "an engineer", "a painter", "a nurse", "a pilot", "a farmer")


def biography(rng: random.Random, index: int) -> dict:
    name, city, job = rng.choice(NAMES), rng.choice(CITIES), rng.choice(JOBS)
    year = rng.randrange(1900, 2000)
    context = (
        f"{name} was born in {city} in {year}. Later {name} worked as {job} for many years, "
        f"and friends from {city} still visit often."
    )
    facts = [("Where was {} born?", city), ("In which year was {} born?", str(year)),
             ("What did {} work as?", job)]  # fmt: skip
    questions = []
    for k, (template, answer) in enumerate(facts):
        question = {"id": f"q{index}-{k}", "question": template.format(name)}
        if rng.random() < 1 / 3:  # asked about somebody else: no answer here
            other = rng.choice([n for n in NAMES if n != name])
            question.update(question=template.format(other), answers=[], is_impossible=True)
        else:
            start = context.index(answer)
            question.update(answers=[{"text": answer, "answer_start": start}], is_impossible=False)
        questions.append(question)
    return {"context": context, "qas": questions}


def write_squad() -> None:
    rng = random.Random(0)
    (ASSETS / "squad").mkdir(exist_ok=True)
    for name, count in (("train", 60), ("dev", 20)):
        paragraphs = [biography(rng, i) for i in range(count)]
        data = {"version": "v2.0", "data": [{"title": "people", "paragraphs": paragraphs}]}
        (ASSETS / "squad" / f"{name}-v2.0.json").write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    write_vocab(write_corpus())
    write_conll()
    write_squad()
