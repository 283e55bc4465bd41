"""Files shipped inside the wheel (protocol specs, dataset cards, bundled data)."""

from importlib.resources import files
from importlib.resources.abc import Traversable


def protocols_root() -> Traversable:
    """The built-in protocol specs (``protocols/`` in the checkout)."""
    return files("judgekit.protocols")


def meta_datasets_root() -> Traversable:
    """Dataset cards and the bundled dataset (``meta_datasets/`` in the checkout)."""
    return files("judgekit.meta_datasets")
