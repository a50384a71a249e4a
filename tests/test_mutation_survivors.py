"""Tests written from the survivors of the mutation exercise (`make mutation`; triage in
benchmarks/RESULTS.md): each pins a behaviour no other test checked."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from test_pretrain_objective import MODEL, SPECIAL, batch

from electra.backbones.electra.weights import config_from_hf
from electra.backbones.names import rename
from electra.pretraining.objectives.masking import choose_positions, word_starts_of
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import pack_rows


def test_rename_takes_the_longest_prefix_drops_and_reports_misses():
    table = {"a": "A", "a.b": "B", "a.gone": None, "layer.{}.x": "L{}"}
    assert rename("a.b.w", table) == (True, "B.w")  # not "A.b.w"
    assert rename("a.c", table) == (True, "A.c")
    assert rename("a.gone.w", table) == (True, None)  # matched, and dropped
    assert rename("other.w", table) == (False, None)
    assert rename("layer.3.x.bias", table) == (True, "L3.bias")


def test_a_config_json_without_optional_keys_takes_the_defaults():
    raw = {"vocab_size": 50, "hidden_size": 32, "num_attention_heads": 2, "pad_token_id": None}
    config = config_from_hf(raw)
    assert (config.vocab_size, config.hidden_size, config.num_heads) == (50, 32, 2)
    assert config.pad_token_id == 0 and config.num_layers == 12 and config.layer_norm_eps == 1e-12
    assert config_from_hf({**raw, "pad_token_id": 3}).pad_token_id == 3


def test_word_starts_come_from_the_segmenter_else_the_vocabulary_else_none():
    ids = torch.tensor([[0, 1, 2]])
    table = torch.tensor([True, False, True])
    given = torch.tensor([[True, True, False]])
    assert torch.equal(word_starts_of(ids, table, given), given)
    assert torch.equal(word_starts_of(ids, table, None), torch.tensor([[True, False, True]]))
    assert word_starts_of(ids, None, given) is None  # whole-word masking off


def test_a_short_row_still_gets_one_prediction():
    """round(3 x 0.15) = 0: the official count is at least 1."""
    ids = torch.tensor([[SPECIAL.cls, 7, 8, 9, SPECIAL.sep]])
    masked = choose_positions(ids, SPECIAL, 0.15, 4)
    assert int(masked.weights.sum()) == 1


def test_both_networks_see_the_packed_rows_positions_and_documents(monkeypatch):
    """Packed rows carry position and document ids (and padded rows a mask): the generator and
    the discriminator must both get them, or attention crosses examples."""
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL)
    inputs = pack_rows(batch(rows=4)["input_ids"].numpy(), SPECIAL)
    assert "document_ids" in inputs
    seen = []
    for network in (model.generator, model.discriminator):
        real = network.electra.forward

        def record(*args, _real=real, **kwargs):
            seen.append(inspect.signature(_real).bind(*args, **kwargs).arguments)
            return _real(*args, **kwargs)

        monkeypatch.setattr(network.electra, "forward", record)
    model(**inputs)
    assert len(seen) == 2
    for kwargs in seen:
        assert torch.equal(kwargs["position_ids"], inputs["position_ids"])
        assert torch.equal(kwargs["document_ids"], inputs["document_ids"])
        assert torch.equal(kwargs["token_type_ids"], inputs["token_type_ids"])
    padded = batch(rows=4)
    seen.clear()
    model(**padded)
    assert all(torch.equal(k["attention_mask"], padded["attention_mask"]) for k in seen)


def test_the_discriminator_accuracy_is_its_agreement_with_the_labels():
    torch.manual_seed(0)
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL).eval()
    inputs = batch(rows=8)
    out = model(**inputs)
    is_token = inputs["input_ids"] != SPECIAL.pad
    agree = ((out.disc_logits > 0) == out.is_replaced)[is_token].float().mean()
    torch.testing.assert_close(out.disc_acc, agree)


def test_the_compiled_projection_gives_what_the_blockwise_one_gives(monkeypatch):
    """Under torch.compile the projection is one `F.linear` (Inductor fuses it); eagerly it runs
    block by block. Both must give the same losses, accuracy and (cold) samples."""
    from electra.pretraining import vocabulary

    g = torch.Generator().manual_seed(0)
    features, weight = torch.randn(3, 5, 8, generator=g), torch.randn(30, 8, generator=g)
    bias, targets = torch.randn(30, generator=g), torch.randint(0, 30, (3, 5), generator=g)
    eager = vocabulary.vocabulary_output(features, weight, bias, targets, 1e-4)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    compiled = vocabulary.vocabulary_output(features, weight, bias, targets, 1e-4)
    torch.testing.assert_close(compiled.losses, eager.losses)
    assert torch.equal(compiled.correct, eager.correct) and compiled.correct.any()
    assert torch.equal(compiled.sampled, eager.sampled)
    assert compiled.losses.shape == targets.shape
    assert vocabulary.vocabulary_output(features, weight, bias, targets, None).sampled is None


@pytest.mark.parametrize("rows", [2, 1000])
def test_the_blockwise_projection_and_its_gradients_equal_cross_entropy(monkeypatch, rows):
    """Block by block (2 rows a block: many blocks, the last one short) or all at once, with a
    bias that is not zero: the losses, accuracy and the gradients of features, weight and bias
    are autograd's through `F.cross_entropy`."""
    from electra.pretraining import vocabulary

    monkeypatch.setattr(vocabulary, "block_rows", lambda vocab, device: rows)
    g = torch.Generator().manual_seed(1)
    features = torch.randn(7, 8, generator=g, requires_grad=True)
    weight = torch.randn(30, 8, generator=g, requires_grad=True)
    bias = torch.randn(30, generator=g, requires_grad=True)
    targets = torch.randint(0, 30, (7,), generator=g)
    scale = torch.rand(7, generator=g)  # a weighted sum, as the objective takes
    out = vocabulary.vocabulary_output(features, weight, bias, targets, None)
    (out.losses * scale).sum().backward()
    ours = [t.grad.clone() for t in (features, weight, bias)]
    for t in (features, weight, bias):
        t.grad = None
    logits = torch.nn.functional.linear(features, weight, bias)
    reference = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    (reference * scale).sum().backward()
    torch.testing.assert_close(out.losses, reference.detach())
    assert torch.equal(out.correct, logits.argmax(-1) == targets)
    for got, expected in zip(ours, (features.grad, weight.grad, bias.grad), strict=True):
        torch.testing.assert_close(got, expected)


