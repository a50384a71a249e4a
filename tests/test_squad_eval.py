"""SQuAD scoring against hand-checked cases of the official v1.1 and v2.0 definitions."""

from __future__ import annotations

import copy
import json

import pytest

from electra.cli import main
from electra.errors import UserError
from electra.tasks.squad.scoring import (
    detect_version,
    evaluate_v1,
    evaluate_v2,
    exact,
    f1_v1,
    f1_v2,
    normalize_answer,
)


def squad(*questions: tuple[str, list[str]]) -> list[dict]:
    """A one-paragraph SQuAD `data` list: (id, gold answer texts) per question."""
    qas = [
        {"id": qid, "question": "?", "answers": [{"text": g, "answer_start": 0} for g in golds]}
        for qid, golds in questions
    ]
    return [{"title": "t", "paragraphs": [{"context": "x", "qas": qas}]}]


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Quick, Brown Fox!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("theater Anna", "theater anna"),  # articles only as whole words
        ("the-end", "theend"),  # punctuation goes first, so no article is left to remove
        ("A.B", "ab"),
        ("(the) answer", "answer"),
        ("  Multiple\t\nspaces ", "multiple spaces"),
        ("“Café” naïve", "“café” naïve"),  # only ASCII punctuation is removed; accents stay
        ("théâtre the", "théâtre"),
        ("", ""),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def test_exact_and_f1_by_hand() -> None:
    assert exact("Denver Broncos!", "the denver  broncos") == 1
    assert exact("Broncos", "Denver Broncos") == 0
    # [cat, sat] vs [cat, sat, down]: precision 1, recall 2/3
    assert f1_v1("the cat sat", "a cat sat down") == 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    # bags, not sets: {x: 2, y: 1} & {x: 1, y: 2} share 2 of 3 tokens each way
    assert f1_v1("x x y", "x y y") == pytest.approx(2 / 3, abs=0)
    assert f1_v1("x", "y") == 0


def test_empty_answers_differ_between_versions() -> None:
    # v1.1: no shared token means 0, even when both sides are empty.
    assert f1_v1("", "") == 0
    assert exact("the", "a") == 1  # both normalise to ""
    # v2.0: an empty side scores 1 only against another empty side ("no answer").
    assert f1_v2("", "") == 1
    assert f1_v2("the", "") == 1
    assert f1_v2("cat", "") == 0
    assert f1_v2("", "cat") == 0


def test_evaluate_v1_percentages_max_over_golds_and_unanswered() -> None:
    data = squad(
        ("q1", ["Denver Broncos", "the Denver Broncos"]),
        ("q2", ["Carolina Panthers", "Panthers"]),
        ("q3", ["Santa Clara"]),
    )
    result = evaluate_v1(data, {"q1": "denver broncos!", "q2": "the panthers team"})
    # q1 exact; q2 best gold "Panthers": precision 1/2, recall 1; q3 unanswered scores 0 of 3.
    assert result == {
        "exact_match": 100.0 * 1 / 3,
        "f1": 100.0 * (1 + 2 * 0.5 * 1.0 / 1.5) / 3,
    }
    assert list(result) == ["exact_match", "f1"]


V2_DATA = squad(
    ("q1", ["Denver"]),
    ("q2", ["Paris France", "Paris"]),
    ("q3", []),
    ("q4", []),
    ("q5", ["the"]),  # answerable by its list, but the gold normalises to "" so only "" matches
)
V2_PREDICTIONS = {"q1": "Denver", "q2": "Paris", "q3": "", "q4": "London", "q5": ""}
V2_ODDS = {"q1": 0.1, "q2": 0.9, "q3": 0.8, "q4": 0.3, "q5": 0.5}


def test_evaluate_v2_splits_and_best_thresholds() -> None:
    result = evaluate_v2(V2_DATA, V2_PREDICTIONS, V2_ODDS)
    # Sweep: start at 2 (the unanswerable q3, q4); q1 +1 -> 3 (best, 0.1); q4 answered "London" -1
    # -> 2; q5 +1 -> 3 (not above 3); q3 "" +0; q2 +1 -> 4 (best, 0.9). 4 of 5.
    assert result == {
        "exact": 80.0,
        "f1": 80.0,
        "total": 5,
        "HasAns_exact": 100.0,
        "HasAns_f1": 100.0,
        "HasAns_total": 3,
        "NoAns_exact": 50.0,
        "NoAns_f1": 50.0,
        "NoAns_total": 2,
        "best_exact": 80.0,
        "best_exact_thresh": 0.9,
        "best_f1": 80.0,
        "best_f1_thresh": 0.9,
    }
    assert list(result)[:3] == ["exact", "f1", "total"]


def test_evaluate_v2_threshold_flips_to_no_answer() -> None:
    # Above 0.4: q2 (0.9) and q5 (0.5) become "no answer" on answerable questions (0),
    # q3 (0.8) on an unanswerable one (1). Left: q1 1, q4 0.
    result = evaluate_v2(V2_DATA, V2_PREDICTIONS, V2_ODDS, na_prob_thresh=0.4)
    assert (result["exact"], result["HasAns_exact"], result["NoAns_exact"]) == (
        40.0,
        100.0 / 3,
        50.0,
    )
    # Without odds nothing flips and no best_* keys appear.
    plain = evaluate_v2(V2_DATA, V2_PREDICTIONS)
    assert plain["exact"] == 80.0 and "best_exact" not in plain


