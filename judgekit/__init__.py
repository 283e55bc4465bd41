"""judgekit: meta-evaluate LLM-as-judge setups against human labels.

The public API is ``__all__``: these names, and the public modules among them (``agreement``, the
statistics; ``cli``, the command line; ``integrations``, bridges to other harnesses; ``judge``, whose ``strategies``
is what a strategy author subclasses; ``backends``, what a backend author implements) with their own
``__all__``. Everything else may move between releases. Each name loads on first use, so
``import judgekit`` (and every ``judgekit --help``) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    # records: what a run is made of
    "Example", "Verdict", "OrderResult", "ScoredExample", "Rating", "LabelledOutput", "Classification",
    "Manifest", "Usage",
    # judging
    "Judge", "load_judge", "evaluate", "probe",
    # data and run dirs
    "Dataset", "load_dataset", "Run", "read_run", "read_export", "import_llmbar", "import_hanna",
    # figures: the data of `judgekit report`, `judgekit compare` and the HTML page
    "AnalysisOptions", "report_data", "compare", "page_data", "JudgedItems", "judged_items",
    "pointwise_as_pairwise",
    # rendering that data
    "render_compare", "render_html", "accuracy_figure", "bias_figure", "heatmap",
    # errors
    "JudgekitError", "BadInput",
    # public modules, each with its own __all__
    "agreement", "backends", "cli", "integrations", "judge",
    "__version__",
]

_DEFINED_IN = {
    "judgekit.records": ("Example", "Verdict", "OrderResult", "ScoredExample", "Rating", "LabelledOutput",
                         "Classification", "Manifest", "Usage"),
    "judgekit.judge.api": ("Judge", "load_judge", "evaluate"),
    "judgekit.runs.probes.run": ("probe",),
    "judgekit.data": ("Dataset", "load_dataset"),
    "judgekit.runs.run_dir": ("Run", "read_run"),
    "judgekit.report.export": ("read_export",),
    "judgekit.runs.importers.llmbar": ("import_llmbar",),
    "judgekit.runs.importers.hanna": ("import_hanna",),
    "judgekit.analysis.kind": ("AnalysisOptions",),
    "judgekit.analysis.compare": ("report_data", "compare"),
    "judgekit.analysis.page": ("page_data",),
    "judgekit.analysis.pairwise": ("JudgedItems", "judged_items"),
    "judgekit.analysis.pointwise_pairs": ("pointwise_as_pairwise",),
    "judgekit.report.tables": ("render_compare",),
    "judgekit.report.html": ("render_html",),
    "judgekit.report.plots": ("accuracy_figure", "bias_figure", "heatmap"),
    "judgekit.errors": ("JudgekitError", "BadInput"),
    "judgekit.version": ("__version__",),
}
_MODULE_OF = {name: module for module, names in _DEFINED_IN.items() for name in names}

_RENAMED = {"AnalysisOptions": "Options", "report_data": "report"}
"""Public names spelt otherwise where they are defined (``judgekit.report`` is a package)."""

_MODULES = ("agreement", "backends", "cli", "integrations", "judge")
"""Public modules; their own ``__all__`` says what in them is public."""


def __getattr__(name: str) -> Any:
    """Load a public name on first use and keep it."""
    if name in _MODULES:
        value = import_module(f"judgekit.{name}")
    elif name in _MODULE_OF:
        value = getattr(import_module(_MODULE_OF[name]), _RENAMED.get(name, name))
    else:
        raise AttributeError(f"module 'judgekit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