def reference_decode(example, features, rows, start, end, config):
    """The independent head's answer as the official code picks it, written out plainly: the
    n_best_size likeliest starts (where the window has the token's most context) and ends in the
    context, every span start <= end no longer than max_answer_length scored start + end, the
    best distinct text first; null odds = the smallest [CLS] score over the windows minus the
    best span's score; the probability is the n-best softmax's first entry."""
    candidates, nulls = [], []
    for f in rows:
        context = features.offsets[f, :, 0] >= 0
        starts = [i for i in range(len(context)) if context[i] and features.max_context[f, i]]
        ends = [i for i in range(len(context)) if context[i]]
        starts = sorted(starts, key=lambda i: -start[f, i])[: config.n_best_size]
        ends = sorted(ends, key=lambda i: -end[f, i])[: config.n_best_size]
        for s in starts:
            for e in ends:
                if s <= e and e - s + 1 <= config.max_answer_length:
                    words = features.word_offsets[f]
                    text = example.context[words[s, 0] : words[e, 1]]
                    candidates.append((float(start[f, s] + end[f, e]), text))
        nulls.append(float(start[f, 0] + end[f, 0]))
    nbest = {}
    for score, text in sorted(candidates, key=lambda c: -c[0]):
        nbest.setdefault(text, score)
    if not nbest:
        return "", 0.0, min(nulls), None
    scores = list(nbest.values())[: config.n_best_size]
    best_text, best = next(iter(nbest.items()))
    probability = 1.0 / sum(math.exp(s - scores[0]) for s in scores)
    return best_text, best, min(nulls) - best, probability


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_independent_head_decoding_equals_the_plain_reference(assets, seed):
    from electra.tasks.squad.decoding import decode
    from electra.tasks.squad.features import build_features
    from electra.tasks.squad.options import SquadConfig
    from electra.tasks.squad.reader import load_squad
    from electra.tokenizer import train_tokenizer

    _, examples = load_squad(assets / "squad" / "dev-v2.0.json")
    examples = examples[:6]
    tokenizer = train_tokenizer([e.context for e in examples], 300)
    config = SquadConfig(doc_stride=8, max_query_length=8, max_answer_length=5, n_best_size=4)
    features = build_features(examples, tokenizer, config, 32, training=False)
    assert len(features.example_index) >= 2 * len(examples)  # overlapping windows: max context
    g = np.random.default_rng(seed)
    start, end = g.normal(size=features.input_ids.shape), g.normal(size=features.input_ids.shape)
    answers = decode(examples, features, start, end, None, config, version_2=True)
    for e, example in enumerate(examples):
        rows = [f for f, i in enumerate(features.example_index.tolist()) if i == e]
        assert len(rows) >= 1
        text, score, null_odds, probability = reference_decode(
            example, features, rows, start, end, config
        )
        got = answers[example.qid]
        assert (got.text, got.score) == (text, pytest.approx(score))
        assert got.null_odds == pytest.approx(null_odds)
        assert got.probability == (None if probability is None else pytest.approx(probability))
        threshold = null_odds - 0.5  # above it: no answer; below: the span
        assert got.answer(threshold) == "" and got.answer(null_odds + 0.5) == text


