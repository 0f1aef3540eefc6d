"""Test-only uploader variants, loaded by spec as ``tests.helpers:NAME`` (the
``package.module:attr`` form), so the real worker process runs them."""

from __future__ import annotations

import time
from collections.abc import Sequence

from uploader import LocalFile, Outcome, Settings, Target

__all__ = ["HangUploader", "crash_uploader", "hang_uploader"]

# Far beyond any test's trial deadline, yet bounded so a runner bug cannot leave it forever.
HANG_S = 120.0


class HangUploader:
    """Never finishes in time: the runner must kill it at the trial's deadline."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        time.sleep(HANG_S)
        return []


class CrashUploader:
    """Dies the way a buggy uploader does: an exception out of ``upload_many``."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        raise RuntimeError("uploader exploded")


hang_uploader = HangUploader()
crash_uploader = CrashUploader()
