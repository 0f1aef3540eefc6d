"""Provider selection: which target can take a file of a given size, and how (the
investigation's "provider selection"). Pure functions over documented limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from uploader.api import Settings, Target

__all__ = [
    "GLM_PURPOSE_LIMITS",
    "Choice",
    "ProviderLimits",
    "choose",
    "max_upload_bytes",
    "supabase_method",
]

MB = 1024 * 1024
# Kimi: "max file size is 100MB" (files page and its 400 message).
KIMI_MAX_BYTES = 100 * MB
# GLM: per purpose (bigmodel.cn file API); anything above 100 MB is HTTP 435.
GLM_PURPOSE_LIMITS: Mapping[str, int] = {
    "batch": 100 * MB,
    "file-extract": 50 * MB,
    "code-interpreter": 20 * MB,
    "agent": 20 * MB,
}
GLM_MAX_BYTES = 100 * MB
# Supabase self-hosted defaults: UPLOAD_FILE_SIZE_LIMIT_STANDARD 50 MiB, a bucket may set
# less; the global UPLOAD_FILE_SIZE_LIMIT is 500 MB.
SUPABASE_DEFAULT_BUCKET_LIMIT = 50 * MB

Method = Literal["multipart", "raw", "tus"]


@dataclass(frozen=True)
class ProviderLimits:
    """Size limits a deployment enforces; override what your account or bucket differs in."""

    kimi_max_bytes: int = KIMI_MAX_BYTES
    glm_purpose_limits: Mapping[str, int] = field(default_factory=lambda: dict(GLM_PURPOSE_LIMITS))
    glm_max_bytes: int = GLM_MAX_BYTES
    supabase_bucket_limits: Mapping[str, int] = field(default_factory=dict)
    supabase_default_limit: int = SUPABASE_DEFAULT_BUCKET_LIMIT


@dataclass(frozen=True)
class Choice:
    """A target that accepts the file and the upload method to use."""

    target: Target
    method: Method


def max_upload_bytes(target: Target, limits: ProviderLimits) -> int:
    """The largest file ``target`` accepts."""
    if target.provider == "kimi":
        return limits.kimi_max_bytes
    if target.provider == "glm":
        return min(
            limits.glm_purpose_limits.get(target.purpose, limits.glm_max_bytes),
            limits.glm_max_bytes,
        )
    return limits.supabase_bucket_limits.get(target.bucket, limits.supabase_default_limit)


def supabase_method(size: int, settings: Settings) -> Method:
    """Raw single request below ``tus_threshold_bytes``, TUS resumable at or above it:
    a cut then costs one 6 MiB chunk instead of the whole file."""
    return "tus" if size >= settings.tus_threshold_bytes else "raw"


def choose(
    size: int, targets: Sequence[Target], settings: Settings, limits: ProviderLimits | None = None
) -> Choice | None:
    """The first of ``targets`` (in the caller's order of preference) whose limit admits
    ``size`` bytes, or None. Empty files fit nowhere: Kimi rejects them and nobody
    needs them uploaded."""
    if size < 0:
        raise ValueError("size must be >= 0")
    limits = limits or ProviderLimits()
    if size == 0:
        return None
    for target in targets:
        if size <= max_upload_bytes(target, limits):
            method: Method = (
                supabase_method(size, settings) if target.provider == "supabase" else "multipart"
            )
            return Choice(target, method)
    return None
