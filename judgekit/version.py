"""The installed package's version, recorded in every manifest (its own module, so
modules that ``judgekit/__init__.py`` imports need not import the package back)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("judgekit-meta")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0"
