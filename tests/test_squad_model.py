"""SQuAD's joint start/end head against a transcription of the official `qa_tasks.py`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra.backbones.models import EncoderOnly
from electra.tasks.squad.model import build_model, squad_loss
from electra.tasks.squad.options import SquadConfig


def official_end_logits(model, hidden, start, answer_mask):
    """`final_repr = dense(concat([start_features, end_features]), 512, gelu)`, then
    `dense(1)`, plus 1000 * (answer_mask - 1): the end logits given one start per example."""
    head = model.joint
    start_features = hidden[torch.arange(len(hidden)), start][:, None].expand_as(hidden)
    final = torch.cat([start_features, hidden], -1)
    final = F.gelu(F.linear(final, head.end_hidden.weight, head.end_hidden.bias))
    return F.linear(final, head.end.weight, head.end.bias).squeeze(-1) + 1000.0 * (answer_mask - 1)


def _inputs(length: int = 24):
    ids = torch.randint(5, 99, (3, length))
    types = (torch.arange(length) >= 7).long().expand(3, -1).clone()
    mask = torch.ones(3, length, dtype=torch.long)
    mask[1, 18:] = 0  # a padded row
    answer_mask = (mask * types).float()
    answer_mask[:, 0] = 1
    return ids, types, mask, answer_mask


def test_joint_head_trains_on_the_gold_start_and_beams_as_the_official_code(tiny_config):
    torch.manual_seed(0)
    model = build_model(EncoderOnly(tiny_config), SquadConfig(beam_size=5))
    model.eval()
    ids, types, mask, answer_mask = _inputs()
    gold_start = torch.tensor([9, 0, 12])
    with torch.no_grad():
        hidden = model.electra(ids, mask.bool(), types)
        start, end, null = model(ids, mask.bool(), types, start_positions=gold_start)
        expected = official_end_logits(model, hidden, gold_start, answer_mask)
        inside = answer_mask.bool()
        torch.testing.assert_close(end[inside], expected[inside], rtol=1e-5, atol=1e-5)
        assert (end[~inside] < -1000).all() and (start[~inside] < -1000).all()

        # Prediction: the 5 likeliest starts, and for each the 5 likeliest ends given it.
        start_lp, start_index, end_lp, end_index, null_again = model(ids, mask.bool(), types)
        torch.testing.assert_close(null_again, null)
        full = start.log_softmax(-1)
        torch.testing.assert_close(start_lp, full.topk(5).values)
        for k in range(5):
            given = official_end_logits(model, hidden, start_index[:, k], answer_mask)
            top = given.log_softmax(-1).topk(5)
            torch.testing.assert_close(end_lp[:, k], top.values, rtol=1e-4, atol=1e-4)
            assert torch.equal(end_index[:, k], top.indices)


def test_joint_loss_reaches_the_joint_head_and_the_answerability_head(tiny_config):
    model = build_model(EncoderOnly(tiny_config), SquadConfig())
    ids, types, mask, _ = _inputs()
    batch = {
        "start_positions": torch.tensor([9, 0, 12]),
        "end_positions": torch.tensor([11, 0, 12]),
        "is_impossible": torch.tensor([0.0, 1.0, 0.0]),
    }
    outputs = model(ids, mask.bool(), types, start_positions=batch["start_positions"])
    squad_loss(outputs, batch, answerable_weight=0.5).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert model.out is None  # no independent span layer to train
