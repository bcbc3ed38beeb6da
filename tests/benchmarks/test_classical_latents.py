"""The classical-latents benchmark: simulation overrides, seed summaries, parallel fits."""

import json

import numpy as np
import pytest


def test_overrides_take_the_type_of_the_simulator_default(classical_latents):
    params = classical_latents.parse_simulation_params(["mean_rate=0.05", "n_time=600"])
    assert params == {"mean_rate": 0.05, "n_time": 600}
    assert isinstance(params["n_time"], int)
    sim = classical_latents.GPFA_SIMULATIONS["gcamp6f"](seed=3, **params)
    assert sim.calcium.shape == (600, 30)
    # the override reaches the data: softplus(d) = 0.05 spikes / bin at the latents' zero
    np.testing.assert_allclose(np.log1p(np.exp(sim.offset)), 0.05, rtol=1e-12)
    default = classical_latents.GPFA_SIMULATIONS["gcamp6f"](seed=3, n_time=600)
    assert sim.spikes.mean() < 0.5 * default.spikes.mean()
    assert np.isfinite(sim.calcium).all()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["mean_rate"], "KEY=VALUE"),
        (["rate=0.1"], "unknown name 'rate'"),
        (["n_time=1.5"], "n_time needs a int"),
        (["seed=2"], "unknown name 'seed'"),
    ],
)
def test_bad_overrides_are_refused_by_name(classical_latents, items, message):
    with pytest.raises(SystemExit, match=message):
        classical_latents.parse_simulation_params(items)


def test_an_argument_of_the_other_simulator_is_refused(classical_latents, monkeypatch, capsys):
    argv = [
        "classical_latents.py",
        "--parts", "gpfa",
        "--gpfa-simulations", "ar2",
        "--gpfa-simulation-params", "half_saturation=3",
        "--tag", "x",
    ]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit):
        classical_latents.main()
    assert "the ar2 simulation has no argument ['half_saturation']" in capsys.readouterr().err


def test_seed_summary_groups_tagged_runs_with_their_untagged_seed(classical_latents):
    def run(r2_a, r2_b, **extra):
        return {"models": {"a": {"latent_r2": r2_a}, "b": {"latent_r2": r2_b}}, **extra}

    gpfa = {
        "ar2": run(0.9, 0.8),  # a single seed: no summary
        "low": run(0.5, 0.1),  # older entry without a seed field: seed 0
        "low_seed1": run(0.7, 0.2),
        "low_seed2": {"models": {"a": {"latent_r2": 0.6}}, "seed": 2},  # only model a
    }
    summary = classical_latents.summarise_seeds(gpfa)
    assert list(summary) == ["low"]
    assert summary["low"]["seeds"] == [0, 1, 2]
    assert list(summary["low"]["latent_r2"]) == ["a"]  # b is missing in seed 2
    a = summary["low"]["latent_r2"]["a"]
    assert a["per_seed"] == [0.5, 0.7, 0.6]
    assert a["mean"] == pytest.approx(0.6)
    assert a["sd"] == pytest.approx(0.1)  # sample s.d. of 0.5, 0.7, 0.6


def test_parallel_fits_equal_serial_fits(classical_latents):
    """--jobs 2 fits the variants in worker processes; every fit is seeded on its own, so the
    numbers equal those of the one-process run."""
    kwargs = {
        "seed": 4,
        "gaussian_iter": 3,
        "variational_iter": 4,
        "segment_length": 100,
        "simulation": "gcamp6f",
        "models": ["calcium_ar2", "gaussian", "poisson_oasis"],
        "elephant": False,
        "simulation_params": {"n_time": 400},
    }
    serial = classical_latents.run_gpfa(**kwargs, jobs=1)["models"]
    parallel = classical_latents.run_gpfa(**kwargs, jobs=2)["models"]
    assert list(parallel) == ["calcium_ar2", "gaussian", "poisson_oasis"]
    for name, entry in serial.items():
        assert parallel[name]["latent_r2"] == pytest.approx(entry["latent_r2"], abs=1e-9)
        assert parallel[name]["iterations"] == (3 if name == "gaussian" else 4)
        assert parallel[name]["input"] == entry["input"]


def _entry(**r2):
    return {"seed": 0, "models": {m: {"latent_r2": v} for m, v in r2.items()}}


