"""The pod's writable tree (its tmpfs), handled only by descriptor.

Every step starts from a directory descriptor and takes one plain name at a time: no '/', no
'.' or '..', and no symbolic link is ever followed (``O_NOFOLLOW`` on each component), so a
path built here cannot leave the tree, whatever the pod has planted in it meanwhile. Bind
sources leave this module as descriptors, which bwrap mounts with ``--bind-fd``; nothing is
handed on as a path string that could be resolved again. The pod builder runs as the pod's own
uid, so even a bug here could reach no further than that uid may (see podjail.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import PurePosixPath

# Container and volume names: DNS labels, as the API server validates them. Checked again here
# because they become directory names.
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeError(Exception):
    """A refusal the learner sees: what was refused and why."""


def check_name(name: str, what: str) -> str:
    if not LABEL.match(name):
        raise TreeError(f"{what} {name!r} is not a valid name (a DNS label: a-z, 0-9 and '-')")
    return name


def relative_parts(path: str, what: str) -> list[str]:
    """The components of a relative path; '..', absolute paths and NUL are refused."""
    if "\0" in path:
        raise TreeError(f"{what} {path!r} contains a NUL byte")
    if path.startswith("/"):
        raise TreeError(f"{what} {path!r} must be a relative path")
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    if ".." in parts:
        raise TreeError(f"{what} {path!r} leaves the volume ('..' is not allowed)")
    return parts


def open_dir(parent: int, name: str, *, create: bool = False, mode: int = 0o755) -> int:
    """Descriptor of the directory `name` in `parent`, made when `create` and missing."""
    if not name or "/" in name or name in (".", ".."):
        raise TreeError(f"{name!r} is not a plain name")
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, mode, dir_fd=parent)
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise TreeError(f"{name!r} is {_kind(parent, name)}") from None
        raise


def _kind(parent: int, name: str) -> str:
    """What is there instead of a directory (O_NOFOLLOW|O_DIRECTORY says ENOTDIR for a link)."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError:
        return "gone"
    return "a symbolic link" if stat.S_ISLNK(mode) else "not a directory"


def open_path(root: int, parts: list[str], *, create: bool = False, mode: int = 0o755) -> int:
    """Descriptor of root/parts[0]/parts[1]/..., one component at a time (see open_dir)."""
    fd = os.dup(root)
    try:
        for part in parts:
            child = open_dir(fd, part, create=create, mode=mode)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def opened(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def set_mode(fd: int, mode: int) -> None:
    """fchmod on the descriptor (never a chmod by name, which would follow a link)."""
    os.fchmod(fd, mode)


def remove(parent: int, name: str) -> None:
    """Remove `name` from `parent` whatever it is; a directory is removed through descriptors
    (shutil.rmtree's fd-based walk, which never follows links)."""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


def write_file(parent: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `name` in `parent` with a regular file holding `data`, atomically: a fresh
    temporary (O_EXCL, O_NOFOLLOW) renamed over it, so a link or FIFO there is replaced, never
    written through."""
    temporary = f".{name[:64]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(
        temporary,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=parent,
    )
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    try:
        os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
    except IsADirectoryError:
        remove(parent, name)
        os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=parent)
        raise


def write_files(directory: int, files: dict[str, bytes], modes: dict[str, int]) -> None:
    """A volume's files (relative paths, as the pod model gives them) under `directory`."""
    for relative, data in sorted(files.items()):
        parts = relative_parts(relative, "volume file path")
        if not parts:
            raise TreeError("a volume file needs a name")
        with opened(open_path(directory, parts[:-1], create=True)) as parent:
            write_file(parent, parts[-1], data, modes.get(relative, 0o644) & 0o7777)


def ensure_link(parent: int, name: str, target: str) -> None:
    """`name` in `parent` is the symlink `target` (replacing whatever else is there)."""
    try:
        if os.readlink(name, dir_fd=parent) == target:
            return
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno != errno.EINVAL:  # EINVAL: it exists and is not a link
            raise
    remove(parent, name)
    os.symlink(target, name, dir_fd=parent)


def entries(directory: int) -> list[str]:
    """Names in the directory (a listing through the descriptor; '.' and '..' excluded)."""
    with opened(os.dup(directory)) as fd:
        return os.listdir(fd)
