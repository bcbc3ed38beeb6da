"""The LFADS A/B against an earlier commit: per-round ratios, the epoch estimate, equality."""

import pytest


def _code(step, valid, loss=0.5):
    return {
        "step_cpu_s": step,
        "valid_cpu_s": valid,
        "loss_after_steps": loss,
        "valid_loss": loss + 0.1,
        "weight_sum": 3.0,
    }


def test_ratios_are_per_round_medians_and_the_epoch_is_three_steps_and_a_validation(
    lfads_commit_ab,
):
    rounds = [
        {"baseline": _code([0.6, 0.5, 0.7], [0.2]), "current": _code([0.5, 0.4, 0.45], [0.1])},
        {"baseline": _code([0.66], [0.3, 0.3]), "current": _code([0.6], [0.2, 0.25])},
        {"baseline": _code([0.9], [0.2]), "current": _code([0.6], [0.2])},
    ]
    out = lfads_commit_ab.compare(rounds)
    # round step ratios 0.6 / 0.45, 0.66 / 0.6, 0.9 / 0.6 → median 1.333
    assert out["speedup"]["step"] == {"median": 1.333, "min": 1.1, "max": 1.5}
    assert out["speedup"]["valid"]["median"] == pytest.approx(1.333, abs=1e-3)
    # round 1 epoch: (3 · 0.6 + 0.2) / (3 · 0.45 + 0.1) = 2.0 / 1.45
    assert out["speedup"]["epoch"]["median"] == round(2.0 / 1.45, 3)
    assert out["speedup"]["epoch"]["max"] == round(2.9 / 2.0, 3)
    assert out["cpu_s_median"]["current"]["step"] == 0.6
    assert out["same_numbers"] is True
    rounds[2]["current"]["weight_sum"] = 3.0 + 2**-40
    assert lfads_commit_ab.compare(rounds)["same_numbers"] is False