def test_best_threshold_ties_keep_the_odds_file_order() -> None:
    data = squad(("has", ["cat"]), ("none", []))
    predictions = {"has": "cat", "none": "dog"}
    # Equal odds: the stable sort keeps the file's order, and only a strict gain moves the best.
    first_has = evaluate_v2(data, predictions, {"has": 0.5, "none": 0.5})
    assert (first_has["best_exact"], first_has["best_exact_thresh"]) == (100.0, 0.5)
    first_none = evaluate_v2(data, predictions, {"none": 0.5, "has": 0.5})
    assert (first_none["best_exact"], first_none["best_exact_thresh"]) == (50.0, 0.0)


def test_best_f1_uses_partial_credit() -> None:
    data = squad(("a", ["red big cat"]), ("b", []))
    result = evaluate_v2(data, {"a": "big cat", "b": ""}, {"a": 0.2, "b": 0.7})
    f1_a = 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    assert result["f1"] == 100.0 * (f1_a + 1) / 2
    assert (result["best_f1"], result["best_f1_thresh"]) == (100.0 * (1 + f1_a) / 2, 0.2)


def test_v2_needs_every_prediction_and_odds() -> None:
    with pytest.raises(UserError, match="lack 1 of 5 questions .first: q5"):
        evaluate_v2(V2_DATA, {k: v for k, v in V2_PREDICTIONS.items() if k != "q5"})
    with pytest.raises(UserError, match="null odds lack 1 questions"):
        evaluate_v2(V2_DATA, V2_PREDICTIONS, {k: v for k, v in V2_ODDS.items() if k != "q1"})
    with pytest.raises(UserError, match="question q1 is not a string"):
        evaluate_v1(V2_DATA, {"q1": 3})
    with pytest.raises(UserError, match="question q3 has no gold answer"):
        evaluate_v1(V2_DATA, V2_PREDICTIONS)


def test_detect_version() -> None:
    assert detect_version({"version": "1.1", "data": []}) == "1.1"
    assert detect_version({"version": "v2.0", "data": []}) == "2.0"
    impossible = squad(("q", []))
    impossible[0]["paragraphs"][0]["qas"][0]["is_impossible"] = True
    assert detect_version({"data": impossible}) == "2.0"


def _write(path, data) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_cli_prints_the_official_formats(tmp_path, capsys) -> None:
    golds = {"version": "v2.0", "data": copy.deepcopy(V2_DATA)}
    for qa in golds["data"][0]["paragraphs"][0]["qas"]:
        qa["answers"] = [{"text": "x", "answer_start": 0}] if qa["answers"] else []
        qa["is_impossible"] = not qa["answers"]
    data = _write(tmp_path / "dev.json", golds)
    preds = _write(tmp_path / "pred.json", {"q1": "x", "q2": "", "q3": "", "q4": "y", "q5": "x"})
    odds = _write(tmp_path / "odds.json", V2_ODDS)
    assert (
        main(["evaluate", "squad", "--data", data, "--predictions", preds, "--na-probs", odds]) == 0
    )
    out = capsys.readouterr().out
    # the official script's percentages as fractions, the scale of every score we print
    assert out.startswith('{\n  "exact": 0.6,\n  "f1": 0.6,\n  "total": 5,\n  "HasAns_exact"')
    # q1, q3, q5 right; the sweep peaks at 3 of 5 first at q1's odds.
    assert (json.loads(out)["best_exact"], json.loads(out)["best_exact_thresh"]) == (0.6, 0.1)

    v1 = _write(tmp_path / "v1.json", {"version": "1.1", "data": squad(("a", ["x"]), ("b", ["x"]))})
    assert main(["evaluate", "squad", "--data", v1, "--predictions", preds]) == 0
    captured = capsys.readouterr()
    assert captured.out == '{"exact_match": 0.0, "f1": 0.0}\n'
    assert "2 questions have no prediction" in captured.err


def test_cli_bad_inputs_are_one_line(tmp_path, capsys) -> None:
    data = _write(tmp_path / "dev.json", {"version": "v2.0", "data": V2_DATA})
    partial = _write(tmp_path / "pred.json", {"q1": "Denver"})
    listed = _write(tmp_path / "list.json", ["Denver"])
    for argv in (
        ["--data", data, "--predictions", partial],
        ["--data", data, "--predictions", listed],
        ["--data", str(tmp_path / "absent.json"), "--predictions", partial],
        ["--data", partial, "--predictions", partial],
    ):
        assert main(["evaluate", "squad", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("electra: error: ") and err.count("\n") == 1, err


def test_best_thresholds_agree_with_scoring_at_every_threshold() -> None:
    """The official v2.0 script reports `exact`/`f1` at one threshold and `best_*` from a sweep
    over all of them: on files like ours (the best span's text for every question, logit null
    odds of either sign), the sweep's best equals the best of the scores at every threshold, and
    scoring at the reported threshold gives it back."""
    import random

    rng = random.Random(7)
    words = ["red", "blue", "the cat", "a dog", "green"]
    for _ in range(30):
        questions, predictions, odds = [], {}, {}
        for i in range(rng.randint(2, 12)):
            golds = [] if rng.random() < 0.4 else rng.sample(words, rng.randint(1, 2))
            questions.append((f"q{i}", golds))
            predictions[f"q{i}"] = " ".join(rng.sample(words, rng.randint(1, 2)))
            odds[f"q{i}"] = rng.uniform(-6, 4)  # distinct: every cut is a threshold
        data = squad(*questions)
        result = evaluate_v2(data, predictions, odds)
        no_answer = 100.0 * sum(not golds for _, golds in questions) / len(questions)
        for key in ("exact", "f1"):
            at = {
                t: evaluate_v2(data, predictions, odds, na_prob_thresh=t)[key]
                for t in odds.values()
            }
            best = max(no_answer, *at.values())
            assert result[f"best_{key}"] == pytest.approx(best)
            if result[f"best_{key}"] > no_answer + 1e-9:
                assert at[result[f"best_{key}_thresh"]] == pytest.approx(best)
