"""Collecting a class's submissions from folders or from an LMS download (zip).

Layouts understood (student ids are checked: letters, digits and ``_ . @ -``):

* folders: ``DIR/<student>/<lab>/...`` (nbgrader's ``submitted`` layout) or ``DIR/<student>/...``;
  an nbgrader ``timestamp.txt`` is read when present;
* a zip (``--submissions class.zip``) with the same folder layouts inside, or an LMS export:
  Canvas (``<login>_[LATE_]<userid>_<submissionid>_<file>``, flat) or Moodle
  (``<Full Name>_<id>_assignsubmission_file_/<file>``).

Notebooks are matched to the lab's notebook names: exactly, after removing an LMS's "-1" style
suffix, or (when the lab has one notebook and the student sent one) whatever its name. Sizes are
capped while reading (zip bombs and huge uploads are refused, with a note) and paths that would
leave the submission's folder are dropped. Every submission gets a content digest, which is how the
grading journal recognises work it has already graded.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["Submission", "collect_submissions", "CollectError", "valid_student_id"]

MAX_FILE_BYTES = 32 << 20
MAX_SUBMISSION_BYTES = 64 << 20
_ID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
_CANVAS_RE = re.compile(r"^(?P<login>[A-Za-z0-9.@-]+?)_(?:LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
_MOODLE_RE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_$")
_SUFFIX_RE = re.compile(r"^(?P<base>.+?)(?:-\d+| \(\d+\))$")
_IGNORE = (".ipynb_checkpoints", "__pycache__", "__MACOSX", ".DS_Store")


class CollectError(ValueError):
    """The submissions path cannot be read as submissions (one line, for the CLI)."""


def valid_student_id(sid: str) -> bool:
    """A student id safe as a folder name and a gradebook key."""
    return bool(_ID_RE.match(sid)) and not sid.startswith(".") and sid not in (".", "..")


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name.strip()).strip("_.").lower()
    return s[:128] or "student"


@dataclass
class Submission:
    """One student's submission of one lab."""

    student: str
    files: dict[str, bytes] = field(default_factory=dict)     # relative path -> content (notebooks renamed)
    notebooks: list[str] = field(default_factory=list)        # lab notebook names found in `files`
    timestamp: str | None = None
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """sha256 of the files (names and contents): the submission's identity in the journal."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()

    @property
    def id(self) -> str:
        return self.student


def _clean_rel(parts: Iterable[str]) -> str | None:
    parts = [p for p in parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or any(p in _IGNORE for p in parts):
        return None
    return "/".join(parts)


def _match_notebooks(sub: Submission, names: list[str]) -> None:
    """Rename the submitted notebooks to the lab's notebook names."""
    wanted = set(names)
    nbs = [r for r in sub.files if r.endswith(".ipynb")]
    renamed: dict[str, str] = {}
    for rel in nbs:
        stem = PurePosixPath(rel).stem
        if stem in wanted and f"{stem}.ipynb" not in renamed.values():
            renamed[rel] = f"{stem}.ipynb"
    for rel in nbs:
        if rel in renamed:
            continue
        m = _SUFFIX_RE.match(PurePosixPath(rel).stem)
        if m and m.group("base") in wanted and f"{m.group('base')}.ipynb" not in renamed.values():
            renamed[rel] = f"{m.group('base')}.ipynb"
    left = [r for r in nbs if r not in renamed]
    if len(names) == 1 and not renamed and len(left) == 1:
        renamed[left[0]] = f"{names[0]}.ipynb"
        sub.notes.append(f"took {left[0]} as {names[0]}.ipynb")
    new: dict[str, bytes] = {}
    for rel, data in sub.files.items():
        if rel in renamed:
            new[renamed[rel]] = data
        elif rel.endswith(".ipynb"):
            sub.notes.append(f"ignored notebook {rel} (not one of this lab's: {', '.join(sorted(wanted))})")
        elif rel not in new:
            new[rel] = data
    sub.files = new
    sub.notebooks = sorted(PurePosixPath(r).stem for r in new if r.endswith(".ipynb"))


def _add(subs: dict[str, Submission], student: str, rel: str | None, data: bytes, origin: str) -> None:
    if rel is None:
        return
    sub = subs.setdefault(student, Submission(student, origin=origin))
    if len(data) > MAX_FILE_BYTES:
        sub.notes.append(f"skipped {rel}: larger than {MAX_FILE_BYTES >> 20} MiB")
        return
    if sum(len(v) for v in sub.files.values()) + len(data) > MAX_SUBMISSION_BYTES:
        sub.notes.append(f"skipped {rel}: the submission is over {MAX_SUBMISSION_BYTES >> 20} MiB")
        return
    if rel == "timestamp.txt":
        sub.timestamp = data.decode("utf-8", "replace").strip() or None
        return
    sub.files[rel] = data


