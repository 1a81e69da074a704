"""Free-text matching: load time, query latency and peak memory, model against baselines.

Inputs: the bundled phrase sets (every utterance of the four scenarios with a NAME.phrases.yaml,
matched against its scene's options, names masked, as ``crisis-sim test --phrases`` does).

- **load**: ``EmbeddingBackend()`` (read the 23 MB model, check its sha256, check and read the
  tokenizer, start an onnxruntime session) against a bare ``onnxruntime.InferenceSession`` of
  the same file in the same run. Target: ratio <= 1.5 (what our checks add).
- **query**: one typed answer matched at a decision whose options are already embedded (the
  usual case in play: the options are embedded once when the scene opens), median over the
  utterances, against the bare model call on the same answer (tokenize + ``session.run``).
  Target: ratio <= 1.5 (pooling, similarity, names, decision rule).
- **lexical / model**: the fallback's median query against the model's. Target: <= 1 (the
  fallback must never be the slow one).
- **memory**: peak resident memory (VmHWM) of a fresh process that loads the matcher and
  matches 50 answers, against a fresh process that only starts a bare onnxruntime session of
  the same file and runs it 50 times. Target: ratio <= 1.3 (what crisis-sim adds: the library,
  the tokenizer, the checked bytes). The lexical process is printed too: most of the model's
  memory is onnxruntime folding the file's int8 weights into float32 at load
  (docs/free-text.md#speed-and-memory).

Without the [freetext] extra the model rows are skipped with a note.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks.timing import Result, compare, table

NAME = "freetext"
MEMORY_SCRIPT = """
import sys
from pathlib import Path
from scoring import phrases
from simulator.freetext import load_matcher, scenario_names
matcher = load_matcher(sys.argv[1])
suite = phrases.collect(Path(sys.argv[2]))
names = scenario_names(suite.scenario)
done = 0
for u in suite.utterances[:50]:
    opts = phrases.options(suite.scenario.scenes[u.scene].choices, suite.rubric)
    matcher.match(u.text, opts, names)
    done += 1
assert done == 50
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def _cases(quick: bool) -> list[tuple[str, list, frozenset[str]]]:
    """(text, options, names) for every phrase of the bundled phrase sets (every 4th with --quick)."""
    from scoring import phrases
    from simulator.freetext import scenario_names
    from simulator.library import bundled_dir

    cases = []
    for sidecar in sorted(bundled_dir().glob("*.phrases.yaml")):
        suite = phrases.collect(sidecar.with_name(sidecar.name.replace(".phrases.yaml", ".yaml")))
        assert suite.ok and suite.scenario is not None and suite.rubric is not None, suite.diagnostics
        names = scenario_names(suite.scenario)
        for u in suite.utterances:
            cases.append((u.text, phrases.options(suite.scenario.scenes[u.scene].choices, suite.rubric), names))
    return cases[::4] if quick else cases


def _per_query(matcher, cases) -> list[float]:
    for text, opts, names in cases:  # warm: every scene's options embedded once, as in play
        matcher.match(text, opts, names)
    times = []
    for text, opts, names in cases:
        start = time.perf_counter()
        matcher.match(text, opts, names)
        times.append(time.perf_counter() - start)
    return times


BARE_MEMORY_SCRIPT = """
from pathlib import Path
import numpy as np
import onnxruntime as ort
from simulator.freetext import embedding
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(str(embedding.model_path()), options, providers=["CPUExecutionProvider"])
ids = np.ones((1, 24), dtype=np.int64)
for _ in range(50):
    session.run(None, {"input_ids": ids, "attention_mask": ids, "token_type_ids": np.zeros_like(ids)})
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def _peak_kib(script: str, *args: str) -> int:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def run(quick: bool) -> list[Result]:
    from simulator.freetext import embedding, load_matcher
    from simulator.library import bundled_dir

    cases = _cases(quick)
    lexical = load_matcher("lexical")
    lexical_times = _per_query(lexical, cases)
    lexical_median = statistics.median(lexical_times)
    rows: list[list[object]] = [["lexical query (median)", lexical_median * 1000, "ms", len(cases)]]
    results: list[Result] = []
    if embedding.missing_modules():
        print(table(["measure", "value", "unit", "n"], rows, title=f"{NAME}: model not installed, lexical only"))
        print("  (install the [freetext] extra for the model's rows)")
        return results

    import numpy as np
    import onnxruntime as ort

    path = embedding.model_path()

    def bare_load():
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    loads = compare(bare_load, lambda: embedding.EmbeddingBackend(), repeats=3 if quick else 5)
    bare, ours = loads.baseline, loads.ours
    session = bare.value
    bare.value = ours.value = None
    rows += [["model load, bare onnxruntime (median)", bare.median * 1000, "ms", len(bare.runs)],
             ["model load, ours (median)", ours.median * 1000, "ms", len(ours.runs)]]
    results.append(Result(NAME, "model load / bare onnxruntime load", ours.median / bare.median, 1.5))

    model = load_matcher("minilm")
    backend = model.backend
    model_times = _per_query(model, cases)
    tokenizer = backend._tokenizer  # the same tokenizer, so the baseline does the same model work
    bare_times = []
    for text, _opts, _names in cases:
        start = time.perf_counter()
        enc = tokenizer.encode_batch([text])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        bare_times.append(time.perf_counter() - start)
    model_median, bare_median = statistics.median(model_times), statistics.median(bare_times)
    rows += [
        ["model query, bare tokenize + run (median)", bare_median * 1000, "ms", len(cases)],
        ["model query, ours (median)", model_median * 1000, "ms", len(cases)],
        ["model query, ours (95th percentile)", sorted(model_times)[int(0.95 * len(model_times))] * 1000, "ms",
         len(cases)],
    ]
    results.append(Result(NAME, "model query / bare model call", model_median / bare_median, 1.5))
    results.append(Result(NAME, "lexical query / model query", lexical_median / model_median, 1.0))

    scenario = next(iter(sorted(bundled_dir().glob("*.phrases.yaml"))))
    scenario = scenario.with_name(scenario.name.replace(".phrases.yaml", ".yaml"))
    peak_lexical = _peak_kib(MEMORY_SCRIPT, "lexical", str(scenario))
    peak_bare = _peak_kib(BARE_MEMORY_SCRIPT)
    peak_model = _peak_kib(MEMORY_SCRIPT, "minilm", str(scenario))
    rows += [
        ["peak memory, lexical process", peak_lexical / 1024, "MiB", 1],
        ["peak memory, bare onnxruntime process", peak_bare / 1024, "MiB", 1],
        ["peak memory, model process", peak_model / 1024, "MiB", 1],
    ]
    results.append(Result(NAME, "model process peak / bare onnxruntime process peak", peak_model / peak_bare, 1.3))
    print(table(["measure", "value", "unit", "n"], rows, title=f"{NAME}: free-text matching"))
    return results
