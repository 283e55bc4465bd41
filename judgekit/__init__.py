"""judgekit: meta-evaluate LLM-as-judge setups against human labels."""

from importlib.metadata import PackageNotFoundError, version

from judgekit.records import Example, Manifest, OrderResult, Usage, Verdict

try:
    __version__ = version("judgekit-meta")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0"

__all__ = ["Example", "Manifest", "OrderResult", "Usage", "Verdict", "__version__"]
