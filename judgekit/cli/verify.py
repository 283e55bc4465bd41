"""``judgekit verify``: program verdicts on model responses (IFEval's instruction checkers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput

IFEVAL_CARD = "ifeval"
"""The card whose data file holds IFEval's inputs when --inputs is not given."""
_INPUTS_HELP = ("IFEval's input file (key, prompt, instruction_id_list, kwargs); default: the ifeval dataset's "
                "copy in JUDGEKIT_DATA_DIR.")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Check model responses with a program (IFEval's instruction checkers).",
                        no_args_is_help=True)
    group.command("ifeval")(ifeval_command)
    group.command("ifeval-pairs")(ifeval_pairs_command)
    app.add_typer(group, name="verify")


def ifeval_command(
    responses: Path = typer.Argument(..., help="Responses in IFEval's format: JSON Lines with prompt, response."),
    inputs: Path | None = typer.Option(None, "--inputs", help=_INPUTS_HELP),
    format: OutputFormat = FORMAT,
) -> None:
    """IFEval's prompt- and instruction-level accuracy, strict and loose, and the pass rate per instruction type.

    Responses join the inputs by the exact prompt text. An instruction the
    program cannot check is listed with its reason and not counted as followed.

    Example: judgekit verify ifeval responses.jsonl --inputs input_data.jsonl --format json
    """
    from judgekit.data.ifeval import check_answers, figures, read_answers

    found = figures(check_answers(read_answers(responses, _prompts(inputs))))
    if format is OutputFormat.json:
        print(json.dumps(found, indent=2))
        return
    _print_figures(Console(), found)