def test_runs_writing_to_one_file_keep_each_others_fits(classical_latents):
    merge = classical_latents.merge_results
    stored = {"gpfa": {"ar2": _entry(gaussian=0.9)}, "hmm": {"x": 1}, "total_time_s": 5.0}
    # two runs started from the same file, one fitting AR(2), the other AR(1), on a new tag
    first = {"gpfa": {"ar2_t": _entry(calcium_ar2=0.95)}, "config": {"seed": 0}}
    second = {"gpfa": {"ar2_t": _entry(calcium_ar1=0.93)}, "config": {"jobs": 2}}
    after_first = merge(stored, first, fitted=["calcium_ar2"])
    after_both = merge(after_first, second, fitted=["calcium_ar1"])
    models = after_both["gpfa"]["ar2_t"]["models"]
    assert {m: e["latent_r2"] for m, e in models.items()} == {
        "calcium_ar2": 0.95,
        "calcium_ar1": 0.93,
    }
    assert after_both["gpfa"]["ar2"] == stored["gpfa"]["ar2"]
    assert after_both["hmm"] == {"x": 1} and "total_time_s" not in after_both
    assert after_both["config"] == {"seed": 0, "jobs": 2}
    # a re-fit replaces the stored number; a variant not re-fitted keeps the stored one even
    # when this run carried an older copy of it
    stale = {"gpfa": {"ar2_t": _entry(calcium_ar2=0.97, calcium_ar1=0.5)}}
    refit = merge(after_both, stale, fitted=["calcium_ar2"])["gpfa"]["ar2_t"]["models"]
    assert refit["calcium_ar2"]["latent_r2"] == 0.97 and refit["calcium_ar1"]["latent_r2"] == 0.93


def test_merge_reads_the_older_one_simulation_layout(classical_latents):
    stored = {"gpfa": _entry(gaussian=0.9)}  # before several simulations: no simulation key
    seeded = {"gpfa": {"ar2_seed1": _entry(gaussian=0.8)}}
    merged = classical_latents.merge_results(stored, seeded, fitted=["gaussian"])
    assert set(merged["gpfa"]) == {"ar2", "ar2_seed1"}
    summary = merged["gpfa_setting_seeds"]["ar2"]["latent_r2"]["gaussian"]
    assert summary["per_seed"] == [0.9, 0.8]
    assert summary["mean"] == pytest.approx(0.85)


def test_a_tagged_run_adds_its_entry_and_keeps_the_file(classical_latents, monkeypatch, tmp_path):
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"hmm": {"kept": True}, "gpfa": {"ar2": _entry(gaussian=0.9)}}))
    argv = [
        "classical_latents.py",
        "--parts", "gpfa",
        "--gpfa-simulations", "gcamp6f",
        "--gpfa-simulation-params", "n_time=300",
        "--tag", "tiny",
        "--gpfa-models", "gaussian",
        "--gaussian-iter", "2",
        "--segment-length", "100",
        "--skip-elephant",
        "--out", str(out),
    ]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    classical_latents.main()
    result = json.loads(out.read_text())
    assert result["hmm"] == {"kept": True}
    assert result["gpfa"]["ar2"]["models"]["gaussian"]["latent_r2"] == 0.9
    tiny = result["gpfa"]["gcamp6f_tiny"]
    assert tiny["simulation_params"] == {"n_time": 300}
    assert list(tiny["models"]) == ["gaussian"] and tiny["models"]["gaussian"]["iterations"] == 2
    # the command line gives the same fit as the function it wraps, called directly
    direct = classical_latents.run_gpfa(
        0, 2, 1200, 100, "gcamp6f", models=["gaussian"], elephant=False,
        simulation_params={"n_time": 300},
    )  # fmt: skip
    assert tiny["models"]["gaussian"]["latent_r2"] == pytest.approx(
        direct["models"]["gaussian"]["latent_r2"], abs=1e-12
    )


def test_calcium_fits_report_their_ar_parameters(classical_latents):
    sim = classical_latents.GPFA_SIMULATIONS["ar2"](seed=1, n_time=300)
    entry = classical_latents.fit_gpfa_variant(
        "calcium_ar2", sim.calcium, sim.latents, n_iter=0, segment_length=100,
        lr_schedule="cosine", seed=1,
    )  # fmt: skip
    # no step taken: the reported parameters are the initial ones (AR(2) 1.81, −0.81; c = 1)
    assert entry["ar_coefs_mean"] == pytest.approx([1.81, -0.81])
    assert entry["ar_coefs_sd"] == pytest.approx([0.0, 0.0])
    assert entry["jump_mean"] == pytest.approx(1.0)
    # noise initialised robustly from consecutive differences: (1.4826 · MAD)² / 2 per neuron
    diffs = np.diff(sim.calcium, axis=0)
    mad = np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0)
    assert entry["noise_var_mean"] == pytest.approx(np.mean((1.4826 * mad) ** 2 / 2))
