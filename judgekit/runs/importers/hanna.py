"""Import HANNA's recorded LLM scores as pointwise run dirs, one per judge LLM and prompt.

HANNA (Chhun, Suchanek & Clavel, TACL 2024) had five LLMs (Beluga-13B,
OrcaPlatypus, Mistral-7B, Llama-13B, ChatGPT) rate all 1,056 stories on the six
criteria with four prompt variants. ``hanna_metric_scores_llm.csv`` keeps the
scores in columns ``<LLM> <CODE> <prompt>`` (CODE one of RE, CH, EM, SU, EG,
CX), in the same one-list-per-system layout as the human scores, so they are
read through the ``hanna`` dataset card and line up with its examples.

The recorded values are means over a few samples per story. Some lie below 1
(down to -1): upstream seems to have averaged a failed answer in as a negative
code. A recorded value outside the 1-5 scale is therefore an invalid rating
(reason ``out_of_range``, the value kept as its raw text); values inside the
scale are taken as recorded, though some may hide a failed sample too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judgekit.data import Dataset, load_dataset
from judgekit.data.files import read_rows
from judgekit.errors import BadInput
from judgekit.runs.importers.recorded import recorded_manifest, staged, write_run
from judgekit.records import CriterionRating, Manifest, Rating, ScoredExample

DATASET = "hanna"
LLMS = ("Beluga-13B", "OrcaPlatypus", "Mistral-7B", "Llama-13B", "ChatGPT")
PROMPTS = (1, 2, 3, 4)
CODES = {"relevance": "RE", "coherence": "CH", "empathy": "EM", "surprise": "SU",
         "engagement": "EG", "complexity": "CX"}
"""Criterion name (the dataset card's) -> the code in HANNA's column names."""
INVALID_POLICY = "exclude"


@dataclass(frozen=True)
class Imported:
    """One recorded judge (LLM x prompt) read into records, not yet written anywhere."""

    manifest: Manifest
    examples: tuple[ScoredExample, ...]
    ratings: tuple[Rating, ...]

    @property
    def name(self) -> str:
        """The run dir name: ``<llm>-p<prompt>``, lower case."""
        return f"{self.manifest.params['hanna_llm'].lower()}-p{self.manifest.params['hanna_prompt']}"


def read_hanna(path: str | Path | None = None, *, llms: tuple[str, ...] = LLMS,
               prompts: tuple[int, ...] = PROMPTS) -> list[Imported]:
    """Every requested recorded judge of ``hanna_metric_scores_llm.csv`` (default: found by the card)."""
    for llm in llms:
        if llm not in LLMS:
            raise BadInput(f"--llm: {llm!r} is not one of {', '.join(LLMS)}")
    for prompt in prompts:
        if prompt not in PROMPTS:
            raise BadInput(f"--prompt: {prompt} is not one of {', '.join(map(str, PROMPTS))}")
    dataset = load_dataset(DATASET, path=path)
    file = Path(dataset.source.split(": ", 1)[1])
    rows = read_rows(file.read_bytes(), str(file), "csv-lists")
    return [_imported(dataset, rows, file, llm, prompt) for llm in llms for prompt in prompts]


def import_hanna(out: str | Path, path: str | Path | None = None, *, llms: tuple[str, ...] = LLMS,
                 prompts: tuple[int, ...] = PROMPTS) -> list[Path]:
    """Write one run dir per recorded judge under ``out`` (which must not exist); all or nothing."""
    out = Path(out)
    if out.exists():
        raise BadInput(f"{out}: already exists; choose another --out")
    imported = read_hanna(path, llms=llms, prompts=prompts)
    out.parent.mkdir(parents=True, exist_ok=True)
    with staged(out) as staging:
        staging.mkdir()
        for one in imported:
            write_run(staging / one.name, one.manifest, one.examples, one.ratings)
    return [out / one.name for one in imported]


def _imported(dataset: Dataset, rows, file: Path, llm: str, prompt: int) -> Imported:
    if len(rows) != len(dataset.examples):
        raise BadInput(f"{file}: {len(rows)} stories but the hanna card read {len(dataset.examples)}")
    ratings = []
    for row, example in zip(rows, dataset.examples, strict=True):
        criteria = {}
        for criterion, code in CODES.items():
            column = f"{llm} {code} {prompt}"
            if column not in row.data:
                raise BadInput(f"{file}: field '{column}': missing (not HANNA's LLM score file?)")
            criteria[criterion] = _rating(row.data[column], example.criteria[criterion], file, row.where, column)
        ratings.append(Rating(example_id=example.id, criteria=criteria))
    manifest = recorded_manifest(
        dataset, dataset_id=DATASET, n_verdicts=len(ratings), kind="pointwise", judge=f"hanna:{llm}",
        judge_model=llm, protocol=f"hanna/prompt-{prompt}", invalid_policy=INVALID_POLICY,
        params={"hanna_llm": llm, "hanna_prompt": prompt}, source=str(file.resolve()),
    )
    return Imported(manifest, dataset.examples, tuple(ratings))


def _rating(value, human, file: Path, where: str, column: str) -> CriterionRating:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{file}: {where}: field '{column}': {value!r} is not a number") from None
    if not human.low <= score <= human.high:
        return CriterionRating(score=None, raw=repr(score), invalid_reason="out_of_range")
    return CriterionRating(score=score, raw=repr(score))
