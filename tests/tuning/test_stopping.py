"""The population's stopping rule, on hand-written loss sequences."""

import math

import pytest

from calcium_dynamics.tuning.stopping import PopulationPlateau


def _feed(stop: PopulationPlateau, losses_by_generation):
    for generation, losses in enumerate(losses_by_generation, start=1):
        for member, loss in enumerate(losses):
            stop.record(f"m{member}", generation, loss)


def test_stops_after_patience_generations_without_improvement():
    stop = PopulationPlateau(population_size=2, patience=2, max_generations=100)
    _feed(stop, [[3.0, 2.0], [1.5, 2.5], [1.6, 1.5]])
    assert stop.best == 1.5 and stop.stale == 1 and not stop.population_done()
    _feed(stop, [])
    stop.record("m0", 4, 1.7)
    assert not stop.population_done()  # generation 4 is incomplete until every member reports
    stop.record("m1", 4, 1.9)
    assert stop.stale == 2 and stop.population_done()


def test_an_improvement_resets_the_count_and_min_delta_is_respected():
    stop = PopulationPlateau(population_size=1, patience=2, max_generations=100, min_delta=0.1)
    _feed(stop, [[1.0], [0.95], [0.85]])
    # 0.95 is not 0.1 better than 1.0; 0.85 is
    assert stop.best == pytest.approx(0.85) and stop.stale == 0
    stop.record("m0", 4, math.nan)  # a diverged member counts as no improvement
    assert stop.stale == 1


def test_members_stop_at_the_generation_limit():
    stop = PopulationPlateau(population_size=3, patience=5, max_generations=4)
    assert not stop.member_done(3) and stop.member_done(4)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="patience"):
        PopulationPlateau(population_size=3, patience=0, max_generations=4)
