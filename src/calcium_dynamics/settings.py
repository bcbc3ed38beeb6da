"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/paper lists only the keys that differ from conf/base: merge nested keys.
    "merge_strategy": {"parameters": "soft"},
}

from calcium_dynamics.hooks import RunManifestHooks

HOOKS = (RunManifestHooks(),)
