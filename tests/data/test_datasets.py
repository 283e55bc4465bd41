"""The built-in meta-datasets load from the staged copies exactly as their PROVENANCE files describe."""

import json
import shutil
from collections import Counter

import pytest

from judgekit.data import builtin_cards, list_datasets, load_dataset
from judgekit.errors import BadInput

DESIGN_IDS = {
    "llmbar/natural", "llmbar/adversarial/neighbor", "llmbar/adversarial/gptinst",
    "llmbar/adversarial/gptout", "llmbar/adversarial/manual", "llmbar/faireval",
    "llmbar/llmeval2", "llmbar/mtbench", "pandalm", "judgekit/bundled", "llmbar/adversarial",
}

# (dataset, items, gold a, gold b) from llmbar/PROVENANCE.md
LLMBAR_COUNTS = [
    ("llmbar/natural", 100, 42, 58),
    ("llmbar/adversarial/neighbor", 134, 75, 59),
    ("llmbar/adversarial/gptinst", 92, 45, 47),
    ("llmbar/adversarial/gptout", 47, 22, 25),
    ("llmbar/adversarial/manual", 46, 22, 24),
    ("llmbar/faireval", 66, 41, 25),
    ("llmbar/llmeval2", 200, 92, 108),
    ("llmbar/mtbench", 200, 101, 99),
    ("llmbar/adversarial", 319, 164, 155),
]
LLMBAR_FILES = {
    "llmbar/natural": "llmbar/Dataset/LLMBar/Natural/dataset.json",
    "llmbar/adversarial/neighbor": "llmbar/Dataset/LLMBar/Adversarial/Neighbor/dataset.json",
    "llmbar/faireval": "llmbar/Dataset/Processed/FairEval/dataset.json",
    "llmbar/llmeval2": "llmbar/Dataset/Processed/LLMEval2/dataset.json",
    "llmbar/mtbench": "llmbar/Dataset/Processed/MT-Bench/dataset.json",
}


def test_cards_cover_every_design_id():
    cards = builtin_cards()
    assert DESIGN_IDS <= set(cards)
    for card in cards.values():
        assert card.license and card.citation and card.description


def test_bundled_card_says_how_it_was_made():
    card = builtin_cards()["judgekit/bundled"]
    text = " ".join(card.description.split()).lower()
    assert "constructed by the judgekit project's authors" in text
    assert "not crowd-labelled" in text


@pytest.mark.parametrize("dataset_id, n, a, b", LLMBAR_COUNTS)
def test_llmbar_counts_and_label_balance(data_dir, dataset_id, n, a, b):
    dataset = load_dataset(dataset_id)
    golds = Counter(e.gold for e in dataset.examples)
    assert len(dataset.examples) == n
    assert golds == Counter({"a": a, "b": b})
    assert all(e.votes == () for e in dataset.examples)


@pytest.mark.parametrize("dataset_id", sorted(LLMBAR_FILES))
def test_llmbar_gold_matches_the_raw_label_on_every_item(data_dir, dataset_id):
    raw = json.loads((data_dir / LLMBAR_FILES[dataset_id]).read_text(encoding="utf-8"))
    examples = load_dataset(dataset_id).examples
    assert [e.id for e in examples] == [f"{dataset_id}/{i}" for i in range(len(raw))]
    for example, record in zip(examples, raw):
        assert example.instruction == record["input"]
        assert (example.response_a, example.response_b) == (record["output_1"], record["output_2"])
        assert example.gold == {1: "a", 2: "b"}[record["label"]]


def test_llmbar_label_spot_checks_by_content(data_dir):
    natural = {e.id: e for e in load_dataset("llmbar/natural").examples}
    upper = natural["llmbar/natural/17"]
    # The instruction asks for upper case; output_2 is the upper-cased text and is labelled 2.
    assert upper.instruction.startswith("Almost one year since Mayim Bialik hosted")
    assert upper.response_b.startswith("ALMOST ONE YEAR SINCE MAYIM BIALIK")
    assert upper.gold == "b"
    neighbor = load_dataset("llmbar/adversarial/neighbor").examples[0]
    assert neighbor.instruction == "Give three tips for staying healthy."
    assert neighbor.response_b.startswith("1. Get enough sleep")
    assert neighbor.gold == "b"
    llmeval2 = load_dataset("llmbar/llmeval2").examples[0]
    assert llmeval2.response_a == "enter a home and go into the kitchen."
    assert llmeval2.gold == "a"


