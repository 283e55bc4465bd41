"""Answer parsers: tolerant of noise, never guessing a label that was not decided."""

import pytest

from judgekit.judge.strategies.parsing import (
    parse_list,
    parse_llmbar,
    parse_mtbench,
    parse_numbered,
    parse_regex,
    parse_score,
)


@pytest.mark.parametrize("reply, slot", [
    ("Output (a)", "first"),
    ("Output (b)", "second"),
    ("output (B)", "second"),
    ("**Output (a)**", "first"),
    ('"Output (b)."', "second"),
    ("## Output (a)", "first"),
    ("`Output (b)`", "second"),
    ("Output(a)", "first"),
    ("Output a", "first"),
    ("(b)", "second"),
    ("b", "second"),
    ("Answer: Output (a)", "first"),
    ("Final answer: **Output (b)**", "second"),
    ("Output (a)\n\nIt follows the word limit, while the other output ignores it.", "first"),
    ("Output (a), because Output (a) keeps to the requested format.", "first"),
    ("Output (b) - it answers the question that was asked.", "second"),
    ("Both outputs are fluent.\nOutput (a) misses the constraint.\nTherefore, Output (b) is better.", "second"),
    ("Output (b) is better than Output (a).", "second"),
    ("I think Output (a) is clearly the better one.", "first"),
    ("Reasoning first.\n\nOutput (b)", "second"),
    ("Output (a)\nMore detail.\nOutput (a)", "first"),
    ("The better output is Output (b).", "second"),
    ("Therefore, the better response is **Output (a)**, as it keeps to the limit.", "first"),
    ("I choose Output (b)", "second"),
    ("Answer: Output (a). It is concise.", "first"),
])
def test_llmbar_answers_that_decide(reply, slot):
    assert parse_llmbar(reply) == slot


@pytest.mark.parametrize("reply", [
    "Output (a) is worse than Output (b)",
    "Output (a) is worse than Output (b).\nThat is my view.",
    "Output (a) is not better than Output (b).",
    "Output (a): lists the primes.\nOutput (b): adds commentary.",  # an analysis, no decision
    "Output (a)\nOutput (b)",
    "Output (a) or Output (b)",
    "Neither Output (a) nor Output (b) follows the instruction.",
    "Both are equally good.",
    "Output (a), although Output (b) is better.",
    "Output (a) is better. No wait, Output (b) is better.",
    "Output (c)",
    "output and more",
    "",
    "   \n ",
    "Output (a) is better\n...\nTherefore, Output (b) is better.",
    "I would not choose Output (a).",
    "The better output is not Output (a).",
    "The better output is Output (a), since Output (b) is off topic.",  # names the other label: not clear-cut
    "The preferred output is Output (a) over Output (b)",
])
def test_llmbar_answers_that_do_not_decide_are_unparseable(reply):
    assert parse_llmbar(reply) is None


@pytest.mark.parametrize("reply, slot", [
    ("A is more accurate. [[A]]", "first"),
    ("Explanation...\n[[B]]", "second"),
    ("They are equally good: [[C]]", "tie"),
    ("[[ b ]]", "second"),
    ("[[A]] ... final verdict again [[A]]", "first"),
    ("I lean to [[A]] but on reflection [[B]]", None),
    ("Assistant A is better.", None),
    ("[A]", None),
])
def test_mtbench_brackets(reply, slot):
    assert parse_mtbench(reply) == slot


@pytest.mark.parametrize("reply, score", [
    ("The response follows the instruction.\nScore: 8", 8.0),
    ("Rating = 7/10", 7.0),
    ("**Score:** 9.5", 9.5),
    ("Final score: [[6]]", 6.0),
    ("4", 4.0),
    ("Score: 8 out of 10.", 8.0),
    ("Score: 11", None),  # outside the scale
    ("Score: 0", None),
    ("It deserves maybe a 7 or an 8.", None),
    ("Score: 7\nOn reflection,\nScore: 5", None),  # first and last line disagree
    ("", None),
])
def test_scores(reply, score):
    assert parse_score(reply, 1, 10) == score


