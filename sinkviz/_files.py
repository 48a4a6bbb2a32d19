"""The one atomic write: every file and folder sinkviz produces goes through a temporary one and a rename."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sinkviz.errors import InputError, OutputExistsError

# Files sinkviz writes are for sharing (figures, census JSON, lab results): readable by others, like `open()`
# would make them under a usual umask, not mkstemp's private 0600.
FILE_MODE = 0o644
FOLDER_MODE = 0o755


def atomic_write(
    path: str | os.PathLike,
    content: str | bytes | Callable[[IO[Any]], None] | Callable[[str], None],
    *,
    overwrite: bool = True,
    binary: bool | None = None,
    to_path: bool = False,
) -> Path:
    """Write ``path`` all at once: into a hidden temporary file beside it, then ``os.replace``.

    ``content`` is a ``str`` (written as UTF-8), ``bytes``, or a callable. A callable receives the open
    temporary file (text mode unless ``binary=True``), or its path when ``to_path=True`` (for writers that
    open the file themselves, like ``kaleido`` or ``safetensors``). A reader never sees a half-written file,
    and a failed write leaves an existing file untouched. With ``overwrite=False`` the last step is a hard
    link, which fails if the file appeared meanwhile, so an existing file is never replaced
    (:class:`~sinkviz.errors.OutputExistsError`). Returns the absolute path written.
    """
    target = _file_target(path)
    if not overwrite and target.exists():
        raise OutputExistsError(_exists_message(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    try:
        if to_path:
            os.close(fd)
            content(tmp)  # type: ignore[operator]
        else:
            is_binary = isinstance(content, bytes) if binary is None else binary
            with os.fdopen(fd, "wb" if is_binary else "w", **({} if is_binary else {"encoding": "utf-8"})) as fh:
                if isinstance(content, (str, bytes)):
                    fh.write(content)
                else:
                    content(fh)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE & ~_umask())
        _move_into_place(tmp, target, overwrite)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return target


def check_writable(path: str | os.PathLike) -> Path:
    """Fail now, not after a long job, if the file ``path`` could not be written: it is a directory, or no file
    can be created in its folder (or, where that folder does not exist yet, in the nearest folder above it that
    does; :func:`atomic_write` creates the rest). Probes with a temporary file it removes; returns the absolute
    path."""
    target = _file_target(path)
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    os.close(fd)
    os.unlink(probe)
    return target


def _file_target(path: str | os.PathLike) -> Path:
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise InputError(f"Cannot write {target}: it is a directory. Give a file name.")
    return target


def _cannot_write(target: Path, exc: OSError) -> InputError:
    return InputError(f"Cannot write {target}: {exc.strerror or exc}. Choose a folder you can write to.")


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, replace: bool = False, complete: str | None = None) -> Iterator[Path]:
    """Build the folder ``path`` all at once: the ``with`` body fills a hidden staging folder beside it, which is
    then renamed to ``path``; a reader sees a complete folder or none, and a failure leaves no staging behind.

    With ``replace`` an existing folder is removed first (a checkpoint written again). Without it, an existing
    folder holding the file ``complete`` means another process finished first: its copy is kept and the staged
    one dropped; without ``complete`` the rename's error propagates.
    """
    target = Path(path).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(staging, FOLDER_MODE & ~_umask())  # shared like the files in it, not mkdtemp's private 0700
    try:
        yield staging
        if replace and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:
            if replace or complete is None or not (target / complete).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(tmp: str, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(_exists_message(target)) from None
    except OSError:  # file systems without hard links
        if target.exists():
            raise OutputExistsError(_exists_message(target)) from None
        os.replace(tmp, target)


def _exists_message(target: Path) -> str:
    return f"{target} already exists; pass overwrite=True to replace it, or choose another name."


def write_json(path: str | os.PathLike, document: Any, *, overwrite: bool = True, indent: int | None = 1) -> Path:
    """Write ``document`` as JSON (UTF-8, trailing newline) through :func:`atomic_write`."""
    text = json.dumps(document, indent=indent, ensure_ascii=False) + "\n"
    return atomic_write(path, text, overwrite=overwrite)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