def test_tag_sets_are_spans_by_their_prefixes_and_pick_their_metric():
    from electra.tasks.tagging.scoring import are_spans, main_metric

    assert are_spans([["B-X", "I-X"], ["S-Y", "E-Y", "O"]])  # one-letter types, E- and S-
    assert not are_spans([["B-"]]) and not are_spans([["NN", "B-X"]])
    assert main_metric([["B-NP", "O"]]) == "f1" and main_metric([["NN"]]) == "accuracy"


def test_official_f1_adds_up_over_sentences_and_keeps_hyphenated_types():
    import random

    from electra.tasks.tagging.scoring import official_f1, official_spans

    assert official_spans(["B-GPE-LOC", "E-GPE-LOC"]) == {(0, 1, "GPE-LOC")}
    assert official_spans(["B-GPE-LOC", "B-GPE-LOC"]) == {(0, 0, "GPE-LOC"), (1, 1, "GPE-LOC")}
    assert official_spans(["S-NP"]) == {(0, 0, "NP")}
    rng = random.Random(0)
    tags = ["O", "B-NP", "I-NP", "E-NP", "S-NP", "B-VP", "E-VP", "S-VP"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 9))] for _ in range(40)]
    predicted = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in gold]
    correct = found = expected = 0
    for g, p in zip(gold, predicted, strict=True):  # the official scorer, counted by hand
        g_spans, p_spans = set(get_span_labels_official(g)), set(get_span_labels_official(p))
        correct, found, expected = (
            correct + len(g_spans & p_spans),
            found + len(p_spans),
            expected + len(g_spans),
        )
    reference = (
        2 * (correct / found) * (correct / expected) / (correct / found + correct / expected)
    )
    assert official_f1(gold, predicted) == pytest.approx(reference)
    assert official_f1([["O"]], [["O"]]) == 0.0  # nothing found, nothing right


def get_span_labels_official(sentence_tags):
    from test_official_finetune import get_span_labels

    return get_span_labels(sentence_tags)


