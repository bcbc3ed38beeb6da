"""Leave-one-dataset-out folds: the evaluation protocol of the spike models.

Each fold tests the recordings of one dataset with a model trained on the other datasets only.
With a test noise level, the test recordings are noise-matched replicas (``test_pool``) that
exist only for testing: the training side always comes from the un-noised ``train_pool``.
Early stopping splits the fold's training table by neuron (``spike_data.split_by_neuron``), so
its validation neurons come from the training datasets too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pandas as pd


def lodo_folds(
    train_pool: pd.DataFrame, test_pool: pd.DataFrame, test_datasets: Iterable[str]
) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """``(test dataset, training rows, test rows)`` per fold.

    Args:
        train_pool: one row per recording (``dataset``, ``row_id`` unique across both pools).
        test_pool: the rows to test (``train_pool`` itself, or its noise-matched replicas with
            their own ``row_id``).
        test_datasets: the datasets to hold out, one fold each.

    Raises:
        ValueError: if a fold's training rows include its test dataset or a test row (the
            guard of the protocol; cannot happen with distinct ``row_id``).
    """
    for name in test_datasets:
        train = train_pool[train_pool["dataset"] != name]
        test = test_pool[test_pool["dataset"] == name]
        if (train["dataset"] == name).any() or set(train["row_id"]) & set(test["row_id"]):
            raise ValueError(f"fold {name}: its training rows include test recordings")
        yield name, train, test
