"""Users' own files and cards: generic loading, bad input named precisely, card validation."""

import json
from collections import Counter

import pandas as pd
import pytest

from judgekit.data import load_card, load_dataset, majority, parse_labels, parse_mapping
from judgekit.errors import BadInput

ROWS = [
    {"uid": "q1", "prompt": "Name a prime number.", "out1": "7", "out2": "8", "label": 1,
     "r1": 1, "r2": 1, "r3": 2},
    {"uid": "q2", "prompt": "Say hello in French.", "out1": "Hola", "out2": "Bonjour", "label": 2,
     "r1": 2, "r2": 0, "r3": 0},
    {"uid": "q3", "prompt": "Pick a colour.", "out1": "Red", "out2": "Blue", "label": 0,
     "r1": 1, "r2": 2, "r3": 0},
]
MAPPING = "id=uid,instruction=prompt,response_a=out1,response_b=out2,gold=label,votes=r1+r2+r3"
LABELS = "1=a,2=b,0=tie"


def _write(folder, fmt, rows=ROWS):
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    path = folder / f"pairs.{fmt}"
    if fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_generic_file_with_mapping(tmp_path, fmt):
    dataset = load_dataset(str(_write(tmp_path, fmt)), mapping=MAPPING, labels=LABELS)
    assert dataset.id == "pairs"
    assert [e.id for e in dataset.examples] == ["pairs/q1", "pairs/q2", "pairs/q3"]
    assert [e.gold for e in dataset.examples] == ["a", "b", "tie"]
    assert dataset.examples[1].votes == ("b", "tie", "tie")
    assert dataset.examples[0].instruction == "Name a prime number."
    assert (dataset.examples[1].response_a, dataset.examples[1].response_b) == ("Hola", "Bonjour")


def test_the_three_formats_give_the_same_examples_and_hash(tmp_path):
    loaded = [load_dataset(str(_write(tmp_path / fmt, fmt)), mapping=MAPPING, labels=LABELS)
              for fmt in ("jsonl", "csv", "parquet")]
    assert loaded[0].examples == loaded[1].examples == loaded[2].examples
    assert len({d.content_hash for d in loaded}) == 1


def test_gold_from_votes_when_no_gold_column(tmp_path):
    path = _write(tmp_path, "jsonl")
    dataset = load_dataset(str(path), mapping=MAPPING + ",gold=", labels=LABELS)
    # q1: a,a,b -> a; q2: b,tie,tie -> tie; q3: a,b,tie (three-way draw) -> tie
    assert [e.gold for e in dataset.examples] == ["a", "tie", "tie"]


def test_default_mapping_uses_canonical_names(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"instruction": "Hi", "response_a": "x", "response_b": "y", "gold": "b"}) + "\n")
    example = load_dataset(str(path)).examples[0]
    assert (example.id, example.gold) == ("plain/0", "b")


def test_users_card_file_with_relative_path(tmp_path):
    _write(tmp_path / "data", "csv")
    card = tmp_path / "mine.yaml"
    card.write_text(
        "id: team/pairs\ndescription: our pairs\nlocal: data/pairs.csv\n"
        "fields: {id: uid, instruction: prompt, response_a: out1, response_b: out2, gold: label,\n"
        "         metadata: [r1]}\n"
        "labels: {1: a, 2: b, 0: tie}\nlicense: internal\ncitation: none\n"
    )
    dataset = load_dataset(str(card))
    assert [e.id for e in dataset.examples] == ["team/pairs/q1", "team/pairs/q2", "team/pairs/q3"]
    assert [e.metadata["r1"] for e in dataset.examples] == ["1", "2", "1"]  # CSV cells stay text
    assert Counter(e.gold for e in dataset.examples) == Counter({"a": 1, "b": 1, "tie": 1})


def test_users_card_naming_a_missing_file(tmp_path):
    card = tmp_path / "mine.yaml"
    card.write_text("id: t\ndescription: d\nlocal: gone.jsonl\nfields: {}\nlicense: x\ncitation: y\n")
    with pytest.raises(BadInput, match=r"gone\.jsonl: file not found \(named by the card for t\)"):
        load_dataset(str(card))


def test_mapping_overrides_a_cards_columns(tmp_path):
    path = _write(tmp_path, "jsonl")
    dataset = load_dataset(str(path), mapping=MAPPING + ",response_a=out2,response_b=out1", labels=LABELS)
    assert dataset.examples[0].response_a == "8"