def _strip_lab(parts: list[str], lab: str) -> list[str]:
    return parts[1:] if len(parts) > 1 and parts[0] == lab else parts


def _from_folder(root: Path, lab: str, subs: dict[str, Submission], skipped: list[str]) -> None:
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORE or not entry.is_dir():
            continue
        if not valid_student_id(entry.name):
            skipped.append(f"{entry.name}: not a valid student id")
            continue
        base = entry / lab if (entry / lab).is_dir() else entry
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in _IGNORE)
            for f in sorted(filenames):
                p = Path(dirpath) / f
                if p.is_symlink() or not p.is_file():
                    continue
                rel = _clean_rel(p.relative_to(base).parts)
                size = p.stat().st_size
                if size > MAX_FILE_BYTES:
                    subs.setdefault(entry.name, Submission(entry.name, origin=str(entry))).notes.append(
                        f"skipped {rel}: larger than {MAX_FILE_BYTES >> 20} MiB")
                    continue
                _add(subs, entry.name, rel, p.read_bytes(), str(entry))
        subs.setdefault(entry.name, Submission(entry.name, origin=str(entry)))


def _from_zip(path: Path, lab: str, subs: dict[str, Submission], skipped: list[str]) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CollectError(f"{path}: not a readable zip file ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = [PurePosixPath(i.filename.replace("\\", "/")) for i in infos]
        top = {n.parts[0] for n in names if len(n.parts) > 1}
        wrapper = None
        if len(top) == 1 and all(len(n.parts) > 1 for n in names):   # everything inside one folder
            wrapper = next(iter(top))
        total = 0
        for info, name in zip(infos, names):
            parts = list(name.parts[1:] if wrapper and not _MOODLE_RE.match(wrapper) else name.parts)
            if not parts or any(p in _IGNORE for p in parts):
                continue
            if info.file_size > MAX_FILE_BYTES:
                skipped.append(f"{info.filename}: larger than {MAX_FILE_BYTES >> 20} MiB")
                continue
            total += info.file_size
            if total > 64 * MAX_SUBMISSION_BYTES:
                raise CollectError(f"{path}: more than {(64 * MAX_SUBMISSION_BYTES) >> 30} GiB uncompressed")
            student = rel = None
            if len(parts) == 1:
                m = _CANVAS_RE.match(parts[0])
                if not m:
                    skipped.append(f"{info.filename}: cannot tell whose file this is")
                    continue
                student, rel = m.group("login").lower(), m.group("file")
            else:
                m = _MOODLE_RE.match(parts[0])
                if m:
                    student, rel = _slug(m.group("name")), _clean_rel(parts[1:])
                else:
                    student, rel = parts[0], _clean_rel(_strip_lab(parts[1:], lab))
            if not valid_student_id(student):
                skipped.append(f"{info.filename}: '{student}' is not a valid student id")
                continue
            with zf.open(info) as f:
                data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                skipped.append(f"{info.filename}: larger than {MAX_FILE_BYTES >> 20} MiB")
                continue
            _add(subs, student, rel, data, f"{path.name}:{info.filename}")


def collect_submissions(path: str | os.PathLike[str], lab: str,
                        notebook_names: list[str]) -> tuple[list[Submission], list[str]]:
    """All submissions under `path` (a folder or a zip), sorted by student; plus what was skipped and why."""
    p = Path(path)
    subs: dict[str, Submission] = {}
    skipped: list[str] = []
    if p.is_file() and zipfile.is_zipfile(p):
        _from_zip(p, lab, subs, skipped)
    elif p.is_dir():
        zips = sorted(x for x in p.iterdir() if x.is_file() and x.suffix == ".zip")
        if zips and not any(x.is_dir() and not x.name.startswith(".") for x in p.iterdir()):
            for z in zips:
                _from_zip(z, lab, subs, skipped)
        else:
            _from_folder(p, lab, subs, skipped)
    else:
        raise CollectError(f"{p}: no such folder or zip file")
    for sub in subs.values():
        _match_notebooks(sub, notebook_names)
    return [subs[k] for k in sorted(subs)], skipped
