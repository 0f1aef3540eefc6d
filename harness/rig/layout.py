"""The mock provider's URL layout: where each provider lives below the mock's root.

The one copy of this table. The mock routes by it (:mod:`harness.mockprovider.app`) and the
runner configures uploaders by it; the uploader itself never knows it: the worker hands it
the provider's base URL and the metadata project's URL (:class:`uploader.Target`). Kept
free of imports so the runner does not load aiohttp to read it.
"""

from __future__ import annotations

__all__ = ["METADATA_PROVIDER", "PROVIDER_PATHS", "metadata_project_url", "provider_url"]

# provider -> path below the mock's root; a real client is configured with root + path
PROVIDER_PATHS: dict[str, str] = {
    "kimi": "/kimi/v1",
    "glm": "/glm/api/paas/v4",
    "supabase": "/supabase",
}

# Kimi and GLM hold no database: the seed system wrote its metadata rows to the Supabase
# project served beside them.
METADATA_PROVIDER = "supabase"


def provider_url(root: str, provider: str) -> str:
    """The base URL an uploader of ``provider`` is configured with."""
    return root.rstrip("/") + PROVIDER_PATHS[provider]


def metadata_project_url(root: str) -> str:
    """The Supabase project URL (PostgREST at ``/rest/v1``) holding the uploads table."""
    return provider_url(root, METADATA_PROVIDER)
