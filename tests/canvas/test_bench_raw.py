"""bench/canvas_bench.py's raw limit makes exactly the calls lmsync makes (endpoint by endpoint,
on the tiny site) and its call formula is the one lmsync's run stats follow."""

from __future__ import annotations

from collections import Counter

from bench.canvas_bench import expected_calls, run_raw
from connectors.canvas.simulator import ADMIN_TOKEN


def test_raw_phase_replicates_lmsync_calls(tiny):
    before = Counter(tiny.app.calls)
    raw = run_raw(tiny.base_url, ADMIN_TOKEN)
    raw_calls = Counter(tiny.app.calls) - before
    before = Counter(tiny.app.calls)
    run = tiny.sync()
    assert run.status == "succeeded", run.error
    assert Counter(tiny.app.calls) - before == raw_calls
    lmsync = {m: s["calls"] for m, s in run.stats.items()}
    assert raw["calls"] == lmsync == expected_calls(raw["formula_inputs"])
    assert raw["records"]["users"] == 10 and raw["records"]["course_progressions"] == 13
