"""A scripted judge for testing your own pipeline without a model or a key: ``mock:POLICY``.

    mock:first              always picks the output shown first
    mock:second             always picks the output shown second
    mock:reply=Output (b)   always answers this text
    mock:replies.yaml       answers by prompt, from a file of rules
    mock:random             picks the first or the second output at random
    mock:random=yes|no      answers one of these texts at random (list one
                            twice to make it twice as likely)

"First" and "second" answer in the LLMBar (``Output (a)``) and MT-Bench
(``[[A]]``) formats at once, and with the answer token's log-probabilities
when a request asks for them, so every built-in pairwise protocol reads
them. A random policy draws each answer from a generator seeded by the
prompt and the request's sample index: the same question at the same sample
index always gets the same answer (so it caches like any other), while
another sample index (a self-consistency sample, a ``judgekit stability``
repeat) is an independent draw, each reply equally likely. A rules file (YAML
or JSON) is a list of ``{when: TEXT, reply: TEXT}`` tried in order: the first
rule whose ``when`` occurs in the prompt (system and user messages) answers;
a rule without ``when`` matches anything. From Python,
``load_judge("mock:", policy=fn)`` answers ``fn(prompt)``; those answers never
enter the response cache, since nothing names a function's behaviour (the
other policies are cached under their text or the file's hash).

The idea follows llm's ``MockModel`` and inspect_ai's ``mockllm``: the rest
of the pipeline (rendering, parsing, caching, run dirs, reports) runs for
real. Calls cost nothing; tokens are counted as whitespace-separated words.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from judgekit.backends.base import Backend, Completion, Request
from judgekit.backends.registry import register_backend
from judgekit.errors import BadInput
from judgekit.records import load_yaml

SLOT_REPLIES = {"first": ("Output (a)\n[[A]]", "a", "b"), "second": ("Output (b)\n[[B]]", "b", "a")}
"""Policy -> (reply, the label token it favours, the other one)."""

Rule = tuple[str | None, str]


@register_backend("mock")
class MockBackend(Backend):
    """Answers from a policy instead of a model; see the module docstring."""

    def __init__(self, model: str, *, policy: Callable[[str], str] | None = None) -> None:
        super().__init__(model)
        if policy is None and not model:
            raise BadInput("judge spec mock: give a policy: mock:first, mock:second, mock:reply=TEXT or mock:FILE")
        self.policy = policy
        self.rules: list[Rule] = []
        self._endpoint = "mock"
        if policy is not None:
            # A function's answers cannot be told by its name or address (an edited or
            # new function may sit at the old one's), so none of them is cached.
            self._endpoint = "mock@policy"
            self.stores_answers = False
        elif model == "random" or model.startswith("random="):
            choices = tuple(SLOT_REPLIES[slot][0] for slot in SLOT_REPLIES) if model == "random" else \
                tuple(model.removeprefix("random=").split("|"))
            self.rules = [(None, reply) for reply in choices]
        elif model not in SLOT_REPLIES and not model.startswith("reply="):
            self.rules, digest = read_rules(Path(model).expanduser())
            self._endpoint = f"mock@{digest}"  # edited rules are another judge: no stale cached answers

    @property
    def endpoint(self) -> str:
        """Part of the cache key: the rules' content (a function's answers are not cached)."""
        return self._endpoint

    async def complete(self, request: Request) -> Completion:
        prompt = "\n".join(m.content for m in request.messages)
        logprobs = None
        if self.policy is not None:
            text = self.policy(prompt)
        elif self.model in SLOT_REPLIES:
            text, favoured, other = SLOT_REPLIES[self.model]
            if request.params.top_logprobs:
                logprobs = ({favoured: -0.1, other: -2.4},)
        elif self.model.startswith("reply="):
            text = self.model.removeprefix("reply=")
        elif self.model == "random" or self.model.startswith("random="):
            text = random_reply(self.rules, prompt, request.sample)
        else:
            text = self.answer_by_rules(prompt)
        return Completion(text=text, tokens_in=len(prompt.split()), tokens_out=len(text.split()),
                          finish_reason="stop", top_logprobs=logprobs)

    def answer_by_rules(self, prompt: str) -> str:
        for when, reply in self.rules:
            if when is None or when in prompt:
                return reply
        raise BadInput(f"mock:{self.model}: no rule matches the prompt starting {prompt[:60]!r}")


def random_reply(rules: list[Rule], prompt: str, sample: int) -> str:
    """One of the rules' replies, drawn by a generator seeded by the prompt and the sample index."""
    seed = hashlib.sha256(f"{sample}\n{prompt}".encode()).digest()
    return random.Random(seed).choice(rules)[1]


def read_rules(path: Path) -> tuple[list[Rule], str]:
    """The ``{when, reply}`` rules of a file, checked, and a hash of the bytes they came from
    (one read, so the hash names the very rules that answer); errors name the file and rule."""
    try:
        content = path.read_bytes()
        data = load_yaml(content.decode("utf-8"))  # YAML reads JSON too
    except OSError as e:
        raise BadInput(f"mock:{path}: cannot read the rules file ({e.strerror}); "
                       "policies are first, second, reply=TEXT or a file") from None
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise BadInput(f"mock:{path}: not valid YAML or JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(data, list) or not data:
        raise BadInput(f"mock:{path}: expected a list of rules {{when: TEXT, reply: TEXT}}")
    rules = []
    for i, rule in enumerate(data):
        if not isinstance(rule, dict) or not {"reply"} <= set(rule) <= {"when", "reply"}:
            raise BadInput(f"mock:{path}: rule {i}: expected keys reply (and optional when)")
        when: Any = rule.get("when")
        if not isinstance(rule["reply"], str) or not (when is None or isinstance(when, str)):
            raise BadInput(f"mock:{path}: rule {i}: when and reply must be text")
        rules.append((when, rule["reply"]))
    return rules, hashlib.sha256(content).hexdigest()[:16]