def test_numbered_answers_keep_reasons_and_never_read_not_satisfied_as_satisfied():
    words = {"satisfied": True, "not satisfied": False}
    text = "1. SATISFIED - uses French\n2. **NOT SATISFIED** - too long\nnoise line\n3) satisfied"
    assert parse_numbered(text, words) == {1: (True, "uses french"), 2: (False, "too long"), 3: (True, "")}


def test_numbered_answer_given_twice_with_different_values_is_dropped():
    assert parse_numbered("1. YES\n2. NO\n1. NO", {"yes": True, "no": False}) == {2: (False, "")}


def test_list_items_numbered_or_bulleted():
    text = "Here are the questions:\n1. Is it in French?\n2) Is it under 50 words?\n- **Does it name a city?**\n\nDone."
    assert parse_list(text) == ["Is it in French?", "Is it under 50 words?", "Does it name a city?"]


def test_user_regex_groups():
    pattern = r"(?i)winner:\s*(?:(?P<first>one)|(?P<second>two)|(?P<tie>draw))"
    assert parse_regex("Thoughts.\nWinner: TWO", pattern) == "second"
    assert parse_regex("Winner: draw", pattern) == "tie"
    assert parse_regex("no verdict", pattern) is None
    assert parse_regex("grade 7", r"grade (?P<score>\d+)") == 7.0


def test_recorded_llmbar_judgements_parse_like_llmbar_did(data_dir):
    """Every recorded pairwise completion on LLMBar Natural (6 LLMs x their strategies):
    where LLMBar's own parser found a winner, ours finds the same one almost always.

    The few disagreements we inspected are replies like "Output (b) is better.
    Output (a) ..." that LLMBar's parser read as (a); ours follows the text.
    """
    import json

    agree = differ = ours_invalid = 0
    for result in sorted((data_dir / "llmbar/Dataset/LLMBar/Natural/evaluators").glob("*/*/result.json")):
        if result.parent.name.startswith("Rating"):
            continue
        for item in json.loads(result.read_text(encoding="utf-8")):
            for key, recorded in item["results"][-1].items():
                theirs = str(recorded.get("winner"))
                if theirs not in ("1", "2"):
                    continue
                slot = parse_llmbar(recorded["completion"][0])
                first, second = ("2", "1") if key.endswith("True") else ("1", "2")
                ours = {"first": first, "second": second}.get(slot)
                ours_invalid += ours is None
                agree += ours == theirs
                differ += ours is not None and ours != theirs
    total = agree + differ + ours_invalid
    assert total > 10_000
    assert agree / total > 0.98 and ours_invalid / total < 0.01 and differ / total < 0.01


def test_recorded_llmbar_ratings_parse_unless_off_the_scale(data_dir):
    import json

    results = sorted((data_dir / "llmbar/Dataset/LLMBar/Natural/evaluators").glob("*/Rating*/result.json"))
    replies = [item["results"][-1][key][0] for path in results
               for item in json.loads(path.read_text(encoding="utf-8")) for key in ("score_1", "score_2")]
    assert len(replies) > 500
    for reply in replies:  # LLMBar asked for a bare integer; some judges answered 0
        assert reply.strip().isdigit(), reply
        expected = float(reply) if 1 <= float(reply) <= 10 else None
        assert parse_score(reply, 1, 10) == expected, reply


def test_the_closing_lines_our_cot_prompt_invites_are_read():
    """The CoT prompt asks for "the better output's label"; judges write it in a sentence."""
    analysis = "Output (a) ignores the word limit, while Output (b) keeps to it."
    assert parse_llmbar(analysis + '\nTherefore, the better output\'s label is: "Output (a)".') == "first"
    assert parse_llmbar(analysis + "\nSo the answer is Output (b).") == "second"
    assert parse_llmbar(analysis + "\nThe better output's label: Output (b)") == "second"
    assert parse_llmbar(analysis + "\nThus, my answer is **Output (b)**") == "second"
    assert parse_llmbar("So the answer is Output (b).") == "second"


def test_the_new_phrases_still_never_decide_between_conflicting_claims():
    assert parse_llmbar('Output (b) is better.\nTherefore, the better output\'s label is: "Output (a)".') is None
    assert parse_llmbar("So the answer is Output (b). Actually, Output (a) is better.") is None
    assert parse_llmbar("So the answer is not Output (b).") is None
