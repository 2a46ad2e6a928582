"""The content-addressed blob store: verified entry, resumable parts, pack folders of links, garbage collection."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.content_delivery import BlobError, BlobMismatch, BlobMissing, BlobStore, FileSpec


def put(blobs: BlobStore, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    with blobs.writer(sha, len(data)) as writer:
        writer.write(data)
        writer.commit()
    return sha


@dataclass(frozen=True)
class Unchecked:
    """A file entry that skipped FileSpec's checks (a bug elsewhere): materialize must still refuse it."""

    path: str
    sha256: str


def test_blob_enters_the_store_only_verified_read_only_and_under_its_sha(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    sha = put(blobs, b"hello pack")
    found = blobs.path(sha)
    assert found == tmp_path / "blobs" / "sha256" / sha[:2] / sha
    assert found.read_bytes() == b"hello pack" and blobs.has(sha) and blobs.shas() == {sha}
    assert not stat.S_IMODE(found.stat().st_mode) & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert blobs.size_used() == len(b"hello pack") and not blobs.partial_path(sha).exists()


def test_wrong_bytes_raise_mismatch_with_both_hashes_and_leave_no_part(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = hashlib.sha256(b"meant").hexdigest()
    with blobs.writer(sha, 5) as writer:
        writer.write(b"wrong")
        with pytest.raises(BlobMismatch) as caught:
            writer.commit()
    assert str(caught.value) == f"checksum mismatch: expected sha256 {sha}, got {hashlib.sha256(b'wrong').hexdigest()}"
    assert not blobs.has(sha) and blobs.size_used() == 0


def test_short_file_raises_size_mismatch(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = hashlib.sha256(b"meant").hexdigest()
    with blobs.writer(sha, 5) as writer:
        writer.write(b"mea")
        with pytest.raises(BlobMismatch, match="size mismatch: expected 5 bytes, got 3"):
            writer.commit()


def test_part_left_by_a_cut_is_resumed_from_its_length_and_hashed_whole(tmp_path):
    blobs = BlobStore(tmp_path)
    data = os.urandom(300_000)
    sha = hashlib.sha256(data).hexdigest()
    with blobs.writer(sha, len(data)) as writer:
        writer.write(data[:123_456])
    assert blobs.partial_size(sha) == 123_456
    with blobs.writer(sha, len(data)) as writer:
        assert writer.offset == 123_456
        writer.write(data[123_456:])
        writer.commit()
    assert blobs.path(sha).read_bytes() == data


def test_part_longer_than_the_file_is_dropped(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = hashlib.sha256(b"abc").hexdigest()
    blobs.partial_path(sha).write_bytes(b"abcdef")
    with blobs.writer(sha, 3) as writer:
        assert writer.offset == 0


def test_two_writers_for_one_blob_are_refused(tmp_path):
    blobs = BlobStore(tmp_path)
    with blobs.writer("ab" * 32, 1), pytest.raises(BlobError, match="already being written"):
        blobs.writer("ab" * 32, 1)


def test_missing_blob_is_named(tmp_path):
    with pytest.raises(BlobMissing, match=r"blob (cd)+ is not in the store"):
        BlobStore(tmp_path).path("cd" * 32)


def test_malformed_sha256_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not 64 lowercase hex digits"):
        BlobStore(tmp_path).has("../../etc/passwd")


def test_materialize_links_every_file_at_its_path_and_makes_nothing_half(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    logo, film = put(blobs, b"logo"), put(blobs, b"film")
    files = [FileSpec("logo.png", 4, logo, "image/png"), FileSpec("media/film.mp4", 4, film, "video/mp4")]
    pack = blobs.materialize(files, tmp_path / "packs" / "spring-3")
    assert (pack / "logo.png").read_bytes() == b"logo" and (pack / "media/film.mp4").read_bytes() == b"film"
    assert os.stat(pack / "logo.png").st_ino == os.stat(blobs.path(logo)).st_ino
    assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == ["spring-3"]  # no building folder left
    with pytest.raises(FileExistsError):
        blobs.materialize(files, pack)


def test_materialize_with_a_missing_blob_makes_no_folder(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    logo = put(blobs, b"logo")
    with pytest.raises(BlobMissing):
        blobs.materialize([FileSpec("logo.png", 4, logo), FileSpec("film.mp4", 4, "ee" * 32)], tmp_path / "p")
    assert not (tmp_path / "p").exists() and list(tmp_path.glob(".p.*")) == []


@pytest.mark.parametrize("path", ["../outside.png", "/etc/motd", "a/../../b", "a\\..\\b", "./a", "a//b"])
def test_path_that_escapes_the_pack_folder_is_refused(tmp_path, path):
    blobs = BlobStore(tmp_path / "blobs")
    sha = put(blobs, b"x")
    with pytest.raises(ValueError, match="file path"):
        FileSpec(path, 1, sha)
    with pytest.raises(ValueError, match="file path"):
        blobs.materialize([Unchecked(path, sha)], tmp_path / "pack")
    assert not (tmp_path / "pack").exists() and not (tmp_path / "outside.png").exists()


def test_path_listed_twice_is_refused(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    sha = put(blobs, b"x")
    with pytest.raises(ValueError, match="listed twice"):
        blobs.materialize([FileSpec("a", 1, sha), FileSpec("a", 1, sha)], tmp_path / "pack")


def test_keep_only_removes_other_blobs_and_parts_but_not_a_download_in_progress(tmp_path):
    blobs = BlobStore(tmp_path)
    keep, drop = put(blobs, b"keep me"), put(blobs, b"drop me")
    blobs.partial_path("aa" * 32).write_bytes(b"stale part")
    with blobs.writer("bb" * 32, 100) as writer:
        writer.write(b"in progress")
        writer._file.flush()
        freed = blobs.keep_only([keep])
        assert blobs.partial_path("bb" * 32).exists()
    assert freed == len(b"drop me") + len(b"stale part")
    assert blobs.shas() == {keep} and not blobs.has(drop)


def test_verify_removes_a_blob_whose_bytes_changed_on_disk(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = put(blobs, b"original")
    assert blobs.verify(sha)
    found: Path = blobs.path(sha)
    found.chmod(0o644)
    found.write_bytes(b"bit rot!")
    assert not blobs.verify(sha) and not blobs.has(sha)
