"""Reading a judge's reply: strict about the decision, tolerant of the noise around it.

Every parser returns None rather than guess. A pairwise answer is a *slot*
(``first``, ``second`` or ``tie``: the position the judge saw), which the
strategy maps back to the canonical a/b labels.

Noise we forgive: markdown emphasis and headings (``**Output (a)**``), quotes,
letter case, a trailing full stop, an explanation after the answer. What we
never do is pick a label merely because it is mentioned: "Output (a) is worse
than Output (b)" names (a) first but decides (b), so only a line whose
*shape* is a decision counts, and two deciding lines that disagree make the
reply unparseable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import regex

Slot = Literal["first", "second", "tie"]

PATTERN_TIMEOUT_S = 1.0
"""CPU seconds a user's pattern (``parser.format: regex``) may search one reply.
Nested quantifiers such as ``(a+)+b`` backtrack exponentially on a reply like
``aaaa…!``; the stdlib ``re`` cannot be stopped and would block the event loop
for minutes, so user patterns run on the ``regex`` package, which can."""


class PatternTimeout(Exception):
    """A user pattern ran past PATTERN_TIMEOUT_S on a reply; the verdict becomes invalid."""

    def __init__(self, text: str) -> None:
        super().__init__("parser.pattern gave no answer within "
                         f"{PATTERN_TIMEOUT_S:g} s on a {len(text)}-character reply")
        self.text = text

_LABEL = r"output\s*(?:\(\s*(?P<label>[ab])\s*\)|(?P<bare>[ab])\b)"
"""``Output (a)``, ``output(a)`` or ``Output a``; "output and" is not a label (the \\b)."""

_CONCLUDE = r"(?:(?:therefore|thus|so|hence|overall|in\s+conclusion|in\s+summary|in\s+short)\b(?:[^.]*?,)?\s*)?"
"""A concluding word and its clause: "Therefore, based on the analysis, ..."."""

_PREFIX = (
    _CONCLUDE
    + r"(?:(?:the\s+|my\s+)?(?:final\s+)?(?:answer|verdict|decision|choice|winner)(?:\s+is)?\s*[:\-]?\s*"
    r"|(?:the\s+)?(?:better|best|preferred|winning)\s+(?:output|response|answer|one)(?:'s\s+label)?"
    r"(?:\s+is\s*[:\-]?|\s*:)\s*"
    r"|i\s+(?:would\s+)?(?:choose|pick|prefer|select)\s+"
    r"|i\s+(?:think|believe)\s+(?:that\s+)?)?"
)
"""Lead-ins that announce a decision: "Answer:", "So the answer is", "Therefore, the
better output is", "the better output's label is:" (what the CoT prompts ask for),
"I choose". A negation ("I would not choose") matches none of them."""

_BARE = re.compile(_PREFIX + r"(?:" + _LABEL + r"|\(\s*(?P<paren>[ab])\s*\)|(?P<letter>[ab]))\s*[.!]?")
"""A line that is only the answer, maybe after a lead-in (matched in full)."""

_BETTER = re.compile(
    _PREFIX + _LABEL + r"\s+is\s+(?:clearly\s+|slightly\s+|much\s+|definitely\s+)?(?:the\s+)?"
    r"(?:better|best|preferred|superior|stronger)\b(?P<rest>.*)"
)
"""A sentence "[Therefore,] Output (x) is [the] better ..." (matched in full)."""

_LEAD = re.compile(_PREFIX + _LABEL + r"\s*(?:[.,;!]|\s[-\u2013\u2014]|\s(?:because|since|as)\b)(?P<rest>.*)")
"""The answer first, then an explanation: "Output (a), because ...". A colon is
left out on purpose: "Output (a): ..." usually opens an analysis, not a verdict."""

_CLAIM = re.compile(_LABEL + r"\s+is\s+(?:clearly\s+|slightly\s+|much\s+|definitely\s+)?(?:the\s+)?"
                             r"(?:better|best|preferred|superior)\b")
"""Anywhere in a deciding line: a claim that some output is better; two different ones conflict."""
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=\S)")
_THAN_LABEL = re.compile(r"than\s+" + _LABEL)
_ANY_LABEL = re.compile(_LABEL)
_NOISE = re.compile(r"[*`#\"\u201c\u201d\u2018\u2019>]|^\s*'|'\s*$")
_MTBENCH = re.compile(r"\[\[\s*([abc])\s*\]\]", re.IGNORECASE)
"""MT-Bench's bracketed verdict; C is a tie (Zheng et al. 2023)."""
_NUMBER = r"(?P<score>-?\d+(?:\.\d+)?)"
_SCORE_LINE = re.compile(
    r"(?:(?:final|overall)\s+)?(?:score|rating)\s*(?:is)?\s*[:=]?\s*\[*\s*" + _NUMBER
    + r"\s*\]*(?:\s*(?:/|out\s+of)\s*\d+(?:\.\d+)?)?\s*[.!]?"
)
"""A line "Score: 7", "Rating = 7/10", "Final score: [[7]]" (matched in full)."""
_SCORE_ALONE = re.compile(r"\[*\s*" + _NUMBER + r"\s*\]*(?:\s*(?:/|out\s+of)\s*\d+(?:\.\d+)?)?\s*[.!]?")
_NUMBERED = re.compile(r"(?:q(?:uestion)?|c(?:onstraint)?)?\s*(?P<n>\d+)\s*[.):\-]\s*(?P<rest>.*)")
_LIST_ITEM = re.compile(r"\s*(?:\d+\s*[.)]|[-*\u2022])\s+(?P<item>\S.*)")


