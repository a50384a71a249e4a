"""What normalisation would do to each writing system of a corpus, measured before it is done.

BERT's uncased normalisation strips accents by removing every combining mark (Unicode category
Mn). For Latin, Greek and Cyrillic letters those are accents, and stripping them is what users of
an uncased model expect; in other scripts they are letters' vowel signs and voicing marks: `है`
becomes `ह` and `です` becomes `てす`. `damage` counts, per script, the characters a normaliser
changes or drops beyond lowercasing, on a sample of the corpus, so a vocabulary never learns (and
shards never hold) a damaged script unnoticed.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from electra.data.corpus import ReadStats
from electra.data.formats import read_blocks
from electra.data.options import Reading

ACCENTED_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})  # where stripping is expected
TRACE = 0.001  # a script losing more than this share of its characters is damaged
MIN_CHARACTERS = 20  # too few characters of a script to judge its damage
SAMPLE_LINES = 20_000  # lines of a corpus measured


def script(char: str) -> str | None:
    """The writing system of a letter or mark, from its Unicode name (`DEVANAGARI LETTER NA` ->
    DEVANAGARI, CJK ideographs -> CJK); None for what belongs to no script (digits, punctuation,
    spaces, and combining marks shared by scripts, which take their base letter's)."""
    if not unicodedata.category(char).startswith(("L", "M")):
        return None
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0]
    return None if first in ("", "COMBINING") else first


@dataclass
class Damage:
    """Per script: its characters in the sample, and those normalisation changed or dropped."""

    characters: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    def share(self, name: str) -> float:
        return self.changed.get(name, 0) / max(self.characters.get(name, 0), 1)

    def damaged(self) -> list[str]:
        """The scripts, other than Latin, Greek and Cyrillic, that lose more than a trace."""
        return sorted(
            (s for s, n in self.characters.items()
             if s not in ACCENTED_SCRIPTS and n >= MIN_CHARACTERS and self.share(s) > TRACE),
            key=self.share, reverse=True,
        )  # fmt: skip

    def describe(self, name: str) -> str:
        return (f"{100 * self.share(name):.1f}% of the {name.title()} characters "
                f"({self.changed[name]:,} of {self.characters[name]:,} in the sample)")  # fmt: skip


def damage(lines: Iterable[str], normalize: Callable[[str], str]) -> Damage:
    """What `normalize` does to each script of `lines`, beyond lowercasing: each word is compared
    (composed, NFC) with itself lowercased, and its changed or dropped characters are counted
    against its script (the script of most of its letters)."""
    result = Damage()
    for line in lines:
        for word in line.split():
            scripts = [s for s in map(script, word) if s is not None]
            if not scripts:
                continue
            name = max(set(scripts), key=scripts.count)
            before = unicodedata.normalize("NFC", word.lower())
            after = unicodedata.normalize("NFC", normalize(word))
            kept = sum(
                b.size for b in difflib.SequenceMatcher(None, before, after).get_matching_blocks()
            )
            result.characters[name] = result.characters.get(name, 0) + len(before)
            if kept < len(before):
                result.changed[name] = result.changed.get(name, 0) + len(before) - kept
    return result


def sample(files: Sequence[Path], reading: Reading, limit: int = SAMPLE_LINES) -> list[str]:
    """The corpus's first `limit` non-empty lines, read as `prepare` reads them."""
    lines: list[str] = []
    for path in files:
        for block in read_blocks(path, stats=ReadStats(), reading=reading):
            lines.extend(line for line in block if line)
            if len(lines) >= limit:
                return lines[:limit]
    return lines


def stripping_damage(lines: Iterable[str], lowercase: bool) -> Damage:
    """What stripping accents (BERT's uncased normalisation, with `lowercase`) does to `lines`."""
    from tokenizers import normalizers

    strip = normalizers.BertNormalizer(strip_accents=True, lowercase=lowercase)
    return damage(lines, strip.normalize_str)
