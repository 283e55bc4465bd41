"""The sandbox every user template renders in: Jinja's, bounded in output, growth, integers and time.

A protocol spec or a probe file may come from anyone, and rendering one must
neither hang a run nor take the machine's memory. Jinja's
``SandboxedEnvironment`` already refuses attributes that escape
(``''.__class__``); on top of it:

- **Files.** ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are
  refused when a template is parsed: a template is one self-contained text.
- **Output.** A rendering (and the text of a macro, a ``{% set %}`` block or
  a ``~`` join) stops past :data:`MAX_RENDERED_CHARS` with :class:`TooLong`:
  that item's prompt is too long for any model, which says nothing against
  the template.
- **Growth.** What multiplies text or lists (``*``, ``+``, ``%`` and
  ``format`` widths, ``center``, ``ljust``, ``replace``, ``join``,
  ``indent``, ``wordwrap``, ``batch``, ``slice``, ``lipsum``) is checked
  before it allocates, and a method call may not leave a string, list or dict
  longer than the cap.
- **Integers.** ``*`` and ``**`` refuse a result of more than
  :data:`MAX_INT_BITS` bits before computing it (Python's own limit refuses
  printing one of more than 4,300 digits).
- **Time.** Every loop step, call and operator checks a deadline of
  :data:`MAX_RENDER_SECONDS` and the process's stop request
  (:mod:`judgekit.judge.stop`), so a spec that loops without output fails in seconds
  and SIGTERM stops a run mid-rendering.

Each refusal is a ``SecurityError`` (a Jinja ``TemplateError``), as are the
plain Python errors a template can raise (a ``TypeError`` from ``'a' + 1``,
``RecursionError`` from a macro that calls itself), so callers turn one
exception type into one line naming the file and template.
"""

from __future__ import annotations

import re
import string
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import Template, TemplateRuntimeError, TemplateSyntaxError, nodes, pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, do_center, do_format, do_indent, do_join, do_replace, do_slice, do_wordwrap
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from judgekit.judge import stop

MAX_RENDERED_CHARS = 2_000_000
"""Longest prompt a template may render (about 500k tokens, past any model's context)."""
MAX_INT_BITS = 65_536
"""Largest integer a template may compute (about 20,000 decimal digits)."""
MAX_RENDER_SECONDS = 5.0
"""Longest one rendering may take; an ordinary prompt renders in well under a millisecond."""

TEMPLATE_ERRORS = (ArithmeticError, TypeError, ValueError, LookupError, RecursionError)
"""Python errors a template's own expressions raise (``1/0``, ``'a' + 1``, ``'9' * 5000 | int``,
a macro calling itself): reported as the template's errors, one line each."""


class TooLong(SecurityError):
    """A rendering that would pass MAX_RENDERED_CHARS: this item's prompt is too long."""


class OutOfTime(SecurityError):
    """A rendering that ran past MAX_RENDER_SECONDS."""


def bounded_join(pieces: Iterable[Any]) -> str:
    """Join text pieces, stopping (TooLong) once they pass MAX_RENDERED_CHARS."""
    out, size = [], 0
    for piece in pieces:
        piece = str(piece)
        size += len(piece)
        if size > MAX_RENDERED_CHARS:
            raise TooLong(f"renders more than {MAX_RENDERED_CHARS:,} characters")
        out.append(piece)
    return "".join(out)


_clock = threading.local()
"""The current rendering's deadline, per thread (None outside a rendering)."""

_out_of_time: weakref.WeakSet[Template] = weakref.WeakSet()
"""Templates that once ran past the deadline: refused at once afterwards, so a run whose
concurrent items all start rendering such a template ends after one deadline, not one per item."""