def clean(line: str) -> str:
    """A line without markdown emphasis, headings and quotes, lower-cased, spaces squeezed."""
    return " ".join(_NOISE.sub("", line).lower().split())


def _lines(text: str) -> list[str]:
    return [c for c in (clean(line) for line in text.splitlines()) if c]


def _label_of(match: re.Match[str]) -> str:
    groups = match.groupdict()
    return next(groups[g] for g in ("label", "bare", "paren", "letter") if groups.get(g))


def _decision(line: str, *, sentence: bool = False) -> str | None:
    """The label a line (or one sentence) decides, or None if it is not a decision.

    A bare "a" or "(b)" counts only as a whole line: as a sentence it is more
    likely a list marker ("a. Accuracy ...") than an answer.
    """
    if match := _BARE.fullmatch(line):
        return None if sentence and (match["letter"] or match["paren"]) else _label_of(match)
    for pattern in (_BETTER, _LEAD):
        match = pattern.fullmatch(line)
        if match is None:
            continue
        label = _label_of(match)
        rest = _THAN_LABEL.sub("", match["rest"]) if pattern is _BETTER else match["rest"]
        if any(_label_of(m) != label for m in _ANY_LABEL.finditer(rest)):
            return None  # the other label reappears: not a clear decision
        return label
    return None


def parse_llmbar(text: str) -> Slot | None:
    """``Output (a)`` / ``Output (b)`` decided at the start or the end of the reply.

    Looked at: the first line and its first sentence ("answer first, then
    explain"), the last line and its last sentence ("reason first, then
    conclude", as CoT replies do). All of them that decide must agree, and
    neither line may also claim the other output is better.
    """
    lines = _lines(text)
    if not lines:
        return None
    first, last = _SENTENCE_BREAK.split(lines[0]), _SENTENCE_BREAK.split(lines[-1])
    candidates = [_decision(lines[0]), _decision(lines[-1]),
                  _decision(first[0], sentence=True), _decision(last[-1], sentence=True)]
    decisions = {d for d in candidates if d is not None}
    claims = {_label_of(m) for line in {lines[0], lines[-1]} for m in _CLAIM.finditer(line)}
    decisions |= claims if decisions else set()  # "(a) is better. No wait, (b) is better." is no decision
    if len(decisions) != 1:
        return None
    return "first" if decisions.pop() == "a" else "second"


