"""Which sentence a missing part gets: a full disk is named whichever words the engine chose."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.db import DatabaseError, OperationalError

from kubelab.outages import disk_is_full, outage_sentence

FULL = "The disk is full"
DOWN = "database is not answering"


@pytest.mark.parametrize(
    "message",
    [
        "database or disk is full",  # SQLite's SQLITE_FULL
        'could not extend file "base/16384/2619": No space left on device',  # PostgreSQL
        'could not write to file "pg_wal/xlogtemp.123": No space left on device',
    ],
)
def test_a_full_disk_is_named_in_the_engines_own_words(message: str) -> None:
    assert disk_is_full(OperationalError(message))
    assert FULL in (outage_sentence(OperationalError(message)) or "")


def test_other_database_errors_are_the_database_not_answering() -> None:
    for exc in (OperationalError("connection refused"), DatabaseError("server closed")):
        assert not disk_is_full(exc)
        assert DOWN in (outage_sentence(exc) or "")
    assert outage_sentence(ValueError("database or disk is full")) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_sqlites_bare_io_error_on_a_full_disk_is_a_full_disk(tmp_path: Path) -> None:
    """When the disk fills as its shared-memory index grows, SQLite says only "disk I/O error";
    the free space of the database's own filesystem tells a full disk from a broken one."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "kubelab-io", str(small)],
                   check=True)  # fmt: skip
    try:
        database = str(small / "kubelab.sqlite3")
        sqlite3.connect(database).close()
        io_error = OperationalError("disk I/O error")
        assert not disk_is_full(io_error, sqlite_file=database)  # room left: a broken disk
        subprocess.run(["dd", "if=/dev/zero", f"of={small / 'filler'}", "bs=64k", "count=64"],
                       capture_output=True)  # fmt: skip
        assert disk_is_full(io_error, sqlite_file=database)
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
