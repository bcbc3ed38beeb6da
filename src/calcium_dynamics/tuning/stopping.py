"""When to stop a population: no improvement of its best validation loss for G generations."""

from __future__ import annotations

import math
from collections import defaultdict


class PopulationPlateau:
    """Track the population's best loss per generation and decide when to stop.

    A generation counts once every member has reported it. The search stops when the best loss
    of ``patience`` consecutive complete generations has not improved on the best seen before
    by more than ``min_delta`` (absolute), or after ``max_generations``.

    Args:
        population_size: members reporting each generation.
        patience: generations without improvement before stopping (paper: 25).
        max_generations: hard limit on generations.
        min_delta: smallest decrease of the loss that counts as an improvement.
    """

    def __init__(
        self, population_size: int, patience: int, max_generations: int, min_delta: float = 0.0
    ):
        if population_size < 1 or patience < 1 or max_generations < 1:
            raise ValueError(
                "population_size, patience and max_generations must be >= 1; got "
                f"{population_size}, {patience}, {max_generations}"
            )
        self.population_size = int(population_size)
        self.patience = int(patience)
        self.max_generations = int(max_generations)
        self.min_delta = float(min_delta)
        self._losses: dict[int, dict[str, float]] = defaultdict(dict)
        self.best = math.inf
        self.stale = 0
        self.completed: list[int] = []

    def record(self, member: str, generation: int, loss: float) -> None:
        """Note ``member``'s loss at the end of ``generation`` (1-based)."""
        losses = self._losses[int(generation)]
        losses[str(member)] = float(loss)
        if len(losses) == self.population_size and int(generation) not in self.completed:
            self.completed.append(int(generation))
            finite = [v for v in losses.values() if math.isfinite(v)]
            gen_best = min(finite) if finite else math.inf
            if gen_best < self.best - self.min_delta:
                self.best = gen_best
                self.stale = 0
            else:
                self.stale += 1

    def member_done(self, generation: int) -> bool:
        """Whether a member that finished ``generation`` has reached the generation limit."""
        return int(generation) >= self.max_generations

    def population_done(self) -> bool:
        """Whether the population has gone ``patience`` generations without improvement."""
        return self.stale >= self.patience
