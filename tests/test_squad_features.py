"""SQuAD reading, sliding-window features and n-best decoding, on the shared dev set and edge cases."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from electra.errors import UserError
from electra.tasks.squad import SquadConfig
from electra.tasks.squad.decoding import Beams, decode
from electra.tasks.squad.features import _word_spans, build_features
from electra.tasks.squad.reader import Example, load_squad, parse_squad
from electra.tasks.windows import most_context, stride_windows
from electra.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer


@functools.cache
def _dev_and_tokenizer(path: Path):
    dataset, examples = load_squad(path)
    return (dataset, examples), train_tokenizer((e.context for e in examples[::5]), vocab_size=1500)


@pytest.fixture
def dev(shared_data):
    return _dev_and_tokenizer(shared_data / "squad" / "dev-v1.1.json")[0]


@pytest.fixture
def tokenizer(shared_data):
    return _dev_and_tokenizer(shared_data / "squad" / "dev-v1.1.json")[1]


def recovered(example: Example, features, row: int, start: int, end: int) -> str:
    return example.context[features.offsets[row, start, 0] : features.offsets[row, end, 1]]


def test_every_answer_is_recoverable_from_its_windows(dev, tokenizer) -> None:
    """Short windows and stride: many answers sit at or across window edges."""
    _, examples = dev
    examples = examples[:1500]
    config = SquadConfig(doc_stride=32, max_query_length=32)
    features = build_features(examples, tokenizer, config, 128, training=True)
    assert len(features) > 2 * len(examples)  # most contexts need several windows
    found: dict[int, int] = {}  # example -> its first window holding the answer
    for row in np.flatnonzero(features.start_positions > 0):
        start, end = features.start_positions[row], features.end_positions[row]
        assert features.token_type_ids[row, start] == 1 and start <= end
        found.setdefault(int(features.example_index[row]), int(row))
    assert sorted(found) == list(range(len(examples)))  # no answer lost
    for e, row in found.items():
        answer, first = examples[e].answers[0]
        start, end = features.start_positions[row], features.end_positions[row]
        text = recovered(examples[e], features, row, start, end)
        on_token_edges = (
            first in features.offsets[row, :, 0]
            and first + len(answer) in features.offsets[row, :, 1]
        )
        # Exact unless the answer begins or ends inside a word piece (e.g. "8" of "18"); then
        # the smallest span of whole tokens around it.
        assert text == answer if on_token_edges else answer in text, (answer, text)
    # Windows without their answer point at [CLS], yet are labelled answerable, as the official
    # code labels them: answerability belongs to the question, not the window.
    missing = features.start_positions == 0
    assert missing.any() and not features.end_positions[missing].any()
    assert not features.is_impossible.any()


def test_windows_cover_every_token_and_pick_max_context() -> None:
    assert stride_windows(10, 4, 2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert stride_windows(10, 4, 6) == [(0, 4), (4, 8), (8, 10)]  # the stride never skips tokens
    assert stride_windows(3, 8, 2) == [(0, 3)]
    assert stride_windows(0, 8, 2) == [(0, 0)]
    best = most_context([(0, 4), (2, 6), (4, 8), (6, 10)], 10)
    # Token 2 is an edge of window 0 and of window 1 (score 0 + 0.04 each; the first wins);
    # token 3 has one token on each side only in window 1.
    assert best.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_answer_at_window_edges_and_long_contexts(tokenizer) -> None:
    words = [f"w{i}" for i in range(300)]
    context = " ".join(words)
    last = len(context) - len(words[-1])
    examples = [
        Example("end", "where ends", context, [(words[-1], last)]),
        Example("start", "where starts", context, [(words[0], 0)]),
        Example("across", "spans", context, [(" ".join(words[95:105]), context.index("w95 "))]),
    ]
    config = SquadConfig(doc_stride=16, max_query_length=8)
    features = build_features(examples, tokenizer, config, 48, training=True)
    for e, example in enumerate(examples):
        rows = np.flatnonzero((features.example_index == e) & (features.start_positions > 0))
        assert len(rows) >= 1
        for row in rows:
            text = recovered(
                example, features, row, features.start_positions[row], features.end_positions[row]
            )
            assert text == example.answers[0][0]


def test_unicode_and_whitespace_oddities(tokenizer) -> None:
    context = "Ｔｈｅ  café\u00a0au lait\u200b costs\t\t3 €,\n naïve Zoë's   İstanbul 東京タワー."
    answers = ["café\u00a0au lait", "3 €", "naïve", "Zoë", "İstanbul", "東京", "タワー"]
    examples = [
        Example(str(i), "what?", context, [(a, context.index(a))]) for i, a in enumerate(answers)
    ]
    features = build_features(examples, tokenizer, SquadConfig(), 128, training=True)
    assert len(features) == len(examples)
    for row, example in enumerate(examples):
        text = recovered(
            example, features, row, features.start_positions[row], features.end_positions[row]
        )
        assert text == example.answers[0][0]


def _squad(qas: list[dict], context: str = "The cat sat on the mat.") -> dict:
    return {
        "version": "1.1",
        "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}],
    }


@pytest.mark.parametrize(
    ("qas", "message"),
    [
        (
            [{"id": "q1", "question": "?", "answers": [{"text": "cat", "answer_start": 3}]}],
            "question q1: answer_start 3 does not match the answer 'cat' (the context there reads ' ca')",
        ),
        ([{"id": "q2", "answers": []}], "question q2: 'question' is missing, expected a str"),
        (
            [{"question": "?", "answers": []}],
            "data[0].paragraphs[0].qas[0]: 'id' is missing",
        ),
        ([{"id": "q3", "question": "?", "answers": []}], "question q3: no answers"),
        (
            [{"id": "q4", "question": "?", "answers": [{"text": "cat", "answer_start": "4"}]}],
            "question q4 answer 0: 'answer_start' is a str, expected a int",
        ),
        (
            [{"id": "q5", "question": "?", "is_impossible": "no", "answers": []}],
            "question q5: 'is_impossible' is 'no'",
        ),
    ],
)
def test_bad_input_names_the_question(qas, message) -> None:
    with pytest.raises(UserError, match="^" + re.escape(f"src: {message}")):
        parse_squad(_squad(qas), "src")


def test_bad_files_and_problem_counts(tmp_path) -> None:
    for text, message in (
        ("[1, 2]", "expected a JSON object with a 'data' list"),
        ("{", "not valid JSON"),
    ):
        (tmp_path / "bad.json").write_text(text, encoding="utf-8")
        with pytest.raises(UserError, match=message):
            load_squad(tmp_path / "bad.json")
    with pytest.raises(UserError, match="no such file"):
        load_squad(tmp_path / "absent.json")
    two_bad = [{"id": f"q{i}", "question": "?", "answers": []} for i in range(2)]
    with pytest.raises(UserError, match=r"question q0: no answers .*\(and 1 more problems\)"):
        parse_squad(_squad(two_bad), "src")
    # Prediction-only files may leave answers out; SQuAD 2.0 questions may be impossible.
    assert len(parse_squad(_squad(two_bad), "src", need_answers=False)) == 2
    impossible = [{"id": "q", "question": "?", "answers": [], "is_impossible": True}]
    assert parse_squad(_squad(impossible), "src")[0].is_impossible


def _one_window(tokenizer, context: str, question: str = "which?"):
    example = Example("q", question, context)
    features = build_features(
        [example], tokenizer, SquadConfig(max_query_length=16), 64, training=False
    )
    assert len(features) == 1
    return example, features


def _logits(
    features, start: dict[int, float], end: dict[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Logits of one window: -10 everywhere but the positions given."""
    s = np.full(features.input_ids.shape, -10.0, np.float32)
    e = np.full(features.input_ids.shape, -10.0, np.float32)
    for i, v in start.items():
        s[0, i] = v
    for i, v in end.items():
        e[0, i] = v
    return s, e


