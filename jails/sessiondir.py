"""A jail's session directory on the host (bound read-only at /run/kubelab): made and changed
by root, never writable by the session's uid.

The directory and every subdirectory belong to root (0755), so the session's uid cannot
add, rename or replace an entry even if some path to it were writable: root's later work there
(the token refresh's rename) only ever touches names root controls. Files the jail must read
privately (the kubeconfig, 0400) are handed to the session's uid; the rest stay root's.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path


def session_dir_create(
    runtime_dir: Path, name: str, files: Mapping[str, tuple[str, int]], uid: int | None
) -> Path:
    """runtime_dir/name with `files` (relative name -> (content, mode)) in it."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(runtime_dir, 0o711)  # noqa: S103 (traverse only)
    directory = runtime_dir / name
    directory.mkdir(mode=0o700)
    os.chmod(directory, 0o755)  # noqa: S103 (the jail lists and reads it; it changes nothing)
    for relative, (content, mode) in files.items():
        session_file_write(directory, relative, content, mode, uid)
    return directory


def session_file_write(
    directory: Path, relative: str, content: str, mode: int, uid: int | None
) -> None:
    """Write (or atomically replace) one file: a fresh temporary renamed over the name."""
    path = directory / relative
    if path.parent != directory:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)  # noqa: S103 (read by the jail)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            os.fchmod(handle.fileno(), mode)
            if uid is not None and mode & 0o044 == 0:
                os.fchown(handle.fileno(), uid, uid)  # private: only the session's uid reads it
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