def test_hub_route_reads_through_hf_datasets(tmp_path, monkeypatch):
    # `datasets.load_dataset` takes a local folder the same way as a hub id; the hub id is pointed at
    # one here (an hf: id itself may never be a path), so the hub route runs end to end without the network.
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    folder = tmp_path / "hubby"
    _write(folder, "parquet").rename(folder / "train.parquet")
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda repo, *args, **kwargs: real(str(folder) if repo == "someone/hubby" else repo, *args,
                                                           **kwargs))
    dataset = load_dataset("hf:someone/hubby", mapping=MAPPING, labels=LABELS)
    assert dataset.source == "hub: someone/hubby"
    assert [e.gold for e in dataset.examples] == ["a", "b", "tie"]
    assert dataset.examples[2].votes == ("a", "b", "tie")
    assert dataset.examples[0].id == "hf:someone/hubby/q1"


def test_hub_spec_without_network_is_bad_input(monkeypatch):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BadInput,
                       match=r"hf:someone/pairs:main@test: data not found: .*the HF hub \(someone/pairs\) failed"):
        load_dataset("hf:someone/pairs:main@test", mapping=MAPPING)


def test_parse_mapping_and_labels():
    assert parse_mapping("instruction=a+b, gold=label,votes=x+y") == {
        "instruction": ["a", "b"], "gold": "label", "votes": ["x", "y"]}
    assert parse_labels("1=a, 2=b,0=tie") == {"1": "a", "2": "b", "0": "tie"}
    with pytest.raises(BadInput, match="--mapping: 'answer=out1'"):
        parse_mapping("answer=out1")
    with pytest.raises(BadInput, match="--labels: '3=c'"):
        parse_labels("1=a,3=c")


def test_majority_rule():
    assert majority(("a", "a", "b")) == "a"
    assert majority(("tie", "tie", "b")) == "tie"
    assert majority(("a", "b")) == "tie"
    assert majority(("a", "b", "tie")) == "tie"
    assert majority(()) is None


def test_missing_explicit_path_and_mapping_on_a_combined_set(tmp_path):
    with pytest.raises(BadInput, match=r"--path: .*nowhere does not exist"):
        load_dataset("llmbar/natural", path=tmp_path / "nowhere")
    with pytest.raises(BadInput, match="llmbar/adversarial combines other datasets"):
        load_dataset("llmbar/adversarial", mapping="gold=label")


def test_unknown_spec_is_bad_input():
    with pytest.raises(BadInput, match="unknown dataset 'no/such/set'"):
        load_dataset("no/such/set")


# ---- bad input: one line naming the file, the line or record, and the field

GOOD = {"id": "x1", "instruction": "Do it.", "response_a": "done", "response_b": "not done", "gold": "a"}


def _jsonl(tmp_path, *records, raw_lines=()):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in records] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


BAD_JSONL = {
    "invalid-json": (lambda p: _jsonl(p, GOOD, raw_lines=['{"id": "x2", "instruction": ']),
                     r"bad\.jsonl:2: invalid JSON"),
    "missing-field": (lambda p: _jsonl(p, GOOD, {k: v for k, v in GOOD.items() if k != "response_b"} | {"id": "x2"}),
                      r"bad\.jsonl: line 2: field 'response_b': missing"),
    "empty-response": (lambda p: _jsonl(p, GOOD, GOOD | {"id": "x2", "response_a": "  "}),
                       r"bad\.jsonl: line 2: field 'response_a': empty response"),
    "label-out-of-range": (lambda p: _jsonl(p, GOOD, GOOD | {"id": "x2", "gold": "c"}),
                           r"bad\.jsonl: line 2: field 'gold': label 'c' out of range \(expected a, b, tie\)"),
    "duplicate-id": (lambda p: _jsonl(p, GOOD, GOOD),
                     r"bad\.jsonl: line 2: field 'id': duplicate id 'bad/x1' \(first at line 1\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSONL))
def test_bad_jsonl_names_file_line_and_field(tmp_path, case):
    make, pattern = BAD_JSONL[case]
    path = make(tmp_path)
    with pytest.raises(BadInput, match=pattern) as error:
        load_dataset(str(path), mapping="id=id")
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "x2", "instruction": "caf\xe9"}\n')
    with pytest.raises(BadInput, match=r"bad\.jsonl:2: undecodable bytes \(not UTF-8\)"):
        load_dataset(str(path))


def test_csv_problems_name_the_record(tmp_path):
    path = _write(tmp_path, "csv", ROWS[:1] + [ROWS[1] | {"label": 7}])
    with pytest.raises(BadInput, match=r"pairs\.csv: record 2: field 'label': label '7' out of range"):
        load_dataset(str(path), mapping=MAPPING, labels=LABELS)


@pytest.mark.parametrize(("row", "fields"), [("Say 0,zero,not zero,a,b", 5), ("Say 0,zero,a", 3)])
def test_a_csv_row_with_another_field_count_names_its_line(tmp_path, row, fields):
    """pandas takes a surplus first field as the index and shifts every column; we refuse."""
    path = tmp_path / "pairs.csv"
    path.write_text(f'instruction,response_a,response_b,gold\nSay 1,one,"not\none",a\n{row}\n', encoding="utf-8")
    with pytest.raises(BadInput, match=rf"pairs\.csv:4: {fields} fields, but the header has 4"):
        load_dataset(str(path))


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("instruction,response_a,response_a,gold\nSay 1,one,two,a\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"pairs\.csv:1: column 'response_a' appears twice"):
        load_dataset(str(path))


def test_parquet_missing_value_names_the_record(tmp_path):
    path = _write(tmp_path, "parquet", ROWS[:2] + [ROWS[2] | {"out2": None}])
    with pytest.raises(BadInput, match=r"pairs\.parquet: record 3: field 'out2': missing"):
        load_dataset(str(path), mapping=MAPPING, labels=LABELS)


def test_a_record_that_is_not_an_object(tmp_path):
    path = _jsonl(tmp_path, GOOD, raw_lines=["[1, 2]"])
    with pytest.raises(BadInput, match=r"bad\.jsonl: line 2: a record must be a JSON object"):
        load_dataset(str(path))


def test_bad_json_array_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"instruction": "x"},\n  {oops}\n]\n')
    with pytest.raises(BadInput, match=r"bad\.json:3: invalid JSON"):
        load_dataset(str(path))