def test_decode_maps_the_best_valid_span_to_the_original_text(tokenizer) -> None:
    context = "Denver  Broncos beat the Carolina Panthers 24–10 in Santa Clara."
    example, features = _one_window(tokenizer, context)
    offsets = features.offsets[0]
    first = int(np.flatnonzero(offsets[:, 0] >= 0)[0])  # first context token
    starts = {a: i for i, a in enumerate(offsets[:, 0].tolist()) if a >= 0}
    ends = {b: i for i, b in enumerate(offsets[:, 1].tolist()) if b >= 0}
    denver, santa = starts[0], starts[context.index("Santa")]
    broncos, clara = ends[context.index(" beat")], ends[context.index(".")]
    panthers = ends[context.index(" 24")]
    # Highest start in the question (never valid), best valid span "Denver  Broncos".
    start, end = _logits(features, {1: 9.0, denver: 5.0, santa: 1.0}, {broncos: 4.0, clara: 3.0})
    answer = decode([example], features, start, end, None, SquadConfig(), version_2=False)["q"]
    assert first == denver and answer.text == "Denver  Broncos" and answer.score == 9.0
    assert answer.null_odds is None
    # An end before its start, or a span over max_answer_length tokens, is never chosen.
    start, end = _logits(features, {santa: 5.0, denver: 1.0}, {panthers: 6.0, clara: 0.5})
    short = SquadConfig(max_answer_length=clara - santa + 1)
    assert panthers - denver > clara - santa
    assert decode([example], features, start, end, None, short, False)["q"].text == "Santa Clara"


