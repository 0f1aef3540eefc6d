"""The example plugin of docs/plugins.md runs end to end, exactly as the docs say to run it:
``uploadbench validate`` then ``uploadbench run`` on examples/myuploader.toml, from the
repository root."""

from __future__ import annotations

from pathlib import Path

from harness.results import load_results
from tests.factories.runs import REPORTS_FLAG, ROOT, trials_of, uploadbench

SCENARIO = ROOT / "examples" / "myuploader.toml"
PLUGIN = "mine"  # examples.myuploader:MyUploader, named once in the scenario


def test_the_example_plugin_validates_and_runs(tmp_path: Path) -> None:
    checked = uploadbench("validate", SCENARIO, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok example-plugin (")

    out = tmp_path / "reports"
    done = uploadbench(
        "run", SCENARIO, REPORTS_FLAG, out, "--against", "none", "--no-report",
        "--cache-dir", tmp_path / "c",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    trials = trials_of(load_results("latest", reports_dir=out))
    assert {(t["provider"], t["variant"]) for t in trials} == {
        (p, v) for p in ("kimi", "supabase") for v in ("sync", PLUGIN)
    }
    for trial in trials:
        assert trial["status"] == "ok", trial["error"]
        assert trial["metrics"]["success_rate"] == 1.0, trial["records"]
        assert trial["metrics"]["integrity_errors"] == 0
        assert trial["lost_files"] == []