def test_unknown_suffix(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("hello")
    with pytest.raises(BadInput, match=r"pairs\.txt: unknown file type '\.txt'"):
        load_dataset(str(path))


# ---- card validation: the card file and the key


def _card(tmp_path, text):
    path = tmp_path / "card.yaml"
    path.write_text(text, encoding="utf-8")
    return path


VALID = "id: t\ndescription: d\nlocal: x.jsonl\nfields: {}\nlicense: MIT\ncitation: c\n"


def test_valid_minimal_card(tmp_path):
    card = load_card(_card(tmp_path, VALID))
    assert card.local == str(tmp_path / "x.jsonl")
    assert card.labels == {"a": "a", "b": "b", "tie": "tie"}


@pytest.mark.parametrize("text, pattern", [
    (VALID + "colour: blue\n", r"card\.yaml: key 'colour': Extra inputs are not permitted"),
    (VALID.replace("license: MIT\n", ""), r"card\.yaml: key 'license': Field required"),
    (VALID.replace("fields: {}", "fields: {answer: out}"), r"card\.yaml: key 'fields\.answer': Extra inputs"),
    (VALID + "labels: {1: a, 2: c}\n", r"card\.yaml: key 'labels\.2': Input should be 'a', 'b' or 'tie'"),
    (VALID.replace("local: x.jsonl\n", ""), r"card\.yaml: a card needs one of 'hub', 'local', 'bundled'"),
    ("id: t\n  bad: [\n", r"card\.yaml:\d+: not valid YAML"),
    ("- just\n- a list\n", r"card\.yaml: a card must be a YAML mapping"),
])
def test_card_errors_name_file_and_key(tmp_path, text, pattern):
    with pytest.raises(BadInput, match=pattern):
        load_card(_card(tmp_path, text))


@pytest.mark.parametrize("mapping", [None, "instruction=prompt,response_a=out1,response_b=out2,gold=label", "id="])
def test_duplicate_ids_in_a_local_file_are_refused_whatever_the_mapping(tmp_path, mapping):
    rows = [{"id": "q1", "prompt": "p1", "out1": "x", "out2": "y", "label": 1,
             "instruction": "p1", "response_a": "x", "response_b": "y", "gold": "a"},
            {"id": "q1", "prompt": "p2", "out1": "z", "out2": "w", "label": 2,
             "instruction": "p2", "response_a": "z", "response_b": "w", "gold": "b"}]
    path = _write(tmp_path, "jsonl", rows)
    with pytest.raises(BadInput, match=r"pairs\.jsonl: line 2: field 'id': duplicate id 'q1' \(first at line 1\)"):
        load_dataset(str(path), mapping=mapping, labels="1=a,2=b,a=a,b=b")


def test_an_empty_file_a_folder_and_a_missing_path_each_say_so(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(BadInput, match=r"empty: holds no examples"):
        load_dataset(str(tmp_path / "empty.jsonl"))
    with pytest.raises(BadInput, match=r"is a folder; give a data file"):
        load_dataset(str(tmp_path))
    with pytest.raises(BadInput, match=r"gone\.csv: no such file"):
        load_dataset(str(tmp_path / "gone.csv"))
