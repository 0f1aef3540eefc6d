"""Test-only uploader variants for the hardening tests, loaded by spec as
``tests.hardening.hardening_variants:NAME`` so the real worker process runs them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from uploader import LocalFile, Outcome, Settings, Target
from uploader.sync_baseline import SyncBaselineUploader

__all__ = ["KEY_SINK_ENV", "KeyLeaker", "KeySpy", "SlowUploader"]

# Where KeySpy writes the key the runner gave its worker (the run's key is random per run
# and, by design, written nowhere the test could read it).
KEY_SINK_ENV = "UPLOADBENCH_TEST_KEY_SINK"


class KeySpy:
    """The sync baseline, after noting the run's API key in ``$UPLOADBENCH_TEST_KEY_SINK``."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        sink = os.environ.get(KEY_SINK_ENV)
        if sink:
            with Path(sink).open("a", encoding="utf-8") as out:
                out.write(target.key + "\n")
        return SyncBaselineUploader().upload_many(files, target, settings)


class KeyLeaker:
    """A careless uploader: prints the key on stdout (the worker's JSON channel) and
    stderr, then dies with the key in its exception. The runner keeps such a worker's
    stderr and error: the key must be gone from both."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        print(f"debug: Authorization: Bearer {target.key}")
        print(f"debug: key={target.key}", file=sys.stderr)
        raise RuntimeError(f"upload failed for key {target.key}")


class SlowUploader:
    """The sync baseline, one file at a time with a pause first: trials long enough that a
    test can kill the run between them."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        import time

        time.sleep(float(os.environ.get("UPLOADBENCH_TEST_SLOW_S", "0.5")))
        return SyncBaselineUploader().upload_many(files, target, settings)