def test_llmeval2_staged_file_is_a_json_array_and_jsonl_reads_the_same(data_dir, tmp_path):
    # The datasets README says LLMEval2 is JSON Lines despite its .json name; that holds for
    # the raw LLMEval2 release, but LLMBar's processed copy staged here is one JSON array.
    staged = data_dir / LLMBAR_FILES["llmbar/llmeval2"]
    assert staged.read_text(encoding="utf-8").lstrip().startswith("[")
    as_lines = tmp_path / "dataset.json"
    records = json.loads(staged.read_text(encoding="utf-8"))
    as_lines.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    from_array = load_dataset("llmbar/llmeval2")
    from_lines = load_dataset("llmbar/llmeval2", path=as_lines)
    assert from_lines.examples == from_array.examples
    assert from_lines.content_hash == from_array.content_hash
    # One item has a whitespace-only output that humans still judged; it is kept.
    assert not from_array.examples[169].response_b.strip()


def test_faireval_generators_joined_on_every_item(data_dir):
    examples = load_dataset("llmbar/faireval").examples
    assert len(examples) == 66
    assert {(e.generator_a, e.generator_b) for e in examples} == {("gpt-3.5-turbo", "vicuna-13b")}
    assert examples[0].metadata["vicuna_question_id"] == 1


def test_mtbench_generators_resolved_on_192_of_200(data_dir):
    examples = load_dataset("llmbar/mtbench").examples
    both = [e for e in examples if e.generator_a and e.generator_b]
    assert len(both) == 192
    first = examples[0]
    assert (first.generator_a, first.generator_b, first.gold) == ("gpt-4", "llama-13b", "a")
    assert first.metadata["mt_bench_question_id"] == 156
    ambiguous = examples[12]
    assert ambiguous.generator_a is None and ambiguous.generator_b == "claude-v1"
    assert ambiguous.metadata["output_1_candidates"] == ["gpt-3.5-turbo", "gpt-4", "vicuna-13b-v1.2"]
    gpt4 = [e for e in examples if "gpt-4" in (e.generator_a, e.generator_b)]
    assert len(gpt4) == 51  # llmbar_generators/PROVENANCE.md


