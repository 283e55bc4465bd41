"""judgekit: meta-evaluate LLM-as-judge setups against human labels."""

from judgekit.records import Example, Manifest, OrderResult, Usage, Verdict
from judgekit.version import __version__

__all__ = ["Example", "Manifest", "OrderResult", "Usage", "Verdict", "__version__", "evaluate", "load_judge", "probe"]


def __getattr__(name: str):
    """``load_judge``, ``evaluate`` and ``probe`` load on first use, so ``import judgekit`` stays light."""
    if name in ("load_judge", "evaluate"):
        from judgekit.judge import api

        return getattr(api, name)
    if name == "probe":
        from judgekit.runs.probes.run import probe

        return probe
    raise AttributeError(f"module 'judgekit' has no attribute {name!r}")
