"""File sets: the same bytes everywhere, a manifest that matches them, reuse and clean."""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import pytest
import xxhash

from harness import fileset as fileset_module
from harness.errors import HarnessError
from harness.fileset import FileSet, clean, file_bytes, materialize
from harness.scenario import FilesSpec

# Pinned: the generator is SHAKE-128, a standard, so these hold on every machine and Python.
# If one changes, bump fileset.GENERATOR (old caches must not be reused).
KNOWN_SHA256 = {
    "random": "913db2a368d865242d17cd4240816f86907003dec7f79d939b1a5cd2b2bb7d69",
    "text": "6d4d81aa7fe4ddd509f75893e2ad8f936dceff61829cf13479a3c90121fff0c4",
    "zeros": "be58603025b9752289c4917b47da4d9290bbdd9c11d0d1a5213388cd7101432e",
}
SIZE = 3 * 1024 * 1024 + 5  # crosses block boundaries and ends on a partial block


@pytest.mark.parametrize("content", sorted(KNOWN_SHA256))
def test_bytes_are_pinned(content: str) -> None:
    data = file_bytes(42, 0, SIZE, content)
    assert len(data) == SIZE
    assert hashlib.sha256(data).hexdigest() == KNOWN_SHA256[content]


def test_bytes_depend_on_seed_index_and_size() -> None:
    base = file_bytes(1, 0, 4096, "random")
    assert base == file_bytes(1, 0, 4096, "random")
    assert base != file_bytes(2, 0, 4096, "random")
    assert base != file_bytes(1, 1, 4096, "random")
    assert base[:4000] != file_bytes(1, 0, 4000, "random")
    with pytest.raises(ValueError, match="random, zeros or text"):
        file_bytes(1, 0, 10, "lorem")


def test_content_kinds_compress_as_documented() -> None:
    def ratio(content: str) -> float:
        data = file_bytes(5, 0, 256 * 1024, content)
        return len(zlib.compress(data, 6)) / len(data)

    assert ratio("random") > 0.99
    assert 0.4 < ratio("text") < 0.8
    assert ratio("zeros") < 0.01
    assert file_bytes(5, 0, 1000, "text").decode("ascii").count(" ") > 50


def spec(sizes: tuple[int, ...] = (1000, 2 * 1024 * 1024, 0), content: str = "random") -> FilesSpec:
    return FilesSpec(count=len(sizes), sizes=sizes, content=content, seed=9)


def test_materialize_writes_files_and_a_manifest(tmp_path: Path) -> None:
    fs = materialize(spec(), tmp_path)
    assert isinstance(fs, FileSet)
    assert not fs.reused
    assert [f.name for f in fs.files] == ["f0000-1000B.bin", "f0001-2MiB.bin", "f0002-0B.bin"]
    assert fs.total_bytes == 1000 + 2 * 1024 * 1024
    manifest = json.loads(fs.manifest_path.read_text())
    for index, (local, entry) in enumerate(zip(fs.files, manifest["files"], strict=True)):
        data = local.path.read_bytes()
        assert data == file_bytes(9, index, local.size, "random")
        assert local.size == entry["size"] == len(data)
        assert local.hash_algo == "xxh3_128"
        assert local.content_hash == entry["xxh3_128"] == xxhash.xxh3_128(data).hexdigest()
    assert fs.dir.parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [fs.dir.name]  # no temp folder left


def test_cache_is_reused_by_content(tmp_path: Path) -> None:
    first = materialize(spec(), tmp_path)
    mtimes = [f.path.stat().st_mtime_ns for f in first.files]
    again = materialize(spec(), tmp_path)
    assert again.reused
    assert again.files == first.files
    assert [f.path.stat().st_mtime_ns for f in again.files] == mtimes
    other = materialize(spec(content="zeros"), tmp_path)
    assert other.dir != first.dir
    assert not other.reused


def test_a_truncated_or_corrupted_file_is_rebuilt(tmp_path: Path) -> None:
    first = materialize(spec(), tmp_path)
    victim = first.files[1].path
    with victim.open("r+b") as f:
        f.truncate(10)
    rebuilt = materialize(spec(), tmp_path)
    assert not rebuilt.reused
    assert victim.read_bytes() == file_bytes(9, 1, 2 * 1024 * 1024, "random")

    # same size, different bytes: only a verifying run notices
    with victim.open("r+b") as f:
        f.write(b"\xff" * 16)
    assert materialize(spec(), tmp_path).reused
    verified = materialize(spec(), tmp_path, verify=True)
    assert not verified.reused
    assert xxhash.xxh3_128(victim.read_bytes()).hexdigest() == verified.files[1].content_hash


def test_sha256_on_request(tmp_path: Path) -> None:
    materialize(spec(), tmp_path)
    fs = materialize(spec(), tmp_path, hash_algo="sha256")
    assert fs.reused
    for local in fs.files:
        assert local.hash_algo == "sha256"
        assert local.content_hash == hashlib.sha256(local.path.read_bytes()).hexdigest()
    manifest = json.loads(fs.manifest_path.read_text())
    assert all({"xxh3_128", "sha256"} <= set(e) for e in manifest["files"])
    with pytest.raises(HarnessError, match="hash_algo must be one of xxh3_128, sha256"):
        materialize(spec(), tmp_path, hash_algo="md5")


def test_clean_removes_file_sets_only(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    materialize(spec(), cache)
    materialize(spec(content="text"), cache)
    (cache / ".tmp-fs-leftover").mkdir()
    assert clean(cache) == 2
    assert not cache.exists()
    assert clean(cache) == 0

    materialize(spec(), cache)
    (cache / "keep.txt").write_text("not ours")
    assert clean(cache) == 1
    assert [p.name for p in cache.iterdir()] == ["keep.txt"]


def test_unwritable_cache_is_a_harness_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(HarnessError, match="cannot create the file set"):
        materialize(spec(), blocker / "cache")


@pytest.mark.slow
def test_names_widen_for_many_files(tmp_path: Path) -> None:
    fs = materialize(FilesSpec(count=10001, sizes=(1,) * 10001, content="zeros", seed=0), tmp_path)
    assert fs.files[0].name == "f00000-1B.bin"
    assert fs.files[-1].name == "f10000-1B.bin"
    assert len(os.listdir(fs.dir)) == 10002


def test_public_names() -> None:
    assert set(fileset_module.__all__) == {
        "GENERATOR",
        "HASH_ALGOS",
        "FileSet",
        "FilesLike",
        "clean",
        "default_cache_dir",
        "file_bytes",
        "materialize",
    }


def test_concurrent_materialize_of_one_set_agrees(tmp_path: Path) -> None:
    # two runs (or shards on one box) may build the same set at once
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        sets = list(pool.map(lambda _: materialize(spec(), tmp_path), range(4)))
    assert len({s.files for s in sets}) == 1
    assert [p.name for p in tmp_path.iterdir()] == [sets[0].dir.name]
    for index, local in enumerate(sets[0].files):
        assert local.path.read_bytes() == file_bytes(9, index, local.size, "random")