def test_generators_are_skipped_when_the_folder_is_absent(data_dir, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(data_dir / "llmbar" / "Dataset" / "Processed" / "FairEval",
                    root / "llmbar" / "Dataset" / "Processed" / "FairEval")
    dataset = load_dataset("llmbar/faireval", path=root)
    assert len(dataset.examples) == 66
    assert all(e.generator_a is None and e.generator_b is None for e in dataset.examples)
    assert "joined" not in dataset.source


def test_pandalm_votes_majority_and_recorded_judges(data_dir):
    dataset = load_dataset("pandalm")
    examples = dataset.examples
    assert len(examples) == 999
    assert all(len(e.votes) == 3 for e in examples)
    assert Counter(e.gold for e in examples) == Counter({"a": 422, "b": 472, "tie": 105})
    assert Counter(v for e in examples for v in e.votes) == Counter({"a": 1255, "b": 1416, "tie": 326})
    assert sum(len(set(e.votes)) == 1 for e in examples) == 879
    assert Counter(e.metadata["gpt_result"] for e in examples) == Counter(
        {"1": 460, "2": 476, "Tie": 38, "garbage": 25})
    assert Counter(e.metadata["pandalm_result"] for e in examples) == Counter({1: 433, 2: 459, 0: 107})


def test_pandalm_spot_checks_by_content(data_dir):
    by_id = {e.id: e for e in load_dataset("pandalm").examples}
    first = by_id["pandalm/0"]
    # Instruction and input are joined; the three annotators all chose response2 (2 -> b).
    assert first.instruction.startswith("The sentence you are given might be too wordy")
    assert first.instruction.endswith("\n\nIf you have any questions about my rate or if you find it "
                                      "necessary to increase or decrease the "
                                      "scope for this project, please let me know.")
    assert first.response_b == "If you have any questions, please let me know."
    assert first.votes == ("b", "b", "b") and first.gold == "b"
    assert first.metadata["cmp_key"] == "bloom-7b_llama-7b"
    assert (first.metadata["gpt_result"], first.metadata["pandalm_result"]) == ("1", 2)
    # Two votes for response1 and one tie: the majority wins, votes kept in order.
    split = by_id["pandalm/157"]
    assert split.votes == ("a", "a", "tie") and split.gold == "a"
    # A blank instruction with a non-blank input becomes the input alone.
    assert by_id["pandalm/466"].instruction == "Truthfulness"


def test_pandalm_boolean_responses_become_text(data_dir):
    by_id = {e.id: e for e in load_dataset("pandalm").examples}
    assert by_id["pandalm/157"].response_a == "True"
    assert by_id["pandalm/161"].response_b == "True"
    coerced = [e for e in by_id.values() if "True" in (e.response_a, e.response_b)]
    assert {e.metadata["idx"] for e in coerced} == {157, 158, 159, 161, 162, 164}


def test_ties_majority_stays_tie(data_dir):
    ties = [e for e in load_dataset("pandalm").examples if e.gold == "tie"]
    assert len(ties) == 105
    assert all(Counter(e.votes)["tie"] >= 2 for e in ties)


def test_every_available_card_has_its_stated_size(data_dir):
    for entry in list_datasets():
        assert entry.available, entry
        if entry.card.size is not None:
            assert len(load_dataset(entry.card.id).examples) == entry.card.size, entry.card.id


def test_ids_are_unique_and_loading_is_deterministic(data_dir):
    first = load_dataset("llmbar/adversarial")
    again = load_dataset("llmbar/adversarial")
    ids = [e.id for e in first.examples]
    assert len(set(ids)) == len(ids) == 319
    assert ids[0] == "llmbar/adversarial/neighbor/0"
    assert {e.subset for e in first.examples} == {
        "llmbar/adversarial/neighbor", "llmbar/adversarial/gptinst",
        "llmbar/adversarial/gptout", "llmbar/adversarial/manual"}
    assert first.content_hash == again.content_hash
    assert first.content_hash.startswith("sha256:") and len(first.content_hash) == 7 + 64


def test_limit_changes_the_hash(data_dir):
    full = load_dataset("llmbar/natural")
    head = load_dataset("llmbar/natural", limit=10)
    assert head.examples == full.examples[:10]
    assert head.content_hash != full.content_hash


def test_explicit_path_wins_over_the_data_dir(data_dir, tmp_path):
    records = json.loads((data_dir / LLMBAR_FILES["llmbar/natural"]).read_text(encoding="utf-8"))
    folder = tmp_path / "llmbar" / "Dataset" / "LLMBar" / "Natural"
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps(records[:5]), encoding="utf-8")
    from_root = load_dataset("llmbar/natural", path=tmp_path)
    from_file = load_dataset("llmbar/natural", path=folder / "dataset.json")
    assert len(from_root.examples) == len(from_file.examples) == 5
    assert str(tmp_path) in from_root.source


def test_bundled_loads_from_the_package(data_dir, monkeypatch):
    monkeypatch.delenv("JUDGEKIT_DATA_DIR")
    dataset = load_dataset("judgekit/bundled")
    assert len(dataset.examples) == dataset.card.size
    assert dataset.source.startswith("bundled")
    assert Counter(e.gold for e in dataset.examples) == Counter({"a": 24, "b": 24})
    assert all(e.metadata["deviation"] and e.metadata["note"] for e in dataset.examples)
    assert all(e.id.startswith("judgekit/bundled/") for e in dataset.examples)


@pytest.fixture
def offline(monkeypatch):
    """No data dir and the HF hub in offline mode (the same switch HF_HUB_OFFLINE=1 sets)."""
    import datasets
    import huggingface_hub.constants

    monkeypatch.delenv("JUDGEKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_local_only_dataset_without_data_says_which_variable_to_set(offline):
    with pytest.raises(BadInput, match=r"llmbar/faireval: data not found: set JUDGEKIT_DATA_DIR to a folder "
                                       r"containing llmbar/Dataset/Processed/FairEval/dataset.json"):
        load_dataset("llmbar/faireval")


def test_hub_dataset_without_network_names_the_hub_and_the_variable(offline):
    with pytest.raises(BadInput) as error:
        load_dataset("llmbar/natural")
    message = str(error.value)
    assert "JUDGEKIT_DATA_DIR" in message and "princeton-nlp/LLMBar" in message
    assert "\n" not in message


def test_listing_without_data_marks_staged_sets_unavailable(offline):
    entries = {e.card.id: e for e in list_datasets()}
    assert entries["judgekit/bundled"].available
    assert not entries["pandalm"].available and "JUDGEKIT_DATA_DIR" in entries["pandalm"].where
    assert not entries["llmbar/natural"].available and "hub" in entries["llmbar/natural"].where
