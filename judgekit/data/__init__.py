"""Meta-datasets: cards that describe them, loaders that turn them into Examples.

A *card* is one YAML file in ``meta_datasets/`` (shipped as
``judgekit.meta_datasets``). It says where the data lives and how its records
become :class:`~judgekit.records.Example`. Keys (unknown keys are rejected)::

    id: llmbar/natural               # the name users type; example ids are "<id>/<key>"
    description: ...                 # what it is, in a few sentences
    hub: {id: princeton-nlp/LLMBar, config: LLMBar, split: Natural, revision: null}
    local: llmbar/Dataset/LLMBar/Natural/dataset.json   # relative to a data dir
    bundled: bundled/pairs.jsonl     # or: a file shipped inside meta_datasets/
    parts: [...]                     # or: the ids of other cards, loaded together
    format: json                     # json | jsonl | csv | parquet (default: from suffix)
    records: instances               # a JSON file holding one object: the path to its list of records
    fields:                          # canonical field -> source column(s)
      id: idx                        # optional; default the 0-based record position
      instruction: [instruction, input]   # several columns: non-blank ones joined
      response_a: response1
      response_b: response2
      gold: label                    # and/or votes: [col, col, ...] (gold = majority)
      generator_a: col               # optional, like reference
      cluster: question_id           # optional: items sharing a value are resampled together
                                     # (default: items sharing an instruction text)
      metadata: [cmp_key]            # columns kept as they are
    labels: {1: a, 2: b, 0: tie}     # raw label value -> canonical a / b / tie
    scored: {...}                    # instead of fields: responses with human scores (data/scored.py)
    classify:                        # instead of fields: single outputs with human labels (data/labelled.py)
      id: id                         # optional, as in fields
      input: [prompt]                # columns joined into the input text (none: judged alone)
      response: answer               # the output judged
      context: [document]            # optional source text the output should be faithful to
      reference: null                # optional, like system and cluster
      label: hallucination           # the gold column; or [h1, h2, h3] (one per annotator),
                                     # or one column holding a list of annotators' labels
      group: [item, text]            # optional: one record per annotator, these columns name the output
      labels: {"yes": fail, "no": pass}  # raw value -> label name; the label set in this order
      positive: fail                 # the problem class (optional)
      descriptions: {fail: ..., pass: ...}  # what each label means, for the judge's prompt
      extract: {instance: REGEX}     # named groups of the pattern become columns
      metadata: [ID]                 # a dotted name reaches into nested objects
    verify:                          # with classify: a program labels model responses (data/ifeval.py)
      program: ifeval                # local holds IFEval's inputs; labels are the checkers' verdicts
      responses: ifeval/.../gpt4.jsonl   # the responses judged, found like local (run --responses replaces it)
      level: instruction             # one output per (response, instruction), or prompt: one per response
    allow_empty_responses: false     # true where the humans judged empty outputs
    joins:                           # extra files keyed to the records, used when present
      - {path: ..., match: [_row, index], fields: {generator_a: ..., metadata: [...]}}
    annotators: 1                    # human labels behind each gold label
    size: 100                        # expected number of records
    license: MIT
    citation: "..."
    notes: "..."                     # label convention, caveats

Where the data is read from, in order: an explicit path (a file, or a folder
laid out like the staged datasets folder), the file shipped in the wheel
(``bundled``), the folder named by ``JUDGEKIT_DATA_DIR``, then the HF hub.
A relative ``local`` in a user's own card file is relative to that card.

JSON files may hold one array of records or JSON Lines; the loader looks at
the first character rather than trusting the suffix, because some upstream
``.json`` files are JSON Lines.
"""

from judgekit.data.cards import Card, Fields, builtin_cards, load_card
from judgekit.data.examples import majority
from judgekit.data.loader import (
    DATA_DIR_ENV,
    Availability,
    Dataset,
    list_datasets,
    load_dataset,
    parse_label_names,
    parse_labels,
    parse_mapping,
    summarize,
)

__all__ = [
    "DATA_DIR_ENV", "Availability", "Card", "Dataset", "Fields", "builtin_cards", "list_datasets",
    "load_card", "load_dataset", "majority", "parse_label_names", "parse_labels", "parse_mapping",
    "summarize",
]
