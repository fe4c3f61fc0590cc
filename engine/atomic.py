"""Atomic file writes: content goes to a hidden temporary file in the target's folder, is synced,
and only then appears under its final name, so a crash or a full disk never leaves half a file.

Two ways to finish:
- `write_new` for results (images, compare files, clips, exports): the file gets the wanted name,
  or the first free `NAME-1.EXT`, `NAME-2.EXT`, ... — claimed with a hard link, which fails if
  the name exists, so two processes writing into one folder never take one name, and no file is
  ever replaced;
- `atomic_path` / `write_text_atomic` for files that are meant to be replaced (a project file
  saved again): the temporary file is renamed over the target.

Temporary files (and the temporary folders a PNG-sequence export fills) are named
`.NAME.XXXXXXXX.latent-studio.tmp`. One that a killed process left behind is swept by
`sweep_stale_temps` when a later writer starts in that folder, once it is older than
STALE_SECONDS (so a write in progress elsewhere is never touched); no other file matches the
pattern, so nothing of anyone else's is removed.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import Callable, Iterator

from engine.errors import StudioError

TEMP_SUFFIX = ".latent-studio.tmp"
STALE_SECONDS = 15 * 60  # no write of ours takes this long between creating and finishing a temp file
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + r"$")
# Filesystems without hard links (FAT, some network shares) say so with one of these.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


class WriteFailed(StudioError):
    kind = "write_failed"


def _failed(target: Path, exc: OSError) -> WriteFailed:
    return WriteFailed(f"Could not write {target}: {exc.strerror or exc}. Check free space and permissions.")


@contextlib.contextmanager
def _temp_file(target: Path) -> Iterator[tuple[Path, int]]:
    """A new temporary file next to `target` and its mode; removed unless the body moved it away."""
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(target.parent)
        tmp = _new_temp(target)
        yield tmp, stat.S_IMODE(tmp.stat().st_mode)
    except OSError as exc:
        raise _failed(target, exc) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _new_temp(target: Path) -> Path:
    """A new empty hidden file beside `target`, with the mode a plain open() gives (0666 less the
    umask, and any default ACL), which the finished file keeps: mkstemp's 0600 would make every
    result private to this account, and a fixed chmod would ignore the user's umask (reading the
    umask means setting it, for the whole process)."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue  # another writer's temporary name: draw again
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def plain_file_mode(folder: str | Path) -> int:
    """The mode a file newly created in `folder` gets from a plain open(): 0666 less the umask
    (or what the folder's default ACL says), read off a probe file rather than the process umask."""
    probe = _new_temp(Path(folder) / "mode-probe")
    try:
        return stat.S_IMODE(probe.stat().st_mode)
    finally:
        probe.unlink(missing_ok=True)


def _finish(tmp: Path, mode: int) -> None:
    """Sync the written file and give it the mode its temporary file was created with: a writer
    may have replaced that file with its own (safetensors' save_file does, as 0600)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
        if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) != mode:
            os.fchmod(handle.fileno(), mode)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target` atomically."""
    target = Path(target)
    with _temp_file(target) as (tmp, mode):
        yield tmp
        _finish(tmp, mode)
        os.replace(tmp, target)


def write_atomic(target: str | Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_text_atomic(target: str | Path, text: str) -> Path:
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def candidate_names(wanted: Path) -> Iterator[Path]:
    """`wanted`, then NAME-1.EXT, NAME-2.EXT, ... in its folder."""
    yield wanted
    for counter in itertools.count(1):
        yield wanted.with_name(f"{wanted.stem}-{counter}{wanted.suffix}")


def write_new(wanted: str | Path, writer: Callable[[Path], None]) -> Path:
    """Write a new file at `wanted`, or at the first free numbered name beside it; return its path.

    `writer(tmp)` writes the content to a temporary path. No existing file is ever replaced.
    """
    wanted = Path(wanted)
    with _temp_file(wanted) as (tmp, mode):
        writer(tmp)
        _finish(tmp, mode)
        for target in candidate_names(wanted):
            try:
                os.link(tmp, target)  # fails if `target` exists: the name is claimed atomically
                return target
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                if _claim_by_create(tmp, target):
                    return target
    raise AssertionError("unreachable: candidate_names never ends")


def _claim_by_create(tmp: Path, target: Path) -> bool:
    """Without hard links: create `target` exclusively, then move the content onto our own claim."""
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, target)
    return True


def write_text_new(wanted: str | Path, text: str) -> Path:
    return write_new(wanted, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def is_our_temp(name: str) -> bool:
    return bool(_TEMP_NAME.match(name))


def sweep_stale_temps(folder: str | Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove temporary files and folders of ours that a killed writer left in `folder`; return what went.

    Only names of our pattern, only plain files and real folders (never a link), only ones last
    modified `older_than` seconds ago or more: a write in progress (here or in another process) is
    younger than that. A folder's time moves with each frame file the export adds to it.
    """
    removed = []
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed  # a folder we cannot list: the write that follows says what is wrong
    for entry in entries:
        if not is_our_temp(entry.name):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                continue
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone already (another sweeper) or not ours to remove
    return removed
