"""Turn a :class:`~uploader.variants.VariantSpec` into an uploader: built-ins by name,
``cmd:`` templates, and users' own ``package.module:attr``.

Each variant's module is imported only when that variant is loaded: a worker runs one
variant, and the sync baseline's ``supabase``/``postgrest`` imports alone cost about 0.5 s
of every worker start on a loaded machine.
"""

from __future__ import annotations

import importlib
import inspect

from uploader.api import AsyncUploader, SyncUploader
from uploader.variants import VariantSpec

__all__ = ["is_async", "load_variant"]


def load_variant(spec: VariantSpec) -> SyncUploader | AsyncUploader:
    """The uploader ``spec`` names. Raises ``ValueError`` (bad spec) or ``ImportError``
    (user code cannot be imported) with a one-line message."""
    if spec.kind == "builtin":
        if spec.name == "sync":
            from uploader.sync_baseline import SyncBaselineUploader

            return SyncBaselineUploader()
        if spec.name == "naive-async":
            from uploader.naive import NaiveAsyncUploader

            return NaiveAsyncUploader()
        if spec.name == "async":
            from uploader.reference import ReferenceUploader

            # Plain "async" leaves Settings.fixes in charge; "async[...]" pins its switches.
            return ReferenceUploader(fixes=None if spec.spec == "async" else spec.fixes)
        raise ValueError(f"unknown built-in variant {spec.name!r}")
    if spec.kind == "cmd":
        from uploader.command import CommandUploader

        return CommandUploader(spec.name)
    if spec.kind == "import":
        return _load_import(spec.name)
    raise ValueError(f"unknown variant kind {spec.kind!r}")


def _load_import(name: str) -> SyncUploader | AsyncUploader:
    module_name, _, attr_path = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import {module_name!r} for variant {name!r}: {exc}") from exc
    obj: object = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"{module_name!r} has no attribute {attr_path!r}") from None
    # A class or factory is called with no arguments; an instance is used as is.
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "upload_many")):
        try:
            obj = obj()
        except Exception as exc:
            raise ValueError(f"variant {name!r}: calling {attr_path} failed: {exc}") from exc
    if not isinstance(obj, SyncUploader | AsyncUploader):
        raise ValueError(
            f"variant {name!r} is not an uploader: it needs an upload_many(files, target, "
            "settings) method"
        )
    return obj


def is_async(uploader: SyncUploader | AsyncUploader) -> bool:
    """Whether ``upload_many`` must be awaited."""
    return inspect.iscoroutinefunction(uploader.upload_many)
