"""The `skytells` command line (placeholder)."""


def main() -> int:
    """Entry point of the `skytells` console script."""
    raise SystemExit("skytells: the command line is not built yet")
