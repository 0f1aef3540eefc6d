"""Deterministic upload files on disk, with a content-hash manifest, cached by content.

Bytes are a pure function of (seed, file index, size, content kind): SHAKE-128 output in
1 MiB blocks, a standard (FIPS 202) so the same scenario gives the same bytes on every
machine and Python version, at a few hundred MiB/s. ``text`` maps those bytes onto letters
with English-like frequencies (compresses to about half); ``zeros`` compresses to nothing;
``random`` does not compress.

A file set lives in ``CACHE/fs-<key>/`` where the key hashes the generator version, sizes,
content kind and seed. It is built in a temporary folder and renamed into place, so a
crash never leaves a half-written set that looks complete; a later run reuses it when its
manifest and file sizes match (``verify=True`` re-hashes every byte).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import xxhash

from harness.errors import HarnessError
from harness.units import format_size
from uploader.api import LocalFile

__all__ = [
    "GENERATOR",
    "HASH_ALGOS",
    "FileSet",
    "FilesLike",
    "clean",
    "default_cache_dir",
    "file_bytes",
    "materialize",
]

# Bump when the bytes for a given (seed, index, size, content) change: it is part of the
# cache key, so old sets are not reused by mistake.
GENERATOR = "shake128-v1"
MANIFEST = "manifest.json"
_BLOCK = 1024 * 1024


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


HASH_ALGOS: dict[str, Callable[[], _Hasher]] = {
    "xxh3_128": xxhash.xxh3_128,
    "sha256": hashlib.sha256,
}


class FilesLike(Protocol):
    """What :func:`materialize` needs of a :class:`harness.scenario.FilesSpec`."""

    @property
    def sizes(self) -> tuple[int, ...]: ...

    @property
    def content(self) -> str: ...

    @property
    def seed(self) -> int: ...


@dataclass(frozen=True)
class FileSet:
    """Files ready to upload; ``reused`` says whether the cache already had them."""

    dir: Path
    files: tuple[LocalFile, ...]
    manifest_path: Path
    reused: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _text_table() -> bytes:
    # 256 byte values spread over characters roughly as often as in English prose, so
    # "text" files compress like documents do. Counts sum to 256.
    weights = (
        (" ", 37),
        ("e", 25),
        ("t", 18),
        ("a", 16),
        ("o", 15),
        ("i", 14),
        ("n", 14),
        ("s", 13),
        ("h", 12),
        ("r", 12),
        ("d", 9),
        ("l", 8),
        ("c", 6),
        ("u", 6),
        ("m", 5),
        ("w", 4),
        ("f", 4),
        ("g", 4),
        ("y", 4),
        ("p", 3),
        ("b", 3),
        ("v", 2),
        ("k", 2),
        (",", 3),
        (".", 3),
        ("\n", 4),
        ("j", 1),
        ("x", 1),
        ("q", 1),
        ("z", 1),
        ("T", 1),
        ("A", 1),
        ("'", 1),
        ("-", 1),
        ("0", 1),
        ("1", 1),
    )
    table = b"".join(ch.encode() * n for ch, n in weights)
    assert len(table) == 256
    return table


_TEXT = _text_table()


def _blocks(seed: int, index: int, size: int, content: str) -> Iterator[bytes]:
    if content == "zeros":
        zero = bytes(_BLOCK)
        for start in range(0, size, _BLOCK):
            yield zero[: min(_BLOCK, size - start)]
        return
    for block, start in enumerate(range(0, size, _BLOCK)):
        label = f"uploadbench:{GENERATOR}:{seed}:{index}:{size}:{content}:{block}".encode()
        data = hashlib.shake_128(label).digest(min(_BLOCK, size - start))
        yield data.translate(_TEXT) if content == "text" else data


def file_bytes(seed: int, index: int, size: int, content: str) -> bytes:
    """The whole content of one file in memory (for tests and small files)."""
    if content not in ("random", "zeros", "text"):
        raise ValueError(f"content must be random, zeros or text, got {content!r}")
    return b"".join(_blocks(seed, index, size, content))


def _name(index: int, count: int, size: int) -> str:
    width = max(4, len(str(count - 1)))
    return f"f{index:0{width}d}-{format_size(size)}.bin"


def _key(files: FilesLike) -> str:
    ident = {
        "generator": GENERATOR,
        "sizes": list(files.sizes),
        "content": files.content,
        "seed": files.seed,
    }
    text = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _hash_file(path: Path, algo: str) -> str:
    hasher = HASH_ALGOS[algo]()
    with path.open("rb") as f:
        while chunk := f.read(_BLOCK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _read_manifest(path: Path, files: FilesLike) -> dict[str, Any] | None:
    """The manifest if it describes exactly these files and they exist with their sizes."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    expected = {"generator": GENERATOR, "content": files.content, "seed": files.seed}
    if any(manifest.get(k) != v for k, v in expected.items()):
        return None
    entries = manifest.get("files")
    if not isinstance(entries, list) or [
        e.get("size") if isinstance(e, dict) else None for e in entries
    ] != list(files.sizes):
        return None
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            return None
        try:
            if (path.parent / name).stat().st_size != entry["size"]:
                return None
        except OSError:
            return None
    return manifest


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _generate(files: FilesLike, target: Path, algos: Sequence[str]) -> None:
    target.mkdir(parents=True)
    count = len(files.sizes)
    entries = []
    for index, size in enumerate(files.sizes):
        name = _name(index, count, size)
        hashers = {algo: HASH_ALGOS[algo]() for algo in algos}
        with (target / name).open("wb") as f:
            for block in _blocks(files.seed, index, size, files.content):
                f.write(block)
                for hasher in hashers.values():
                    hasher.update(block)
        entries.append(
            {"name": name, "size": size} | {a: h.hexdigest() for a, h in hashers.items()}
        )
    manifest = {
        "format": 1,
        "generator": GENERATOR,
        "content": files.content,
        "seed": files.seed,
        "files": entries,
    }
    _write_json(target / MANIFEST, manifest)