def test_reports_count_what_was_never_predicted_as_zero():
    from sklearn.metrics import f1_score

    from electra.tasks.tagging.scoring import conlleval_report, score

    gold, predicted = [["NN", "VB", "NN"]], [["NN", "NN", "NN"]]  # VB never predicted
    assert score(gold, predicted)["macro_f1"] == pytest.approx(
        f1_score(gold[0], predicted[0], average="macro", zero_division=0)
    )
    report = conlleval_report(gold, predicted)
    assert "VB" in report and "0.0000" in report  # 0 where nothing was predicted
    assert "0.6667 " in report and "0.66667" not in report  # NN's precision, to 4 digits
    spans = conlleval_report([["B-NP", "O", "B-VP"]], [["B-NP", "O", "O"]])
    vp = next(line for line in spans.splitlines() if line.strip().startswith("VP:"))
    assert "precision:   0.00%; recall:   0.00%; FB1:   0.00  0" in vp


def _squad_windows(assets):
    from electra.tasks.squad.features import build_features
    from electra.tasks.squad.options import SquadConfig
    from electra.tasks.squad.reader import load_squad
    from electra.tokenizer import train_tokenizer

    _, examples = load_squad(assets / "squad" / "dev-v2.0.json")
    examples = examples[:4]
    tokenizer = train_tokenizer([e.context for e in examples], 300)
    config = SquadConfig(doc_stride=8, max_query_length=8, max_answer_length=5, n_best_size=4)
    return examples, build_features(examples, tokenizer, config, 32, training=False), config


def test_decoding_null_odds_come_from_the_answerability_head_and_only_for_2_0(assets):
    from electra.tasks.squad.decoding import decode

    examples, features, config = _squad_windows(assets)
    g = np.random.default_rng(0)
    start, end = g.normal(size=features.input_ids.shape), g.normal(size=features.input_ids.shape)
    null = g.normal(size=len(features.example_index))
    v2 = decode(examples, features, start, end, null, config, version_2=True)
    for e, example in enumerate(examples):
        rows = features.example_index == e
        assert v2[example.qid].null_odds == pytest.approx(float(null[rows].min()))  # no span term
    v1 = decode(examples, features, start, end, null, config, version_2=False)
    assert all(a.null_odds is None for a in v1.values())
    v1 = decode(examples, features, start, end, None, config, version_2=False)
    assert all(a.null_odds is None and a.answer(-1e9) == a.text for a in v1.values())


def test_a_question_without_windows_gets_an_empty_answer(assets):
    from electra.tasks.squad.decoding import Answer, decode

    examples, features, config = _squad_windows(assets)
    keep = features.example_index != 1  # question 1 lost every window
    from dataclasses import fields, replace

    features = replace(features, **{f.name: getattr(features, f.name)[keep]
                                    for f in fields(features)})  # fmt: skip
    start = np.zeros(features.input_ids.shape)
    answers = decode(examples, features, start, start, None, config, version_2=True)
    assert answers[examples[1].qid] == Answer("", 0.0, None, None)
    assert Answer("x", 1.0, 0.5).answer(0.5) == "x"  # "no answer" only when the odds exceed it


def test_the_joint_heads_span_score_is_the_sum_of_log_probabilities():
    from electra.tasks.squad.decoding import Beams
    from electra.tasks.squad.options import SquadConfig

    beams = Beams(np.array([[-0.1, -2.0]]), np.array([[1, 2]]),
                  np.array([[[-0.3, -1.0], [-0.5, -4.0]]]), np.array([[[2, 3], [2, 3]]]))  # fmt: skip
    ok = np.ones(5, dtype=bool)
    spans = beams.spans(0, ok, ok, SquadConfig(max_answer_length=5))
    assert sorted(spans) == sorted([(-0.4, 1, 2), (-1.1, 1, 3), (-2.5, 2, 2), (-6.0, 2, 3)])


