"""Protocol specs: loading, validation errors naming file and key, sandboxed templates, CLI."""

import json
import textwrap

import pytest

from judgekit.errors import BadInput
from judgekit.protocols import list_protocols, load_protocol

DESIGN_IDS = [
    "llmbar/vanilla", "llmbar/rules", "llmbar/cot", "llmbar/metrics", "llmbar/reference",
    "llmbar/metrics-reference", "llmbar/swap", "llmbar/swap-cot", "llmbar/rating", "llmbar/rules-1shot",
    "llmbar/rules-2shot", "mtbench/pairwise", "reife/fine-grained-diff", "reife/multi-aspect-two",
    "reife/multi-aspect-single", "reife/prepair", "reife/self-consistency", "reife/protocol-consistency",
    "checklist/drfr", "decompose-critique", "panel/majority",
]

MINIMAL = """\
description: mine
citation: me 2026
strategy: pairwise
parser: {format: llmbar}
templates:
  compare: "{{ instruction }} | {{ output_1 }} | {{ output_2 }}"
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_design_protocol_is_built_in_and_cites_its_paper():
    assert set(DESIGN_IDS) <= set(list_protocols())
    for protocol_id in DESIGN_IDS:
        protocol = load_protocol(protocol_id)
        assert protocol.id == protocol_id
        assert "arXiv" in protocol.citation
        assert protocol.content_hash.startswith("sha256:")


def test_llmbar_family_answers_with_the_literal_labels():
    for protocol_id in DESIGN_IDS:
        protocol = load_protocol(protocol_id)
        if protocol_id.startswith("llmbar/") and protocol.strategy != "rating":
            compare = protocol.templates["compare"]
            assert "Output (a)" in compare and "Output (b)" in compare and protocol.parser.format == "llmbar"


def test_content_hash_changes_with_the_spec(tmp_path):
    one = load_protocol(write(tmp_path, MINIMAL, "one.yaml"))
    two = load_protocol(write(tmp_path, MINIMAL.replace("mine", "yours"), "two.yaml"))
    assert one.content_hash != two.content_hash
    assert one.content_hash == load_protocol(tmp_path / "one.yaml").content_hash


def test_user_spec_file_gets_its_id_from_the_file_name(tmp_path):
    protocol = load_protocol(write(tmp_path, MINIMAL, "my-judge.yaml"))
    assert protocol.id == "my-judge" and protocol.calls_per_item == 2 and protocol.orders == "both"


def test_template_syntax_inside_values_is_never_evaluated(tmp_path):
    protocol = load_protocol(write(tmp_path, MINIMAL))
    nasty = "{{ 7 * 7 }} {% for x in range(3) %}X{% endfor %} {{ ''.__class__.__mro__ }}"
    rendered = protocol.render("compare", instruction=nasty, output_1="{{ output_2 }}", output_2="b")
    assert rendered == f"{nasty} | {{{{ output_2 }}}} | b"
    assert "49" not in rendered


def test_templates_run_sandboxed(tmp_path):
    spec = MINIMAL.replace('"{{ instruction }} |', "\"{{ ''.__class__.__mro__[1].__subclasses__() }} |")
    protocol = load_protocol(write(tmp_path, spec))
    with pytest.raises(Exception, match="unsafe|not safely"):
        protocol.render("compare", instruction="i", output_1="a", output_2="b")


@pytest.mark.parametrize("change, message", [
    (lambda s: s + "colour: blue\n", "unknown key 'colour'"),
    (lambda s: s.replace("citation: me 2026\n", ""), "missing key 'citation'"),
    (lambda s: s.replace("compare:", "judge:"), "missing template 'compare'"),
    (lambda s: s.replace("{format: llmbar}", "{format: regex, pattern: '(?P<first>a'}"), "parser.pattern: bad regex"),
    (lambda s: s.replace("{format: llmbar}", "{format: regex, pattern: '(?P<x>a)'}"), "parser.pattern: named groups"),
    (lambda s: s.replace("{format: llmbar}", "{format: llmbar, strict: true}"), "unknown key 'parser.strict'"),
    (lambda s: s.replace("{format: llmbar}", "{format: xml}"), "parser.format: 'xml'"),
    (lambda s: s.replace("strategy: pairwise", "strategy: telepathy"), "strategy: 'telepathy'"),
    (lambda s: s + "params: {temprature: 0.5}\n", "unknown key 'params.temprature'"),
    (lambda s: s + "orders: sideways\n", "orders"),
    (lambda s: s + "options: {stages: []}\n", "unknown key 'options.stages'"),
    (lambda s: s.replace('"{{ instruction }}', '"{{ instruction '), "templates.compare: bad Jinja"),
    (lambda s: "- a\n- b\n", "must be a mapping"),
    (lambda s: s.replace("{{ output_2 }}", "{{ outptu_2 }}"), "templates.compare: unknown variable 'outptu_2'"),
    (lambda s: s + "  : [\n", "not valid YAML"),
])
def test_bad_specs_name_the_file_and_key(tmp_path, change, message):
    path = write(tmp_path, change(MINIMAL))
    with pytest.raises(BadInput, match=message) as info:
        load_protocol(path)
    assert str(path) in str(info.value)


def test_staged_and_composite_specs_are_checked(tmp_path):
    staged = (MINIMAL.replace("strategy: pairwise", "strategy: staged")
              + "options: {stages: [{name: notes, per: galaxy}]}\n")
    with pytest.raises(BadInput, match=r"options.stages\[0\]"):
        load_protocol(write(tmp_path, staged))
    votes = "description: v\ncitation: c\nstrategy: votes\noptions: {members: [llmbar/rules, no/such]}\n"
    with pytest.raises(BadInput, match="member protocol 'no/such'"):
        load_protocol(write(tmp_path, votes, "votes.yaml"))


def test_unknown_protocol_id_lists_the_known_ones():
    with pytest.raises(BadInput, match="unknown protocol 'llmbar/nope'.*llmbar/vanilla"):
        load_protocol("llmbar/nope")


def test_missing_spec_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="cannot read protocol spec"):
        load_protocol(tmp_path / "absent.yaml")


def test_cli_list_and_show_state_calls_per_item(cli):
    code, out, err = cli("protocols", "list", "--format", "json")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)["protocols"]}
    assert rows["llmbar/vanilla"]["calls_per_item"] == 2
    assert rows["llmbar/metrics-reference"]["calls_per_item"] == 4
    assert rows["reife/self-consistency"]["calls_per_item"] == 10
    assert "disagree" in rows["llmbar/swap"]["calls_per_item"]
    code, out, err = cli("protocols", "show", "llmbar/cot")
    assert code == 0, err
    assert "calls_per_item" in out and "template: compare" in out and "Output (a)" in out
    code, out, _ = cli("protocols", "show", "mtbench/pairwise", "--format", "json")
    as_json = json.loads(out)
    assert as_json["parser"] == {"format": "mtbench"} and as_json["ties"] is True
    assert "[[C]]" in as_json["templates"]["system"]


def test_cli_show_bad_spec_exits_2_with_one_line(tmp_path, cli):
    path = write(tmp_path, MINIMAL + "colour: blue\n")
    code, out, err = cli("protocols", "show", str(path))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "unknown key 'colour'" in err


def test_parser_formats_are_listed_once():
    """The spec loader's formats are the parser record's own, and every format reads a slot or a score."""
    from typing import get_args

    from judgekit.judge.protocol import ParserFormat
    from judgekit.judge.spec import PARSER_FORMATS, READS

    assert PARSER_FORMATS == get_args(ParserFormat)
    assert set(READS["slot"]) | set(READS["score"]) == set(PARSER_FORMATS)


def test_a_built_in_spec_is_parsed_once_and_a_users_file_every_time(tmp_path):
    """Built-in specs are package data: analysis asks for a run's protocol per run, so they are parsed once.
    A user's spec file may change between two loads in one process (a notebook editing it): read every time."""
    assert load_protocol("llmbar/vanilla") is load_protocol("llmbar/vanilla")
    mine = tmp_path / "mine.yaml"
    mine.write_text("description: mine\ncitation: none\nstrategy: pairwise\n"
                    "templates: {compare: 'A {{ output_1 }} B {{ output_2 }}'}\n", encoding="utf-8")
    first = load_protocol(mine)
    mine.write_text(mine.read_text(encoding="utf-8").replace("description: mine", "description: edited"),
                    encoding="utf-8")
    assert first.description == "mine" and load_protocol(mine).description == "edited"
