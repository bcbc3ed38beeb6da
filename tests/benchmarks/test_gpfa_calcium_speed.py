"""The calcium GPFA speed benchmark: the tuning rule and the paired interval over seeds."""

import numpy as np
import pytest
from scipy import stats


def _runs(module, elbos: dict[int, float], default: float = 9.0) -> list[dict]:
    """Tuning runs in grid order: index → final ELBO per bin, the rest ``default``."""
    return [
        {**setting, "final_elbo_per_bin": elbos.get(i, default)}
        for i, setting in enumerate(module.tune_grid())
    ]


def test_tuning_grid_starts_with_the_long_run(gpfa_calcium_speed):
    grid = gpfa_calcium_speed.tune_grid()
    assert grid[0] == gpfa_calcium_speed.TUNE_LONG
    assert len(grid) == 1 + 12
    assert {g["n_iter"] for g in grid[1:]} == {1000, 2000, 4000, 8000}


def test_selection_needs_every_seed_within_tolerance_of_its_best_fit(gpfa_calcium_speed):
    grid = gpfa_calcium_speed.tune_grid()
    cheap, dear = grid[3], grid[9]  # 0.1 × 1,000 steps and 0.1 × 4,000 steps
    assert (cheap["n_iter"], dear["n_iter"]) == (1000, 4000)
    # seed 1: the long run is best (10.0); both settings within 0.02 of it
    seed1 = _runs(gpfa_calcium_speed, {0: 10.0, 3: 9.99, 9: 9.985})
    select = gpfa_calcium_speed.select_setting
    assert select({1: seed1}) == {k: cheap[k] for k in ("learning_rate", "n_iter")}
    # seed 2: a grid setting is best (10.1), the cheap one is 0.05 below it: the dearer one wins
    seed2 = _runs(gpfa_calcium_speed, {0: 10.0, 3: 10.05, 9: 10.1})
    assert select({1: seed1, 2: seed2}) == {k: dear[k] for k in ("learning_rate", "n_iter")}
    # no setting within tolerance on every seed: nothing is selected
    assert select({1: seed1, 3: _runs(gpfa_calcium_speed, {0: 10.0})}) is None


def test_paired_interval_is_the_t_interval_of_the_mean(gpfa_calcium_speed):
    diffs = np.array([0.1, -0.3, 0.25, 0.05])
    low, high = gpfa_calcium_speed.paired_interval(diffs)
    half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2.0
    assert low == pytest.approx(diffs.mean() - half, abs=1e-12)
    assert high == pytest.approx(diffs.mean() + half, abs=1e-12)
    assert gpfa_calcium_speed.paired_interval(np.array([0.3])) is None


def test_tuning_check_reports_whether_each_method_uses_its_selection(
    gpfa_calcium_speed, tmp_path, monkeypatch
):
    """``spectral_tuned`` against the plain tuning file, ``spectral_centered`` against the
    centred one; a method whose file selects another setting is flagged."""
    module = gpfa_calcium_speed
    plain, centred = tmp_path / "plain.json", tmp_path / "centred.json"
    plain.write_text(
        module.json.dumps({"selected": module._setting(module.METHODS["spectral_tuned"])})
    )
    centred.write_text(module.json.dumps({"selected": {"learning_rate": 0.5, "n_iter": 7}}))
    monkeypatch.setattr(module, "TUNING", plain)
    monkeypatch.setattr(module, "TUNING_CENTERED", centred)
    monkeypatch.setitem(module.METHODS, "spectral_centered", {"learning_rate": 0.1, "n_iter": 1000})
    check = module.tuning_check()
    assert check["spectral_tuned"]["uses_it"] is True
    assert check["spectral_centered"] == {
        "file": "centred.json",
        "selected": {"learning_rate": 0.5, "n_iter": 7},
        "uses_it": False,
    }


def test_tuned_fits_use_the_spectral_prior_with_centring_only_when_asked(gpfa_calcium_speed):
    assert gpfa_calcium_speed.tune_prior(False) == {"gp_basis": "spectral"}
    assert gpfa_calcium_speed.tune_prior(True) == {"gp_basis": "spectral", "center_latents": True}
