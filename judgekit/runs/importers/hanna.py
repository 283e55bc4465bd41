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

A preset of ``judgekit import scores``: one run is ``judgekit import scores
$JUDGEKIT_DATA_DIR/hanna/hanna_metric_scores_llm.csv --dataset hanna --format
csv-lists --mapping "judge.relevance=ChatGPT RE 1,judge.coherence=ChatGPT CH 1,..."``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.records import Manifest, Rating, ScoredExample
from judgekit.runs.importers.judgments import JudgeColumns
from judgekit.runs.importers.recorded import source_file, staged, write_run
from judgekit.runs.importers.table import Table, read_table, recorded

DATASET = "hanna"
LLMS = ("Beluga-13B", "OrcaPlatypus", "Mistral-7B", "Llama-13B", "ChatGPT")
PROMPTS = (1, 2, 3, 4)
CODES = {"relevance": "RE", "coherence": "CH", "empathy": "EM", "surprise": "SU",
         "engagement": "EG", "complexity": "CX"}
"""Criterion name (the dataset card's) -> the code in HANNA's column names."""


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
    table = read_table(source_file(dataset), "pointwise", {}, dataset=dataset, fmt="csv-lists")
    return [_imported(table, llm, prompt) for llm in llms for prompt in prompts]


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


def _imported(table: Table, llm: str, prompt: int) -> Imported:
    columns = {criterion: (f"{llm} {code} {prompt}",) for criterion, code in CODES.items()}
    one = recorded(table, JudgeColumns(scores=columns, judge_model=llm), judge_name=f"hanna:{llm}",
                   protocol=f"hanna/prompt-{prompt}", params={"hanna_llm": llm, "hanna_prompt": prompt})
    return Imported(one.manifest, one.examples, one.verdicts)