def test_decode_null_odds_for_squad_2(tokenizer) -> None:
    context = "Paris is the capital of France."
    example, features = _one_window(tokenizer, context)
    paris = int(np.flatnonzero(features.offsets[0, :, 0] == 0)[0])
    paris_end = int(np.flatnonzero(features.offsets[0, :, 1] == len("Paris"))[0])
    start, end = _logits(features, {0: 3.0, paris: 2.0}, {0: 3.0, paris_end: 2.0})
    config = SquadConfig()
    # Without a classifier: best [CLS] score minus best span score (6 - 4 = 2). The best span's
    # text is kept, as the official code keeps it; the threshold decides when it is used.
    answer = decode([example], features, start, end, None, config, version_2=True)["q"]
    assert (answer.text, answer.null_odds) == ("Paris", 2.0)
    assert answer.answer(0.0) == "" and answer.answer(2.5) == "Paris"
    # With the answerability classifier the odds are its smallest logit over the windows.
    answer = decode([example], features, start, end, np.array([-1.5]), config, True)["q"]
    assert (answer.text, answer.null_odds) == ("Paris", -1.5)
    assert answer.answer(config.null_threshold) == ""  # -1.5 > the official -2.75


def test_decode_beams_scores_spans_by_summed_log_probabilities(tokenizer) -> None:
    """The joint head's beam: each start carries its own ends; invalid pairs (a start at [CLS] or
    in the question, an end before its start) are dropped, as official `write_predictions` does."""
    context = "Denver  Broncos beat the Carolina Panthers 24–10 in Santa Clara."
    example, features = _one_window(tokenizer, context)
    starts = {a: i for i, a in enumerate(features.offsets[0, :, 0].tolist()) if a >= 0}
    ends = {b: i for i, b in enumerate(features.offsets[0, :, 1].tolist()) if b >= 0}
    denver, santa = starts[0], starts[context.index("Santa")]
    broncos, clara = ends[context.index(" beat")], ends[context.index(".")]
    log = np.log
    beams = Beams(
        start_log_probs=np.array([[log(0.5), log(0.3), log(0.25)]], np.float32),
        start_index=np.array([[0, santa, denver]]),
        end_log_probs=np.array(
            [
                [
                    [log(0.9), log(0.1), log(0.1)],
                    [log(0.6), log(0.4), log(0.1)],
                    [log(0.9), log(0.1), log(0.1)],
                ]
            ],
            np.float32,
        ),  # fmt: skip
        end_index=np.array([[[broncos, clara, 1], [clara, broncos, 1], [broncos, clara, 1]]]),
    )
    # [CLS] is never a span; Santa->Clara scores 0.3 * 0.6 = 0.18 < Denver->Broncos 0.25 * 0.9.
    answer = decode([example], features, beams, None, None, SquadConfig(), version_2=False)["q"]
    assert answer.text == "Denver  Broncos"
    assert answer.score == pytest.approx(log(0.25 * 0.9), abs=1e-6)
    # Its probability among the n-best: the softmax of the valid spans' summed log-probabilities
    # (Denver->Broncos, Santa->Clara, Denver->Clara), as official `nbest_predictions` gives it.
    assert answer.probability == pytest.approx(0.225 / (0.225 + 0.18 + 0.025), rel=1e-5)
    beams.end_log_probs[0, 1, 0] = log(0.95)  # now Santa->Clara: 0.285
    assert decode([example], features, beams, None, None, SquadConfig(), False)["q"].text == (
        "Santa Clara"
    )


