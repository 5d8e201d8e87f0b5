"""A scenario's files, read from a folder or a zip without trusting either: no path may leave
the tree, no link is followed, and sizes are counted as read, not taken from headers (a zip bomb
states its sizes falsely)."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 256 * 1024
MAX_TREE_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 5000
MAX_ARCHIVE_BYTES = 8 * 1024 * 1024
SKIPPED_FOLDERS = frozenset({".git", ".github", "node_modules"})


class SourceError(ValueError):
    """The folder or archive cannot be read safely; the message says which entry and why."""


@dataclass(frozen=True)
class Tree:
    """Relative POSIX path -> bytes. ``skipped``: entries left out, with why (a file too large
    to be lab content, a link), which the report names."""

    files: dict[str, bytes]
    skipped: dict[str, str]

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        if data is None:
            return None
        return data.decode("utf-8", errors="replace")

    def scenario_folders(self) -> list[str]:
        """Every folder holding an index.json ("" for the top), sorted."""
        found = []
        for path in self.files:
            parts = PurePosixPath(path)
            if parts.name == "index.json":
                found.append(str(parts.parent) if str(parts.parent) != "." else "")
        return sorted(found)

    def under(self, folder: str) -> Tree:
        """The part of the tree in ``folder``, with paths relative to it."""
        if not folder:
            return self
        prefix = folder.rstrip("/") + "/"
        return Tree(
            {p[len(prefix) :]: d for p, d in self.files.items() if p.startswith(prefix)},
            {p[len(prefix) :]: w for p, w in self.skipped.items() if p.startswith(prefix)},
        )


def _clean(name: str) -> str:
    """The entry's path inside the tree, or SourceError for one that would leave it."""
    if "\\" in name or "\x00" in name:
        raise SourceError(f"{name!r}: a path with a backslash or NUL byte is refused")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise SourceError(f"{name!r} points outside the scenario's folder; the archive is refused")
    return str(path)


def tree_from_zip(data: bytes) -> Tree:
    """A zip's regular files. Links, `..`, absolute paths: refused (the whole archive: a tree that
    tries to leave is hostile, not partly usable). Files larger than a scenario's file may be
    are skipped and named."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise SourceError(f"the archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SourceError("this is not a zip file") from None
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    total = 0
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise SourceError(f"the archive holds {len(entries)} entries; at most {MAX_ENTRIES}")
        for info in entries:
            name = _clean(info.filename)
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SourceError(f"{name} is a symbolic link; a scenario holds plain files only")
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise SourceError(f"{name} is not a plain file")
            with archive.open(info) as handle:
                body = handle.read(MAX_FILE_BYTES + 1)
            if len(body) > MAX_FILE_BYTES:
                skipped[name] = f"larger than {MAX_FILE_BYTES // 1024} KiB"
                continue
            total += len(body)
            if total > MAX_TREE_BYTES:
                raise SourceError(
                    f"the archive unpacks to more than {MAX_TREE_BYTES // (1024 * 1024)} MiB"
                )
            files[name] = body
    return Tree(files, skipped)


def tree_from_uploads(uploads: list[tuple[str, bytes]]) -> Tree:
    """A folder a browser uploaded: (its relative path, the file's bytes) for each file. Paths
    are checked as a zip's are; a browser sends no links."""
    if len(uploads) > MAX_ENTRIES:
        raise SourceError(f"the folder holds {len(uploads)} files; at most {MAX_ENTRIES}")
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    total = 0
    for path, body in uploads:
        name = _clean(path)
        if any(part in SKIPPED_FOLDERS for part in PurePosixPath(name).parts):
            continue
        if len(body) > MAX_FILE_BYTES:
            skipped[name] = f"larger than {MAX_FILE_BYTES // 1024} KiB"
            continue
        total += len(body)
        if total > MAX_TREE_BYTES:
            raise SourceError(f"the folder holds more than {MAX_TREE_BYTES // (1024 * 1024)} MiB")
        files[name] = body
    return Tree(files, skipped)


def tree_from_folder(root: Path) -> Tree:
    """A folder's regular files, never following a link (each is skipped and named), skipping
    .git and the like."""
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    total = 0
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    os.close(root_fd)  # only to refuse a root that is not a folder, with the OS's own sentence
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        kept = []
        for d in sorted(dirs):
            if d in SKIPPED_FOLDERS:
                continue
            if (here / d).is_symlink():
                skipped[(here / d).relative_to(root).as_posix()] = "a symbolic link"
                continue
            kept.append(d)
        dirs[:] = kept
        for name in sorted(names):
            path = here / name
            rel = path.relative_to(root).as_posix()
            try:
                # O_NOFOLLOW: a link put in place after the walk looked is not followed either.
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                skipped[rel] = "a symbolic link" if path.is_symlink() else "unreadable"
                continue
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    skipped[rel] = "not a plain file"
                    continue
                body = handle.read(MAX_FILE_BYTES + 1)
            if len(body) > MAX_FILE_BYTES:
                skipped[rel] = f"larger than {MAX_FILE_BYTES // 1024} KiB"
                continue
            if len(files) >= MAX_ENTRIES or total + len(body) > MAX_TREE_BYTES:
                raise SourceError(
                    f"{root} holds more than {MAX_ENTRIES} files or "
                    f"{MAX_TREE_BYTES // (1024 * 1024)} MiB; import its scenarios one by one"
                )
            total += len(body)
            files[rel] = body
    return Tree(files, skipped)
