"""The system under test: a reference async uploader and the baselines it must beat.

This package never imports :mod:`harness`.
"""

from uploader.api import (
    OUTCOME_CLASSES,
    PROVIDERS,
    AsyncUploader,
    Fixes,
    LocalFile,
    Outcome,
    OutcomeClass,
    ProviderKind,
    Settings,
    SyncUploader,
    Target,
)
from uploader.variants import BUILTIN_VARIANTS, VariantSpec, parse_variant

__all__ = [
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
]