def test_decode_joins_windows_and_uses_max_context(dev, tokenizer) -> None:
    _, examples = dev
    example = max(examples[:300], key=lambda e: len(e.context))
    config = SquadConfig(doc_stride=16, max_query_length=16)
    features = build_features([example], tokenizer, config, 64, training=False)
    assert len(features) >= 3
    # Every context token is the max-context token of exactly one window.
    per_char = {}
    for row in range(len(features)):
        for (a, b), best in zip(features.offsets[row], features.max_context[row], strict=True):
            if a >= 0 and best:
                assert (a, b) not in per_char
                per_char[(a, b)] = row
    assert len(per_char) == len(tokenizer.encode(example.context, add_special_tokens=False).ids)
    # Put the best span in the last window: decoding must find it there.
    row = len(features) - 1
    position = int(np.flatnonzero(features.max_context[row])[-1])
    start = np.zeros(features.input_ids.shape, np.float32)
    end = np.zeros_like(start)
    start[row, position] = end[row, position] = 10.0
    answer = decode([example], features, start, end, None, config, False)[example.qid]
    a, b = features.word_offsets[row, position]  # the whole word holding that token
    assert answer.text == example.context[a:b]
    assert answer.text.endswith(example.context[slice(*features.offsets[row, position])])


# ----------------------------------------------------------------------- whole-word answers

# A fixed vocabulary, so which words are cut into pieces is known: wash ##ington, found ##ed,
# zo ##e (Zoë, accent stripped by the normaliser), naive (naïve), and punctuation on its own.
PIECES = [
    *SPECIAL_TOKENS,
    *"wash ##ington was found ##ed in 1850 , near zo ##e ' s cafe . naive which ?".split(),
]


@pytest.fixture
def pieces(tmp_path):
    (tmp_path / "vocab.txt").write_text("".join(f"{t}\n" for t in PIECES), encoding="utf-8")
    return load_tokenizer(tmp_path / "vocab.txt")


_CONTEXT = "Washington was founded in 1850, near Zoë's café."


def _answer(tokenizer, first: str, last: str, context: str = _CONTEXT) -> str:
    """Decode a span peaked on the context tokens whose texts are `first` and `last`."""
    example, features = _one_window(tokenizer, context)
    texts = {context[a:b]: i for i, (a, b) in enumerate(features.offsets[0].tolist()) if a >= 0}
    start, end = _logits(features, {texts[first]: 5.0}, {texts[last]: 5.0})
    return decode([example], features, start, end, None, SquadConfig(), version_2=False)["q"].text


def test_answers_grow_to_whole_words(pieces) -> None:
    tokens = pieces.encode(_CONTEXT, add_special_tokens=False).tokens
    assert tokens[:5] == ["wash", "##ington", "was", "found", "##ed"]
    assert tokens[-6:] == ["zo", "##e", "'", "s", "cafe", "."]
    # A span starting (and ending) on a continuation piece answers the whole word.
    assert _answer(pieces, "ington", "ington") == "Washington"
    assert _answer(pieces, "ington", "was") == "Washington was"
    # A span ending inside a word ("found" of "founded") runs to the word's end.
    assert _answer(pieces, "was", "found") == "was founded"
    assert _answer(pieces, "ed", "1850") == "founded in 1850"
    # Punctuation is a word of its own: never added, kept when the span covers it.
    assert _answer(pieces, "1850", "1850") == "1850"
    assert _answer(pieces, "in", "1850") == "in 1850"
    assert _answer(pieces, "1850", ",") == "1850,"
    assert _answer(pieces, "Zo", "ë") == "Zoë"  # not "Zoë's"
    assert _answer(pieces, "ë", "s") == "Zoë's"
    # Accented text is cut from the original string at the right characters.
    assert _answer(pieces, "café", "café") == "café"
    assert _answer(pieces, "near", "café") == "near Zoë's café"


