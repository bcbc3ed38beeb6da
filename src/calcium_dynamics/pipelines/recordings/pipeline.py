"""recordings: partitioned recordings → ΔF/F + QC → spike rates and events → NMF, trials →
latent models on the trials → copies of the inputs with the results (NWB, Suite2p) → one HTML
report per recording (wiring only).

ΔF/F, spike inference, the latent models and the write-backs run in ``n_shards`` independent
node chains (each takes every ``n_shards``-th recording), so ``kedro run --runner
ParallelRunner`` spreads recordings over processes; every shard writes into the same
partitioned output folders.
"""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.recordings import nodes, results_nodes

N_SHARDS = 4


class _Shard:
    """``fn`` with ``shard`` / ``n_shards`` bound; keeps its name when pickled for the
    ParallelRunner's worker processes (a ``functools.partial`` loses it)."""

    def __init__(self, fn, shard: int, n_shards: int):
        self.fn, self.shard, self.n_shards = fn, int(shard), int(n_shards)
        self.__name__ = f"{fn.__name__}[{shard}/{n_shards}]"
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn  # signature and type hints are fn's
        self.__annotations__ = {
            k: v for k, v in fn.__annotations__.items() if k not in ("shard", "n_shards")
        }

    def __call__(self, *args):
        return self.fn(*args, shard=self.shard, n_shards=self.n_shards)


def _shard(fn, shard: int, n_shards: int) -> _Shard:
    return _Shard(fn, shard, n_shards)


def create_pipeline(n_shards: int = N_SHARDS, **kwargs) -> Pipeline:
    shards = range(int(n_shards))
    dff = [f"recording_dff_shard_{i}" for i in shards]
    spikes = [f"recording_spikes_shard_{i}" for i in shards]
    begin = node(
        nodes.begin_run,
        inputs=["recording_inputs", "params:recordings", "recording_spike_model"],
        outputs="recording_run",
        name="recording_begin_run",
    )
    per_shard = []
    for i in shards:
        per_shard += [
            node(
                _shard(nodes.compute_dff_partitions, i, n_shards),
                inputs=["recording_inputs", "params:recordings.dff", "recording_run"],
                outputs=dff[i],
                name=f"recording_compute_dff_shard_{i}",
            ),
            node(
                _shard(nodes.infer_spike_partitions, i, n_shards),
                inputs=[
                    "recording_inputs",
                    dff[i],
                    "recording_spike_model",
                    "params:recordings.inference",
                    "params:recordings.ray",
                    "recording_run",
                ],
                outputs=spikes[i],
                name=f"recording_infer_spikes_shard_{i}",
            ),
        ]
    results = []
    for i in shards:
        results += [
            node(
                _shard(results_nodes.fit_dynamics_partitions, i, n_shards),
                inputs=[
                    "recording_inputs",
                    "recording_trials",
                    "params:recordings.dynamics",
                    "params:lfads",
                    "params:recordings.ray",
                    "recording_run",
                ],
                outputs=[f"recording_dynamics_shard_{i}", f"recording_dynamics_tables_shard_{i}"],
                name=f"recording_fit_dynamics_shard_{i}",
            ),
            node(
                _shard(results_nodes.write_back_partitions, i, n_shards),
                inputs=[
                    "recording_inputs",
                    spikes[i],
                    "recording_trials",
                    f"recording_dynamics_shard_{i}",
                    "recording_run",
                ],
                outputs=[f"recording_nwb_shard_{i}", f"recording_suite2p_shard_{i}"],
                name=f"recording_write_back_shard_{i}",
            ),
        ]
    report = node(
        results_nodes.write_reports,
        inputs=[
            "recording_inputs",
            "recording_nmf_components",
            "recording_nmf_curves",
            "params:recordings.reports",
            "recording_run",
            *dff,
            *spikes,
            *[f"recording_dynamics_shard_{i}" for i in shards],
            *[f"recording_dynamics_tables_shard_{i}" for i in shards],
        ],
        outputs="recording_reports",
        name="recording_write_reports",
    )
    collect = [
        node(
            nodes.collect_qc,
            inputs=["recording_inputs", "params:recordings.qc_figure", "recording_run", *dff],
            outputs=["recording_qc", "recording_qc_figure"],
            name="recording_collect_qc",
        ),
        node(
            nodes.recording_nmf,
            inputs=["recording_inputs", "params:recordings.nmf", "recording_run", *dff],
            outputs=[
                "recording_nmf_components",
                "recording_nmf_curves",
                "recording_nmf_assignments",
                "recording_nmf_figures",
            ],
            name="recording_nmf",
        ),
        node(
            nodes.cut_trial_partitions,
            inputs=[
                "recording_inputs",
                "recording_trials_table",
                "params:recordings.trials",
                "recording_run",
                *dff,
                *spikes,
            ],
            outputs="recording_trials",
            name="recording_cut_trials",
        ),
    ]
    finish = node(
        nodes.finish_run,
        inputs=[
            "recording_run",
            "recording_qc",
            "recording_nmf_curves",
            "recording_trials",
            "recording_reports",
            *[f"recording_nwb_shard_{i}" for i in shards],
            *[f"recording_suite2p_shard_{i}" for i in shards],
        ],
        outputs="recording_run_finished",
        name="recording_finish_run",
    )
    return pipeline([begin, *per_shard, *collect, *results, report, finish], tags=["recordings"])