def _squad(*qas):
    return [{"paragraphs": [{"context": "c", "qas": list(qas)}]}]


def test_v1_scoring_counts_every_question_and_skips_only_the_unanswered():
    from electra.tasks.squad.scoring import evaluate_v1

    data = _squad({"id": "a", "answers": [{"text": "x"}]}, {"id": "b", "answers": [{"text": "y"}]})
    assert evaluate_v1(data, {"b": "y"}) == {"exact_match": 50.0, "f1": 50.0}
    assert evaluate_v1(_squad({"id": "a", "answers": [{"text": "x"}]}), {"a": "x"})["f1"] == 100.0


def test_v2_scoring_defaults_thresholds_and_odds_checks():
    from electra.errors import UserError
    from electra.tasks.squad.scoring import evaluate_v2

    data = _squad({"id": "a", "answers": [{"text": "x"}]}, {"id": "b"})  # b: no "answers" key
    predictions = {"a": "x", "b": ""}
    assert evaluate_v2(data, predictions)["exact"] == 100.0
    assert evaluate_v2(data, predictions, na_prob_thresh=0.5)["exact"] == 100.0  # odds 0 < 0.5
    assert evaluate_v2(data, predictions, {"a": 1.5, "b": 0.0})["exact"] == 50.0  # 1.5 > 1.0
    swept = evaluate_v2(data, predictions, {"zz": -1.0, "a": 0.2, "b": 0.1})  # an extra id first
    assert swept["best_exact"] == 100.0 and swept["best_exact_thresh"] == 0.2
    for bad in ("high", True):
        with pytest.raises(UserError, match="not a number"):
            evaluate_v2(data, predictions, {"a": bad, "b": 0.0})


def test_the_squad_version_is_read_from_what_the_file_has():
    from electra.tasks.squad.scoring import detect_version

    assert detect_version({}) == "1.1"
    assert detect_version({"data": [{"title": "t"}, {"paragraphs": [{"context": "c"}]}]}) == "1.1"
    assert detect_version({"data": _squad({"id": "a", "is_impossible": True})}) == "2.0"
    assert detect_version({"version": "v2.0"}) == "2.0"


def test_per_tag_scores_are_zero_where_undefined_and_warn_nothing():
    import warnings

    from electra.tasks.tagging.scoring import conlleval_report, score

    gold, predicted = [["NN", "VB", "NN"]], [["NN", "NN", "NN"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score(gold, predicted)["macro_f1"] == pytest.approx(0.4)  # (0.8 + 0) / 2
        vb = next(line for line in conlleval_report(gold, predicted).splitlines() if "VB" in line)
        assert vb.split()[1:4] == ["0.0000", "0.0000", "0.0000"]
        nothing_found = score([["B-NP", "O"]], [["O", "O"]])
        assert nothing_found == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.5}
        nothing_there = score([["O", "O"]], [["B-NP", "O"]])
        assert (nothing_there["f1"], nothing_there["recall"]) == (0.0, 0.0)
        assert score([["O", "O"]], [["O", "O"]])["f1"] == 0.0  # no spans either side
        conlleval_report([["B-NP", "O"]], [["O", "O"]])


def test_a_scored_file_without_its_prediction_column_is_refused(tmp_path):
    from electra.errors import UserError
    from electra.tasks.tagging.scoring import read_scored

    path = tmp_path / "scored.txt"
    path.write_text("He PRP B-NP\nran VBD B-VP\n")
    with pytest.raises(UserError, match="share no tag"):
        read_scored(path)
    path.write_text("He PRP B-NP B-NP\nran VBD B-VP O\n")
    assert read_scored(path) == ([("B-NP", "B-VP")], [("B-NP", "O")])


def test_the_intended_layer_rule_reaches_the_optimizer():
    from electra.tasks.optimizer import build_optimizer, layer_lrs
    from electra.tasks.options import FinetuneConfig

    model = torch.nn.Module()
    model.electra = torch.nn.Module()
    model.electra.encoder = torch.nn.Module()
    model.electra.encoder.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(2)])
    config = FinetuneConfig(lr=1.0, layerwise_lr_decay=0.5, layerwise_rule="intended")
    rates = sorted({group["lr"] for group in build_optimizer(model, config).param_groups})
    assert rates == sorted(set(layer_lrs(model, 1.0, 0.5, "intended").values())) == [0.25, 0.5]


