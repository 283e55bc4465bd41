"""Agreement statistics: verdicts and labels in, the numbers researchers publish out."""

from judgekit.agreement.labels import LABELS, encode
from judgekit.agreement.pairwise import (
    INVALID_POLICIES,
    PairedComparison,
    PairwiseSummary,
    accuracy,
    accuracy_both_orders,
    cohen_kappa,
    compare_judges,
    invalid_rate,
    pairwise_summary,
    positional_agreement,
    tie_rate,
)
from judgekit.agreement.uncertainty import (
    Interval,
    McNemarResult,
    Statistic,
    bootstrap_ci,
    bootstrap_cis,
    mcnemar_exact,
    mean_statistic,
    proportion_ci,
    resample_weights,
)

__all__ = [
    "INVALID_POLICIES",
    "LABELS",
    "Interval",
    "McNemarResult",
    "PairedComparison",
    "PairwiseSummary",
    "Statistic",
    "accuracy",
    "accuracy_both_orders",
    "bootstrap_ci",
    "bootstrap_cis",
    "cohen_kappa",
    "compare_judges",
    "encode",
    "invalid_rate",
    "mcnemar_exact",
    "mean_statistic",
    "pairwise_summary",
    "positional_agreement",
    "proportion_ci",
    "resample_weights",
    "tie_rate",
]