def test_an_answer_can_be_the_whole_context(pieces) -> None:
    assert _answer(pieces, "Wash", ".") == _CONTEXT
    assert _answer(pieces, "ington", ".") == _CONTEXT
    # Surrounding whitespace is no word and stays out; inner odd whitespace is kept as written.
    context = " \tnaïve\u00a0Zoë \n"
    assert _answer(pieces, "naïve", "ë", context) == "naïve\u00a0Zoë"


def test_a_word_cut_by_a_window_edge_is_answered_whole(pieces) -> None:
    context = "in in Washington"
    example = Example("q", "which ?", context)
    config = SquadConfig(doc_stride=3, max_query_length=2)
    features = build_features([example], pieces, config, 8, training=False)
    # 3 context tokens per window: [in in wash] and [##ington], which only the second holds.
    assert len(features) == 2 and features.offsets[1, 4].tolist() == [10, 16]
    assert features.word_offsets[1, 4].tolist() == [6, 16]
    start = np.full(features.input_ids.shape, -10.0, np.float32)
    end = start.copy()
    start[1, 4] = end[1, 4] = 5.0
    assert decode([example], features, start, end, None, config, False)["q"].text == "Washington"


@pytest.mark.parametrize(
    ("answer", "labelled", "decoded"),
    [
        ("Washington", "Washington", "Washington"),
        ("ington", "ington", "Washington"),  # starts on a piece edge inside a word: that piece
        ("found", "found", "founded"),  # ends on a piece edge inside a word
        ("ashingto", "Washington", "Washington"),  # inside pieces: the fewest pieces around it
        ("1850", "1850", "1850"),  # the comma after it is not labelled
        ("1850,", "1850,", "1850,"),
        ("Zoë", "Zoë", "Zoë"),
        ("café", "café", "café"),
        (_CONTEXT, _CONTEXT, _CONTEXT),
    ],
)
def test_training_labels_cover_exactly_the_gold_characters(
    pieces, answer, labelled, decoded
) -> None:
    example = Example("q", "which ?", _CONTEXT, [(answer, _CONTEXT.index(answer))])
    config = SquadConfig(max_query_length=16)
    features = build_features([example], pieces, config, 64, training=True)
    first, last = int(features.start_positions[0]), int(features.end_positions[0])
    assert first > 0 and features.token_type_ids[0, first] == 1
    assert recovered(example, features, 0, first, last) == labelled
    # Decoding the labels answers whole words, so a gold fragment of a word comes back whole.
    start, end = _logits(features, {first: 5.0}, {last: 5.0})
    assert decode([example], features, start, end, None, config, False)["q"].text == decoded


def test_word_spans_group_the_pieces_of_each_word() -> None:
    offsets = np.array([[0, 4], [4, 10], [11, 15], [15, 16], [17, 18]])
    spans = _word_spans(offsets, [0, 0, 1, 2, None])
    assert spans.tolist() == [[0, 10], [0, 10], [11, 15], [15, 16], [17, 18]]
    assert _word_spans(offsets[:0], []).shape == (0, 2)


def test_v2_data_reads(shared_data, tmp_path) -> None:
    raw = json.loads((shared_data / "squad" / "dev-v1.1.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(raw["data"][:1])
    qa = data[0]["paragraphs"][0]["qas"][0]
    qa.update(is_impossible=True, plausible_answers=qa["answers"], answers=[])
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    _, examples = load_squad(path)
    assert examples[0].is_impossible and not examples[0].answers
    assert not examples[1].is_impossible


def test_scoring_reads_answer_texts_only() -> None:
    shifted = [{"id": "q", "question": "?", "answers": [{"text": "cat", "answer_start": 9}]}]
    with pytest.raises(UserError, match="answer_start 9 does not match"):
        parse_squad(_squad(shifted), "src")
    (example,) = parse_squad(_squad(shifted), "src", check_offsets=False)
    assert example.answers == [("cat", -1)]