def relabel(text: str, labels: tuple[str, str]) -> str:
    """A reply that names the slots by other labels (``Output (1)``, ``the second output``), written with
    ``Output (a)`` / ``Output (b)`` so that :func:`parse_llmbar` reads it as it reads any reply.

    A label matches in any letter case, with its spaces and parentheses optional (``output 1``), after an
    optional "the", and never inside a longer word or number (``Output (12)`` is no label).
    """
    for label, canonical in zip(labels, ("Output (a)", "Output (b)"), strict=True):
        text = _label_pattern(label).sub(canonical, text)
    return text


@lru_cache(maxsize=16)
def _label_pattern(label: str) -> re.Pattern[str]:
    parts = {"(": r"\(?\s*", ")": r"\s*\)?"}
    body = "".join(parts.get(piece, r"\s*" if piece.isspace() else re.escape(piece))
                   for piece in re.split(r"(\s+|[()])", label.strip()) if piece)
    return re.compile(r"(?<!\w)(?:the\s+)?" + body + r"(?![\w(])", re.IGNORECASE)


def parse_mtbench(text: str) -> Slot | None:
    """``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie) anywhere; two different ones are unparseable."""
    found = {m.group(1).lower() for m in _MTBENCH.finditer(text)}
    if len(found) != 1:
        return None
    return {"a": "first", "b": "second", "c": "tie"}[found.pop()]


def parse_score(text: str, low: float = 1, high: float = 10) -> float | None:
    """A score on the last (or first) line, "Score: 7" or just "7", within [low, high]."""
    lines = _lines(text)
    if not lines:
        return None
    found = set()
    for line in {lines[0], lines[-1]}:
        match = _SCORE_LINE.fullmatch(line) or _SCORE_ALONE.fullmatch(line)
        if match:
            found.add(float(match["score"]))
    if len(found) != 1:
        return None
    score = found.pop()
    return score if low <= score <= high else None


def parse_regex(text: str, pattern: str) -> Slot | float | None:
    """A user pattern: the named group that matched (first/second/tie), or the score group.

    Raises PatternTimeout when the search runs past PATTERN_TIMEOUT_S.
    """
    try:
        match = regex.search(pattern, text, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise PatternTimeout(text) from None
    if match is None:
        return None
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    if "score" in groups:
        try:
            return float(groups["score"])
        except ValueError:
            return None
    slots = [k for k in ("first", "second", "tie") if k in groups]
    return slots[0] if len(slots) == 1 else None  # type: ignore[return-value]


def parse_numbered(text: str, words: dict[str, bool]) -> dict[int, tuple[bool, str]]:
    """Numbered answers "3. YES - reason" as {3: (True, "reason")}.

    ``words`` maps the answer words to truth values; longer words are tried
    first, so "not satisfied" is never read as "satisfied". A number answered
    twice with different values is dropped (unparseable for that item).
    """
    ordered = sorted(words, key=len, reverse=True)
    answer = re.compile(r"(?P<word>" + "|".join(re.escape(w) for w in ordered)
                        + r")\b\s*[-\u2013\u2014:,.;]?\s*(?P<why>.*)")
    answers: dict[int, tuple[bool, str]] = {}
    conflicted: set[int] = set()
    for line in _lines(text):
        numbered = _NUMBERED.fullmatch(line)
        if numbered is None or (match := answer.match(numbered["rest"])) is None:
            continue
        n, value = int(numbered["n"]), words[match["word"]]
        if n in answers and answers[n][0] != value:
            conflicted.add(n)
        answers.setdefault(n, (value, match["why"]))
    return {n: v for n, v in answers.items() if n not in conflicted}


def parse_list(text: str) -> list[str]:
    """The items of a numbered or bulleted list, in order (other lines ignored)."""
    items = []
    for line in text.splitlines():
        if match := _LIST_ITEM.fullmatch(line.strip()):
            items.append(match["item"].strip().strip("*").strip())
    return [item for item in items if item]
