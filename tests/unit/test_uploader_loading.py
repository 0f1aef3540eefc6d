"""Variant loading, cmd: templates and provider selection: no sockets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uploader.api import Fixes, LocalFile, Settings, Target
from uploader.command import CommandUploader, render_command
from uploader.loading import is_async, load_variant
from uploader.naive import NaiveAsyncUploader
from uploader.reference import ReferenceUploader
from uploader.selection import Choice, ProviderLimits, choose, max_upload_bytes, supabase_method
from uploader.sync_baseline import SyncBaselineUploader
from uploader.variants import parse_variant

MB = 1024 * 1024
SUPA = Target("supabase", "http://127.0.0.1:9/supabase", "sk-k")
KIMI = Target("kimi", "http://127.0.0.1:9/kimi/v1", "sk-k")
GLM = Target("glm", "http://127.0.0.1:9/glm/api/paas/v4", "sk-k", purpose="agent")


def test_builtins_load_by_name() -> None:
    assert isinstance(load_variant(parse_variant("sync")), SyncBaselineUploader)
    assert isinstance(load_variant(parse_variant("naive-async")), NaiveAsyncUploader)
    plain = load_variant(parse_variant("async"))
    assert isinstance(plain, ReferenceUploader)
    assert plain.fixes is None  # Settings.fixes decides
    off = load_variant(parse_variant("async[streaming=off, pooling=off]"))
    assert isinstance(off, ReferenceUploader)
    assert off.fixes == Fixes(streaming=False, pooling=False)
    assert not is_async(load_variant(parse_variant("sync")))
    assert is_async(plain)


def test_cmd_and_import_variants() -> None:
    cmd = load_variant(parse_variant("cmd:curl -sf {url}"))
    assert isinstance(cmd, CommandUploader)
    assert is_async(cmd)
    user = load_variant(parse_variant("uploader.naive:NaiveAsyncUploader"))
    assert isinstance(user, NaiveAsyncUploader)


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("no_such_module_xyz:Thing", ImportError, "cannot import 'no_such_module_xyz'"),
        ("uploader.naive:Missing", ImportError, "has no attribute 'Missing'"),
        ("os.path:sep", ValueError, "is not an uploader"),
        ("json:dumps", ValueError, "calling dumps failed"),
    ],
)
def test_bad_imports_say_why_in_one_line(spec: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        load_variant(parse_variant(spec))
    assert "\n" not in str(info.value)


def test_render_command_substitutes_inside_arguments(tmp_path: Path) -> None:
    f = LocalFile(tmp_path / "my file.bin", 3, "h")
    argv = render_command(
        'curl -sf -X POST -H "Authorization: Bearer {key}" --data-binary @{path} {url}', f, SUPA
    )
    assert argv == [
        "curl",
        "-sf",
        "-X",
        "POST",
        "-H",
        "Authorization: Bearer sk-k",
        "--data-binary",
        f"@{tmp_path}/my file.bin",  # one argument, never re-split
        "http://127.0.0.1:9/supabase/storage/v1/object/uploads/my%20file.bin",
    ]
    assert render_command("x {name} {url} {other}", f, KIMI) == [
        "x",
        "my file.bin",
        "http://127.0.0.1:9/kimi/v1/files",
        "{other}",
    ]
    with pytest.raises(ValueError, match="cannot split"):
        render_command('curl "unclosed', f, SUPA)
    with pytest.raises(ValueError, match="empty"):
        CommandUploader("   ")


def test_limits_per_provider() -> None:
    limits = ProviderLimits(supabase_bucket_limits={"uploads": 10 * MB})
    assert max_upload_bytes(KIMI, limits) == 100 * MB
    assert max_upload_bytes(GLM, limits) == 20 * MB
    assert max_upload_bytes(Target("glm", "u", "k", purpose="batch"), limits) == 100 * MB
    assert max_upload_bytes(Target("glm", "u", "k", purpose="new-thing"), limits) == 100 * MB
    assert max_upload_bytes(SUPA, limits) == 10 * MB
    assert max_upload_bytes(SUPA, ProviderLimits()) == 50 * MB


def test_choose_by_size_in_preference_order() -> None:
    s = Settings(tus_threshold_bytes=6 * MB)
    order = [GLM, SUPA, KIMI]
    assert choose(1 * MB, order, s) == Choice(GLM, "multipart")
    assert choose(30 * MB, order, s) == Choice(SUPA, "tus")
    assert choose(5 * MB, [SUPA], s) == Choice(SUPA, "raw")
    assert choose(80 * MB, order, s) == Choice(KIMI, "multipart")
    assert choose(200 * MB, order, s) is None
    assert choose(0, order, s) is None
    assert supabase_method(6 * MB, s) == "tus"
    assert supabase_method(6 * MB - 1, s) == "raw"
    with pytest.raises(ValueError, match=">= 0"):
        choose(-1, order, s)


@pytest.mark.parametrize(
    "module",
    [
        "uploader.protocol",
        "uploader.retry",
        "uploader.timeouts",
        "uploader.selection",
        "uploader.reference",
        "uploader.sync_baseline",
        "uploader.naive",
        "uploader.command",
        "uploader.loading",
    ],
)
def test_modules_export_what_they_define(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert mod.__all__ == sorted(mod.__all__, key=lambda n: (not n.isupper(), n))
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_uploader_never_imports_harness() -> None:
    """docs/design.md's layers: a fresh interpreter loading every uploader module has no
    harness module afterwards."""
    import subprocess
    import sys

    code = (
        "import sys, uploader.loading, uploader.selection, uploader.protocol;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'harness'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_loading_one_variant_imports_only_its_own_modules() -> None:
    # A fresh interpreter: this test process has imported every variant already.
    probe = (
        "import sys\n"
        "from uploader.loading import load_variant\n"
        "from uploader.variants import parse_variant\n"
        "load_variant(parse_variant('async'))\n"
        "load_variant(parse_variant('cmd:curl -sf {url}'))\n"
        "heavy = ('supabase', 'postgrest', 'storage3', 'supabase_auth', 'realtime')\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in heavy))\n"
        "print('uploader.sync_baseline' in sys.modules, 'uploader.naive' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "False False"]
