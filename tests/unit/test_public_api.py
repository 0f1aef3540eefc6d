"""The exported names are the intended ones (httpx's habit): adding to the public API is a
decision, not an accident."""

from __future__ import annotations

import uploader


def test_uploader_exports_are_intended() -> None:
    expected = {
        "BUILTIN_VARIANTS",
        "OUTCOME_CLASSES",
        "PROVIDERS",
        "AsyncUploader",
        "Fixes",
        "LocalFile",
        "Outcome",
        "OutcomeClass",
        "ProviderKind",
        "Settings",
        "SyncUploader",
        "Target",
        "VariantSpec",
        "parse_variant",
    }
    assert expected <= set(uploader.__all__)
    for name in uploader.__all__:
        assert hasattr(uploader, name), name


def test_target_repr_hides_the_key() -> None:
    target = uploader.Target(
        provider="kimi", base_url="http://127.0.0.1:1/kimi/v1", key="sk-SECRET"
    )
    assert "sk-SECRET" not in repr(target)
