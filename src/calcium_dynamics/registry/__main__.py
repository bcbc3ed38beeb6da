"""``python -m calcium_dynamics.registry list|register|promote|show|get``."""

from calcium_dynamics.registry.cli import registry

if __name__ == "__main__":
    registry(prog_name="python -m calcium_dynamics.registry")
