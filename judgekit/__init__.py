"""judgekit: meta-evaluate LLM-as-judge setups against human labels."""

__all__ = ["Example", "Manifest", "OrderResult", "Usage", "Verdict", "__version__", "evaluate", "load_judge", "probe"]

_RECORDS = ("Example", "Manifest", "OrderResult", "Usage", "Verdict")


def __getattr__(name: str):
    """The public names load on first use, so ``import judgekit`` (and every ``judgekit --help``) stays light."""
    if name == "__version__":  # read from the installed metadata: tens of milliseconds
        from judgekit.version import __version__

        return __version__
    if name in _RECORDS:
        from judgekit import records

        return getattr(records, name)
    if name in ("load_judge", "evaluate"):
        from judgekit.judge import api

        return getattr(api, name)
    if name == "probe":
        from judgekit.runs.probes.run import probe

        return probe
    raise AttributeError(f"module 'judgekit' has no attribute {name!r}")
