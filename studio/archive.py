"""A lab as a zip in the catalog's own layout, both ways (pure): ``<slug>/lab.yaml`` and
``<slug>/files/<name>``, which ``labs/catalog/`` holds and ``manage.py labs validate`` reads, so
authoring in git and in the browser are the same format.

A zip from outside is untrusted: names that leave the folder, links, more entries or bytes than
a lab may have (a zip bomb says its sizes falsely, so reading stops at the limit, not at what the
header says) are refused with a sentence, before anything is kept.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from studio.content import MAX_FILE_BYTES, MAX_FILES, MAX_SPEC_BYTES, MAX_TOTAL_BYTES

MAX_ENTRIES = MAX_FILES + 20
MAX_ARCHIVE_BYTES = 2 * MAX_TOTAL_BYTES


class ArchiveError(ValueError):
    pass


@dataclass(frozen=True)
class Unpacked:
    folder: str  # the top folder's name ("" when lab.yaml is at the top), a slug to suggest
    spec: str
    files: dict[str, str]


def lab_zip(*, slug: str, spec: str, files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{slug}/lab.yaml", spec)
        for name in sorted(files):
            archive.writestr(f"{slug}/files/{name}", files[name])
    return buffer.getvalue()


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> str:
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"{info.filename} is larger than {limit // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(f"{info.filename} is not UTF-8 text") from None


def lab_unzip(data: bytes) -> Unpacked:
    """lab.yaml and files/ from a zip (at its top, or in one folder); ArchiveError otherwise."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"the zip is larger than {MAX_ARCHIVE_BYTES // 1024} KiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ArchiveError("this is not a zip file") from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise ArchiveError(f"the zip holds {len(entries)} files; a lab has at most {MAX_FILES}")
        specs = [i for i in entries if i.filename.rsplit("/", 1)[-1] == "lab.yaml"]
        if len(specs) != 1:
            raise ArchiveError(
                "the zip must hold exactly one lab.yaml (as labs/catalog/<slug>/lab.yaml does)"
            )
        folder = specs[0].filename[: -len("lab.yaml")]
        if folder.count("/") > 1:
            raise ArchiveError("lab.yaml must be at the top of the zip or in one folder")
        total = 0
        spec = ""
        files: dict[str, str] = {}
        for info in entries:
            name = info.filename
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise ArchiveError(f"{name!r} points outside the lab's folder")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"{name} is a link; a lab holds plain files")
            if not name.startswith(folder):
                raise ArchiveError(f"{name} is outside the lab's folder {folder or '/'}")
            inner = name[len(folder) :]
            if inner == "lab.yaml":
                spec = _read(archive, info, MAX_SPEC_BYTES)
                total += len(spec)
            elif inner.startswith("files/") and inner.count("/") == 1:
                text = _read(archive, info, MAX_FILE_BYTES)
                files[inner.removeprefix("files/")] = text
                total += len(text)
            else:
                raise ArchiveError(f"{name}: a lab folder holds lab.yaml and files/ only")
            if total > MAX_TOTAL_BYTES:
                raise ArchiveError(f"the lab is larger than {MAX_TOTAL_BYTES // 1024} KiB")
    return Unpacked(folder.rstrip("/"), spec, files)