def test_unmapped_weights_are_named_and_a_broken_layer_spares_the_others():
    from electra.backbones.electra.weights import encoder_from_hf

    q = "encoder.layer.{}.attention.self.{}.weight"
    state = {q.format(0, "query"): torch.zeros(2, 2), q.format(0, "key"): torch.zeros(2, 2)}
    state |= {q.format(1, p): torch.ones(2, 2) for p in ("query", "key", "value")}
    state["stray.weight"] = torch.zeros(1)
    ours, unmapped = encoder_from_hf(state)
    assert ours["encoder.layers.1.attention.qkv.weight"].shape == (6, 2)
    assert sorted(unmapped) == sorted(["stray.weight", q.format(0, "query"), q.format(0, "key")])


def test_a_name_with_two_numbers_keeps_both():
    assert rename("a.3.b.7.w", {"a.{}.b.{}": "A{}B{}"}) == (True, "A3B7.w")


def test_gdes_embeddings_are_the_generators_plus_residuals_as_a_plain_module_computes_them():
    """E_D = sg(E_G) + delta for every table, the configured LayerNorm, given positions and token
    types used, the padding row untrained; `merged` is the same as plain `Embeddings`."""
    from dataclasses import replace

    config = replace(MODEL, layer_norm_eps=1e-3)
    model = ReplacedTokenDetection(config, PretrainConfig(embedding_sharing="gdes"), SPECIAL)
    gdes = model.discriminator.electra.embeddings
    shared = model.generator.electra.embeddings
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for delta in (gdes.word_delta, gdes.position_delta, gdes.token_type_delta):
            delta.copy_(torch.randn(delta.shape, generator=g) * 0.01)
    merged = gdes.merged(config).eval()
    torch.testing.assert_close(merged.word.weight, shared.word.weight + gdes.word_delta)
    torch.testing.assert_close(merged.position.weight, shared.position.weight + gdes.position_delta)
    torch.testing.assert_close(
        merged.token_type.weight, shared.token_type.weight + gdes.token_type_delta
    )
    gdes.eval()
    ids = torch.tensor([[2, 7, 8, 3, 0]])
    positions, types = torch.tensor([[0, 1, 0, 1, 2]]), torch.tensor([[0, 0, 1, 1, 0]])
    for kwargs in ({}, {"position_ids": positions}, {"token_type_ids": types}):
        torch.testing.assert_close(gdes(ids, **kwargs), merged(ids, **kwargs), rtol=0, atol=1e-6)
    assert not torch.allclose(gdes(ids, position_ids=positions), gdes(ids))
    (gdes(ids) * torch.randn(1, 5, config.embedding_size, generator=g)).sum().backward()
    assert gdes.word_delta.grad[SPECIAL.pad].abs().sum() == 0  # padding_idx: no gradient
    assert gdes.word_delta.grad[7].abs().sum() > 0


@pytest.mark.parametrize("sharing", ["shared", "gdes", "none"])
def test_every_sharing_exports_both_networks_and_saves_no_word_table(sharing):
    table = torch.zeros(MODEL.vocab_size, dtype=torch.bool)
    model = ReplacedTokenDetection(MODEL, PretrainConfig(embedding_sharing=sharing), SPECIAL, table)
    assert set(model.exported()) == {"discriminator", "generator"}
    assert "word_starts" not in model.state_dict()  # a run's checkpoint holds weights only