def ifeval_pairs_command(
    first: Path = typer.Argument(..., help="One model's responses (IFEval's format)."),
    second: Path = typer.Argument(..., help="Another model's responses to the same prompts."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Folder for pairs.jsonl and card.yaml (judgekit run --dataset OUT/card.yaml)."),
    inputs: Path | None = typer.Option(None, "--inputs", help=_INPUTS_HELP),
    names: str = typer.Option("", "--names",
                              help="The two models' names, e.g. gpt-4,llama-3 (default: the file names)."),
    force: bool = typer.Option(False, "--force", help="Replace pairs.jsonl and card.yaml in --out."),
    format: OutputFormat = FORMAT,
) -> None:
    """Pairs whose truth is the program's: on each prompt both answer, the response that strictly satisfies
    more of its instructions is the better one; ties and unverifiable prompts are dropped and listed.

    Example: judgekit verify ifeval-pairs gpt4.jsonl llama.jsonl --out pairs/ && judgekit run --dataset pairs/card.yaml
    """
    from judgekit.data.ifeval import check_answers, program_pairs, read_answers

    labels = _names(names, first, second)
    prompts = _prompts(inputs)
    answers = [read_answers(path, prompts) for path in (first, second)]
    if not force and any((out / f).exists() for f in ("pairs.jsonl", "card.yaml")):
        raise BadInput(f"--out: {out} already holds pairs.jsonl or card.yaml; pass --force to replace them")
    checks = [check_answers(a) for a in answers]
    found = program_pairs(answers[0], checks[0], answers[1], checks[1], labels)
    if not found.pairs:
        raise BadInput(f"{first}, {second}: no prompt where one response satisfies more instructions than the other")
    summary = {"pairs": len(found.pairs), "a_better": sum(p["gold"] == "a" for p in found.pairs),
               "ties": found.ties, "unverifiable": found.unverifiable, "unmatched": found.unmatched,
               "names": list(labels), "card": str(out / "card.yaml")}
    _write_pairs(out, found.pairs, _card(out, labels, summary))
    if format is OutputFormat.json:
        print(json.dumps(summary, indent=2))
        return
    Console().print(
        f"{len(found.pairs)} pairs ({labels[0]} better in "
        f"{sum(p['generator_' + p['gold']] == labels[0] for p in found.pairs)}); "
        f"dropped: {len(found.ties)} ties, {len(found.unverifiable)} with an unverifiable instruction, "
        f"{len(found.unmatched)} not answered by both to the same prompt.\n"
        f"wrote {out / 'pairs.jsonl'} and {out / 'card.yaml'}; judge them with "
        f"`judgekit run --dataset {out / 'card.yaml'}`", highlight=False, soft_wrap=True)


def _prompts(inputs: Path | None) -> list:
    from judgekit.data.cards import builtin_cards
    from judgekit.data.ifeval import read_prompts
    from judgekit.data.loader import data_file

    return read_prompts(inputs if inputs is not None else data_file(builtin_cards()[IFEVAL_CARD]))


def _names(names: str, first: Path, second: Path) -> tuple[str, str]:
    given = tuple(n.strip() for n in names.split(",")) if names else (first.stem, second.stem)
    if len(given) != 2 or not all(given) or given[0] == given[1]:
        raise BadInput(f"--names: two different names, e.g. gpt-4,llama-3; got {names or ','.join(given)!r}")
    return given  # type: ignore[return-value]


def _card(out: Path, names: tuple[str, str], summary: dict[str, Any]) -> dict[str, Any]:
    """A card for the pairs file: judgekit reads it like any pairwise dataset."""
    dropped = f"{len(summary['ties'])} ties (keys {summary['ties'] or 'none'})"
    return {
        "id": out.resolve().name or "ifeval-pairs",
        "description": (f"IFEval prompts answered by {names[0]} and {names[1]}; the better response is the one "
                        "IFEval's program finds strictly more instructions followed in."),
        "local": "pairs.jsonl", "format": "jsonl",
        "fields": {"id": "id", "instruction": "instruction", "response_a": "response_a", "response_b": "response_b",
                   "gold": "gold", "generator_a": "generator_a", "generator_b": "generator_b",
                   "metadata": ["instructions", "satisfied_a", "satisfied_b", "instruction_ids"]},
        "annotators": 0, "size": summary["pairs"], "license": "CC-BY-4.0 (prompts); the responses' own terms",
        "citation": "Zhou et al., Instruction-Following Evaluation for Large Language Models, arXiv:2311.07911.",
        "notes": (f"Program truth, not human preference: it measures adherence to IFEval's checkable constraints "
                  f"only. Dropped: {dropped}, {len(summary['unverifiable'])} with an unverifiable instruction "
                  f"(keys {summary['unverifiable'] or 'none'}), {len(summary['unmatched'])} not answered by both."),
    }


def _write_pairs(out: Path, pairs: list[dict[str, Any]], card: dict[str, Any]) -> None:
    """Both files written under temporary names, then renamed: never half a dataset."""
    import yaml

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"--out: {out}: cannot create the folder ({e.strerror})") from None
    staged = {out / "pairs.jsonl.tmp": "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
              out / "card.yaml.tmp": yaml.safe_dump(card, sort_keys=False, allow_unicode=True)}
    for path, text in staged.items():
        path.write_text(text, encoding="utf-8")
    for path in staged:
        path.replace(path.with_suffix(""))


def _print_figures(console: Console, found: dict[str, Any]) -> None:
    console.print(f"{found['n_prompts']} prompts, {found['n_instructions']} instructions, checked by "
                  f"{found['verifier']}", highlight=False)
    table = Table("", "strict", "loose", title="IFEval accuracy")
    table.add_row("prompt level", _pct(found["prompt_strict"]), _pct(found["prompt_loose"]))
    table.add_row("instruction level", _pct(found["instruction_strict"]), _pct(found["instruction_loose"]))
    console.print(table)
    kinds = Table(title="Pass rate per instruction type")
    kinds.add_column("instruction", no_wrap=True)
    for column in ("n", "strict", "loose", "unverifiable"):
        kinds.add_column(column, justify="right")
    for kind, row in found["per_instruction"].items():
        kinds.add_row(kind, str(row["n"]), _pct(row["strict"]), _pct(row["loose"]), str(row["unverifiable"] or ""))
    console.print(kinds)
    for item in found["items"]:
        if item["unverifiable"]:
            console.print(f"unverifiable: key {item['key']}, instruction {item['instruction_index']} "
                          f"({item['instruction_id']}): {item['unverifiable']}", highlight=False, soft_wrap=True,
                          markup=False)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"
