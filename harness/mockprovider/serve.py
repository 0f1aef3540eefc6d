"""Serve the mock as a process: arguments, the faults file, readiness line, clean stop.

Shared by ``uploadbench mock`` and ``python -m harness.mockprovider``. The first line on
stdout is the base URL, printed only once the socket accepts connections; logs go to stderr.
With ``--tls`` the URL is ``https://`` and the per-start CA certificate is written (PEM) to
``--ca-file`` (default: a temporary file named on stderr, removed on stop) before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, ScenarioError
from harness.mockprovider.config import HASH_ALGOS, MockConfig
from harness.mockprovider.faults import FaultSpec, FaultValueError, validate_faults
from harness.mockprovider.server import MockServer
from harness.mockprovider.tls import TLS_VERSIONS, make_tls

__all__ = ["KEYS_ENV", "add_arguments", "config_from_args", "load_faults_file", "serve"]

# The keys to accept when --keys is not given. An environment is readable only by its own
# user (/proc/PID/environ is 0400), a command line by everyone (ps).
KEYS_ENV = "UPLOADBENCH_MOCK_KEYS"

log = logging.getLogger("uploadbench.mock")


def _byte_count(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    scale = units.get(value[-1:], 1)
    try:
        number = int(value[:-1] if scale > 1 else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (e.g. 2G, 512M)") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r}")
    return number * scale


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The mock's command-line options."""
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow --host to be a non-loopback address (exposes the mock to the network)",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started the mock dies (even by SIGKILL)",
    )
    parser.add_argument(
        "--faults",
        metavar="FILE",
        help="HTTP faults to apply: .json ({seed, faults} or a list) or .toml (seed, [[faults]])",
    )
    parser.add_argument(
        "--store",
        default="hash",
        help="'hash' (default) keeps only digests and sizes; 'disk:DIR' also keeps the bytes "
        "in DIR so uploads can be downloaded again (docs/mock.md)",
    )
    parser.add_argument(
        "--keys",
        default=None,
        help=f"comma-separated API keys to accept (default: ${KEYS_ENV}, else sk-test); "
        f"prefer ${KEYS_ENV} for real secrets: any local user can read a command line",
    )
    parser.add_argument(
        "--hash",
        dest="hash_algo",
        choices=HASH_ALGOS,
        default="xxh3_128",
        help="content hash the mock records per upload, for the harness's integrity check "
        "(default xxh3_128)",
    )
    parser.add_argument(
        "--tls",
        nargs="?",
        const="1.3",
        default=None,
        choices=TLS_VERSIONS,
        metavar="VERSION",
        help="serve HTTPS with a CA and certificate made for this start, pinned to TLS "
        "VERSION (1.2 or 1.3; --tls alone: 1.3)",
    )
    parser.add_argument(
        "--ca-file",
        default=None,
        metavar="PATH",
        help="with --tls: write the CA certificate (PEM) that clients must trust to PATH "
        "(default: a temporary file, named on stderr)",
    )
    parser.add_argument("--seed", type=int, default=None, help="fault seed (default 0)")
    parser.add_argument(
        "--buckets", default="uploads", help="comma-separated Supabase buckets to pre-create"
    )
    parser.add_argument(
        "--max-bytes",
        type=_byte_count,
        default=None,
        metavar="N",
        help="raise every provider's size limit to N bytes (e.g. 2G) for big-file runs",
    )


def load_faults_file(path: Path) -> tuple[int | None, tuple[FaultSpec, ...]]:
    """Read ``{"seed": N, "faults": [...]}`` or a bare list (JSON), or ``seed = N`` plus
    ``[[faults]]`` tables (TOML). Raises :class:`ScenarioError` naming the field."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(name, "", f"cannot read: {exc.strerror}") from None
    doc: Any
    try:
        doc = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(
            name, "", f"not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}"
        ) from None
    if isinstance(doc, list):
        doc = {"faults": doc}
    if not isinstance(doc, dict):
        raise ScenarioError(name, "", "must hold a list of faults or {seed, faults}")
    unknown = set(doc) - {"seed", "faults"}
    if unknown:
        raise ScenarioError(name, sorted(unknown)[0], "unknown key; allowed: seed, faults")
    seed = doc.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ScenarioError(name, "seed", f"must be an integer, got {seed!r}")
    try:
        specs = validate_faults(doc.get("faults", []))
    except FaultValueError as err:
        raise ScenarioError(name, err.field, err.problem) from None
    return seed, specs


def config_from_args(args: argparse.Namespace) -> MockConfig:
    """Build the :class:`MockConfig` the options describe."""
    seed, faults = (None, ()) if not args.faults else load_faults_file(Path(args.faults))
    if args.seed is not None:
        seed = args.seed
    text = args.keys if args.keys is not None else os.environ.get(KEYS_ENV) or "sk-test"
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    buckets = tuple(b.strip() for b in args.buckets.split(",") if b.strip())
    limits: dict[str, int] = {}
    if args.max_bytes is not None:
        limits = {
            "kimi_max_bytes": args.max_bytes,
            "glm_max_bytes": args.max_bytes,
            "supabase_max_bytes": args.max_bytes,
        }
    return MockConfig(
        keys=keys,
        store=args.store,
        hash_algo=args.hash_algo,
        seed=seed or 0,
        faults=faults,
        host=args.host,
        allow_non_loopback=args.allow_non_loopback,
        buckets=buckets,
        **limits,  # type: ignore[arg-type]
    )


# How often an --exit-with-parent mock looks whether its parent is still there: a killed
# harness leaves no other trace the mock could wait on (its stdin is /dev/null).
PARENT_POLL_S = 0.5


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once the process is re-parented: the one that started it has died."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("mock provider: the process that started it (pid %d) is gone", parent)
            stop.set()
            return
        await asyncio.sleep(PARENT_POLL_S)


async def _serve(
    config: MockConfig,
    port: int,
    *,
    exit_with_parent: bool = False,
    tls: str | None = None,
    ca_file: str | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    context = None
    temporary: Path | None = None
    if tls is not None:
        material = make_tls(tls)
        context = material.server_context
        if ca_file is None:
            handle, name = tempfile.mkstemp(prefix="uploadbench-mock-ca-", suffix=".pem")
            os.close(handle)
            ca_file = name
            temporary = Path(name)
        # written before the URL is printed: a caller that saw the URL can read the CA
        material.write_ca(ca_file)
        log.info("mock provider: TLS %s, CA certificate in %s", tls, ca_file)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(os.getppid(), stop)) if exit_with_parent else None
    try:
        async with MockServer(config, port, ssl_context=context) as server:
            # the readiness signal: callers wait for this line, never sleep
            sys.stdout.write(server.url + "\n")
            sys.stdout.flush()
            log.info("mock provider serving at %s (store=%s)", server.url, config.store)
            await stop.wait()
            log.info("mock provider stopping")
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if watcher is not None:
            watcher.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT; return the exit code (0 on a clean stop)."""
    config = config_from_args(args)
    tls = getattr(args, "tls", None)
    ca_file = getattr(args, "ca_file", None)
    if ca_file is not None and tls is None:
        raise HarnessError("mock: --ca-file needs --tls")
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    try:
        asyncio.run(
            _serve(
                config,
                args.port,
                exit_with_parent=args.exit_with_parent,
                tls=tls,
                ca_file=ca_file,
            )
        )
    except OSError as exc:  # pragma: no cover - bind errors are turned into HarnessError
        raise HarnessError(f"mock: {exc}") from None
    return 0