def _tick() -> None:
    """Stop a rendering that is past its deadline, or whose process was asked to stop."""
    deadline = getattr(_clock, "deadline", None)
    if deadline is None:
        return  # Jinja folding constants while compiling: no loop runs then
    if stop.requested.is_set():
        raise KeyboardInterrupt  # SIGTERM: the run ends as an interrupted one does
    if time.monotonic() > deadline:
        raise OutOfTime(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with the bounds in the module docstring."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(bounded_join)  # every macro's and {% set %} block's text

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(BOUNDED_FILTERS)
        self.globals["lipsum"] = _lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            tag = type(node).__name__.lower().replace("fromimport", "from ... import")
            raise TemplateSyntaxError(f"{{% {tag} %}} is not allowed: a template is one self-contained text",
                                      node.lineno, name, filename)
        return _Bounds().visit(tree)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's names)
        _tick()
        args = _checked_method_call(__obj, args)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_length(result, "a call's result")
        _check_length(getattr(__obj, "__self__", None), "a call's object")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError(f"{left.bit_length()}-bit number ** {right} exceeds {MAX_INT_BITS:,} bits")
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            if len(left) + len(right) > MAX_RENDERED_CHARS:
                raise TooLong(f"joining {len(left):,} and {len(right):,} exceeds {MAX_RENDERED_CHARS:,}")
        elif operator == "%" and isinstance(left, str):
            _check_percent_widths(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format_widths(value.__self__)
        return wrapped


def render(template: Template, values: dict[str, Any]) -> str:
    """``template`` filled with ``values``, within the bounds (TooLong past the output cap)."""
    if template in _out_of_time:
        raise OutOfTime(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")
    outer = getattr(_clock, "deadline", None)
    _clock.deadline = outer or time.monotonic() + MAX_RENDER_SECONDS
    try:
        return bounded_join(template.generate(values))
    except OutOfTime:
        _out_of_time.add(template)
        raise
    except TEMPLATE_ERRORS as e:
        raise TemplateRuntimeError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        _clock.deadline = outer


class _Bounds(NodeTransformer):
    """Routes every loop through a deadline check and every ``~`` join through the length cap."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_judgekit_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), "_judgekit_join", [], [], None, None,
                            lineno=node.lineno)


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


def _check_length(value: Any, what: str) -> None:
    if isinstance(value, (str, bytes, list, dict, set)) and len(value) > MAX_RENDERED_CHARS:
        raise SecurityError(f"{what} holds {len(value):,} items, more than {MAX_RENDERED_CHARS:,}")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"multiplying numbers of {left.bit_length()} and {right.bit_length()} bits "
                                f"exceeds {MAX_INT_BITS:,} bits")
        return
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(count, int) and hasattr(sequence, "__len__") and len(sequence) * count > MAX_RENDERED_CHARS:
        raise SecurityError(f"repeating {len(sequence):,} items {count:,} times exceeds {MAX_RENDERED_CHARS:,}")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_widths(text: str) -> None:
    """``'%2000000000s' % x`` pads to gigabytes: refuse widths and precisions past the cap."""
    total = 0
    for width, precision in _PERCENT_SPEC.findall(text):
        if "*" in (width, precision):
            raise SecurityError("a '*' width in a % format is not allowed in a template")
        total += int(width or 0) + int(precision or 0)
    if total > MAX_RENDERED_CHARS:
        raise SecurityError(f"% format widths add up to {total:,}, more than {MAX_RENDERED_CHARS:,}")


def _check_format_widths(text: str) -> None:
    """``'{:>2000000000}'.format(x)`` pads to gigabytes: refuse widths past the cap, and nested ones."""
    total = 0
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format will say what is wrong
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise SecurityError("a nested {...} width in a format string is not allowed in a template")
        total += sum(int(n) for n in re.findall(r"\d+", spec or ""))
    if total > MAX_RENDERED_CHARS:
        raise SecurityError(f"format widths add up to {total:,}, more than {MAX_RENDERED_CHARS:,}")


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _checked_method_call(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse a text method call whose result would pass the cap, before it runs; the arguments to call with."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(owner, (str, bytes)) or not args:
        return args
    if name in _WIDTH_METHODS:
        _check_grown(args[0] if isinstance(args[0], int) else 0, name)
    elif name == "expandtabs":
        _check_grown(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * _int(args[0]), name)
    elif name == "replace" and len(args) >= 2 and hasattr(args[1], "__len__"):
        hits = owner.count(args[0]) if len(args[0]) else len(owner) + 1
        _check_grown(len(owner) + hits * len(args[1]), name)
    elif name == "join":
        items = list(args[0])
        _check_grown(sum(len(i) for i in items if hasattr(i, "__len__")) + len(owner) * len(items), name)
        return (items, *args[1:])
    elif name == "translate" and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if hasattr(v, "__len__")), default=1)
        _check_grown(len(owner) * max(longest, 1), name)
    return args


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _check_grown(size: int, what: str) -> None:
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(f"{what} would make {size:,} characters, more than {MAX_RENDERED_CHARS:,}")


# Jinja's filters that multiply their input, each checked first (``map('center', ...)`` reaches these too).

def _center(value: str, width: int = 80) -> str:
    _tick()
    _check_grown(_int(width), "center")
    return do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _tick()
    lines = str(s).count("\n") + 1
    _check_grown(len(str(s)) + lines * (width if isinstance(width, int) else len(str(width))), "indent")
    return do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _tick()
    _check_percent_widths(str(value))
    return do_format(value, *args, **kwargs)


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    _tick()
    items = list(value)
    if attribute is None:
        _check_grown(sum(len(str(i)) for i in items) + len(d) * len(items), "join")
    return do_join(eval_ctx, items, d, attribute)


@pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    _tick()
    text, old, new = str(s), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    _check_grown(len(text) + hits * len(new), "replace")
    return do_replace(eval_ctx, s, old, new, count)


@pass_environment
def _wordwrap(environment: Any, s: str, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    _tick()
    breaks = len(str(s)) // max(_int(width), 1) + str(s).count("\n") + 1
    _check_grown(len(str(s)) + breaks * len(wrapstring or environment.newline_sequence), "wordwrap")
    return do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    _tick()
    _check_grown(_int(linecount), "batch")
    return do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _tick()
    _check_grown(_int(slices), "slice")
    return do_slice(value, slices, fill_with)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 (Jinja's names)
    _tick()
    _check_grown(_int(n) * _int(max) * 12, "lipsum")
    return generate_lorem_ipsum(n, html, min, max)


BOUNDED_FILTERS = {
    "center": _center, "indent": _indent, "format": _format, "join": _join, "replace": _replace,
    "wordwrap": _wordwrap, "batch": _batch, "slice": _slice,
    "_judgekit_loop": _loop, "_judgekit_join": bounded_join,
}
