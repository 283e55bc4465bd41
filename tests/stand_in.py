"""A small labelled set, a classify spec in versions, and a scripted stand-in model that answers it.

The stand-in is a ``mock:`` rules file: for each item and each version's lead
line (the line the spec puts right above the output), the label it answers,
right on a chosen share of the items (the same items stay right as the share
grows, as a better prompt would keep them). So versions differ in their
figures the way real prompt versions do, with nothing but the real pipeline
in between.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

MAPPING = "id=id,input=question,response=answer,label=verdict,positive=fail,metadata=comment"
LABELS = "fail,pass"
LEADS = {"v1": "Answer to check:", "v2": "Answer to check, claim by claim:",
         "v3": "Answer to check, claim by claim, like the examples:"}
SPEC = """id: toy-judge
description: Does the answer hallucinate? ({version})
citation: tests/stand_in.py
strategy: classify_binary
orders: original
params: {{temperature: 0.0, max_tokens: 64}}
{examples}templates:
  classify: |-
    {{% for shot in examples %}}Example: {{{{ shot.output }}}} -> {{{{ shot.label }}}}
    {{% endfor %}}Question: {{{{ input }}}}
    {lead}
    {{{{ output }}}}
    Reply with fail or pass on the last line.
"""


def write_labelled_csv(path: Path, questions: int = 30, per_question: int = 3) -> Path:
    """``questions`` x ``per_question`` answers (each question a cluster); about a third are human fails, each
    with the annotator's comment."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "question", "answer", "verdict", "comment"])
        writer.writeheader()
        for q in range(questions):
            for a in range(per_question):
                i = q * per_question + a
                fail = i % 4 == 0 or i % 7 == 0
                writer.writerow({"id": f"a{i}", "question": f"Question number {q}?", "answer": f"Answer {i} to {q}.",
                                 "verdict": "fail" if fail else "pass",
                                 "comment": f"number {i} is made up" if fail else ""})
    return path


def write_spec(path: Path, version: str, examples: str | None = None) -> Path:
    """The spec of ``version`` (its lead line) at ``path``; ``examples`` names a few-shot file."""
    path.write_text(SPEC.format(version=version, lead=LEADS[version],
                                examples=f"examples: {examples}\n" if examples else ""), encoding="utf-8")
    return path


def write_model(path: Path, split_dir: Path, accuracy: dict[str, float], seed: int = 0) -> Path:
    """Rules answering every item of both sides under each version's lead, right on ``accuracy[version]`` of them."""
    items = [json.loads(line) for side in ("dev", "test")
             for line in (split_dir / f"{side}.jsonl").read_text(encoding="utf-8").splitlines()]
    luck = np.random.default_rng(seed).random(len(items))
    rules = []
    for version, share in accuracy.items():
        for item, u in zip(items, luck):
            label = item["gold"] if u < share else ("pass" if item["gold"] == "fail" else "fail")
            rules.append({"when": f"{LEADS[version]}\n{item['output']}\n", "reply": f"Looked at it.\n{label}"})
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")  # read as YAML: no \\u escapes
    return path


def scored_file(tmp_path: Path) -> Path:
    """A pointwise set: six responses to two prompts by three systems, two annotators' fluency scores each
    (read with SCORED_MAPPING; ``scored_quality`` answers it as a perfect judge would)."""
    rows = []
    for prompt in ("p1", "p2"):
        for k, system in enumerate(("s1", "s2", "s3")):
            quality = k + 2 if prompt == "p1" else 4 - k
            rows.append({"prompt": f"Write about {prompt}", "pid": prompt, "model": system,
                         "text": f"response quality {quality}", "f1": quality, "f2": min(5, quality + 1)})
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


SCORED_MAPPING = "input=pid,instruction=prompt,response=text,system=model,score.fluency=f1+f2,scale=1-5"


def scored_quality(call: Any) -> int:
    """The quality a response of ``scored_file`` states, read from the prompt."""
    return int(re.search(r"response quality (\d)", call.prompt)[1])