def test_the_objective_masks_by_the_vocabularys_word_starts_or_the_segmenters(monkeypatch):
    from electra.pretraining.objectives import rtd

    table = torch.arange(MODEL.vocab_size) % 2 == 0
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL, table)
    seen = []
    real = rtd.choose_positions
    monkeypatch.setattr(rtd, "choose_positions", lambda *a: seen.append(a[-1]) or real(*a))
    inputs = batch(rows=2)
    model(**inputs)
    assert torch.equal(seen[-1], table[inputs["input_ids"]])
    given = torch.rand(inputs["input_ids"].shape) < 0.5
    model(**inputs, word_starts=given)
    assert torch.equal(seen[-1], given)


def test_whole_word_masking_fills_the_budget_when_every_word_is_one_piece():
    ids = batch(rows=8)["input_ids"]
    plain = choose_positions(ids, SPECIAL, 0.15, 20)
    whole = choose_positions(ids, SPECIAL, 0.15, 20, torch.ones_like(ids, dtype=torch.bool))
    assert torch.equal(whole.weights.sum(1), plain.weights.sum(1))


def test_a_single_weight_mean_is_that_value():
    from electra.pretraining.objectives.masking import weighted_mean

    assert weighted_mean(torch.tensor([3.0, 5.0]), torch.tensor([False, True])) == 5.0


def test_eager_projection_runs_blockwise_with_boolean_accuracy(monkeypatch):
    from electra.pretraining import vocabulary

    calls = []
    real = vocabulary._Blockwise.apply
    monkeypatch.setattr(vocabulary._Blockwise, "apply", lambda *a: calls.append(1) or real(*a))
    features, weight = torch.randn(4, 8), torch.randn(30, 8)
    out = vocabulary.vocabulary_output(
        features, weight, torch.zeros(30), torch.zeros(4).long(), 1.0
    )
    assert calls and out.correct.dtype == torch.bool and out.sampled.dtype == torch.long


def test_blockwise_gradients_cover_more_rows_than_the_width(monkeypatch):
    """Rows (20) > features' width (4): every block of rows gets its gradient."""
    from electra.pretraining import vocabulary

    monkeypatch.setattr(vocabulary, "block_rows", lambda vocab, device: 3)
    features = torch.randn(20, 4, requires_grad=True)
    weight, bias, targets = torch.randn(9, 4), torch.zeros(9), torch.randint(0, 9, (20,))
    vocabulary.vocabulary_output(features, weight, bias, targets, None).losses.sum().backward()
    reference = features.detach().clone().requires_grad_()
    torch.nn.functional.cross_entropy(reference @ weight.T, targets, reduction="sum").backward()
    torch.testing.assert_close(features.grad, reference.grad)


def test_the_projection_under_cpu_autocast_matches_autograd_at_bf16_precision(monkeypatch):
    from electra.pretraining import vocabulary

    monkeypatch.setattr(vocabulary, "block_rows", lambda vocab, device: 4)
    g = torch.Generator().manual_seed(2)
    features = torch.randn(10, 16, generator=g, requires_grad=True)
    weight = torch.randn(40, 16, generator=g, requires_grad=True)
    bias, targets = torch.zeros(40, requires_grad=True), torch.randint(0, 40, (10,), generator=g)
    with torch.autocast("cpu", torch.bfloat16):
        vocabulary.vocabulary_output(features, weight, bias, targets, None).losses.sum().backward()
        ours = [t.grad.clone() for t in (features, weight, bias)]
        for t in (features, weight, bias):
            t.grad = None
        logits = torch.nn.functional.linear(features, weight, bias).float()
        torch.nn.functional.cross_entropy(logits, targets, reduction="sum").backward()
    for got, expected in zip(ours, (features.grad, weight.grad, bias.grad), strict=True):
        assert got.dtype == expected.dtype
        torch.testing.assert_close(got, expected, rtol=0.05, atol=0.05)