def materialize(
    files: FilesLike, cache_dir: Path, hash_algo: str = "xxh3_128", *, verify: bool = False
) -> FileSet:
    """Create (or reuse) the files of ``files`` under ``cache_dir`` and return them with
    their ``hash_algo`` content hashes (``xxh3_128`` or ``sha256``). ``verify`` re-hashes a
    reused set and rebuilds it if any byte changed. Raises :class:`HarnessError`."""
    if hash_algo not in HASH_ALGOS:
        raise HarnessError(f"hash_algo must be one of {', '.join(HASH_ALGOS)}, got {hash_algo!r}")
    if files.content not in ("random", "zeros", "text"):
        raise HarnessError(f"file content must be random, zeros or text, got {files.content!r}")
    cache_dir = Path(cache_dir)
    final = cache_dir / f"fs-{_key(files)}"
    manifest_path = final / MANIFEST
    try:
        manifest = _read_manifest(manifest_path, files)
        reused = manifest is not None
        corrupt = False
        if manifest is not None and verify:
            for entry in manifest["files"]:
                actual = _hash_file(final / entry["name"], "xxh3_128")
                if entry.get("xxh3_128") != actual:
                    manifest, corrupt = None, True
                    break
        if manifest is None:
            reused = False
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache_dir / f".tmp-{final.name}-{uuid.uuid4().hex}"
            try:
                _generate(files, tmp, sorted({"xxh3_128", hash_algo}))
                # Another process may have built the same set meanwhile: keep theirs (the
                # bytes are identical) unless the one in place is known to be corrupt.
                if final.exists() and (corrupt or _read_manifest(manifest_path, files) is None):
                    shutil.rmtree(final)
                if not final.exists():
                    try:
                        os.rename(tmp, final)
                    except OSError:
                        if _read_manifest(manifest_path, files) is None:
                            raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            manifest = _read_manifest(manifest_path, files)
            if manifest is None:
                raise HarnessError(f"file set in {final} vanished while being created")
        if any(hash_algo not in entry for entry in manifest["files"]):
            for entry in manifest["files"]:
                entry[hash_algo] = _hash_file(final / entry["name"], hash_algo)
            _write_json(manifest_path, manifest)
    except OSError as exc:
        raise HarnessError(
            f"cannot create the file set in {final}: {exc.strerror or exc}"
        ) from None
    local = tuple(
        LocalFile(
            path=final / entry["name"],
            size=entry["size"],
            content_hash=entry[hash_algo],
            hash_algo=hash_algo,
        )
        for entry in manifest["files"]
    )
    return FileSet(dir=final, files=local, manifest_path=manifest_path, reused=reused)


def clean(cache_dir: Path) -> int:
    """Remove every file set (and leftover temporary folder) under ``cache_dir``; other
    files are left alone, and the folder itself goes if nothing else is in it. Returns the
    number of file sets removed."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return 0
    removed = 0
    try:
        for child in cache_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                if child.name.startswith("fs-"):
                    shutil.rmtree(child)
                    removed += 1
                elif child.name.startswith(".tmp-fs-"):
                    shutil.rmtree(child)
        with contextlib.suppress(OSError):
            cache_dir.rmdir()  # only succeeds when empty
    except OSError as exc:
        raise HarnessError(f"cannot clean {cache_dir}: {exc.strerror or exc}") from None
    return removed


def default_cache_dir() -> Path:
    """Where file sets are cached between runs: ``$XDG_CACHE_HOME/uploadbench/filesets``
    (``~/.cache/...``); outside the reports folder so CI does not upload them."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uploadbench" / "filesets"
