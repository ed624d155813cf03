"""A model's run folder belongs to one training run: what it holds, holding it, clearing it.

``hrcn train --out DIR`` (:func:`hrcn_lib.train.fit`) writes :data:`~hrcn_lib.paths.TRAIN_FILES`
into DIR and ``hrcn evaluate`` adds :data:`~hrcn_lib.paths.EVAL_FILE_PATTERNS`. Files of two
runs mixed in one folder would be read as one run (a new ``config.json`` beside an old
``model.pt``), so a folder that holds a run's files is only trained into again to continue
that run (``resume``) or after clearing them (``force``). While a run trains, its process
holds an exclusive lock on the folder (``flock`` on the folder itself: nothing is written
for it, and the lock ends with the process even after ``kill -9``), so a second process
cannot train into it at the same time; the temporary files a killed run left behind
(``.checkpoint.pt.<pid>-<random>.tmp`` of :func:`hrcn_lib.paths.atomic_write`, hundreds of MB
for AlexNet) are removed when the next run takes the folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hrcn_lib.paths import EVAL_FILE_PATTERNS, TEMP_PATTERN, TRAIN_FILES, ModelRun

__all__ = ["RunFolderError", "run_files", "evaluation_files", "remove", "hold",
           "refuse_other_run", "stale_temporaries", "divergence_note"]

class RunFolderError(ValueError):
    """A run folder that cannot be trained into as asked; the message names it and the fix."""


def evaluation_files(folder: Path | str) -> list[Path]:
    """Files of ``hrcn evaluate`` in ``folder`` (predictions, metrics, timings), sorted."""
    return ModelRun(Path(folder)).evaluation_files()


def run_files(folder: Path | str) -> list[Path]:
    """Every file of a training run (and of its evaluations) in ``folder``, sorted."""
    run = ModelRun(Path(folder))
    if not run.root.is_dir():
        return []
    return sorted(run.train_files() + run.evaluation_files())


def refuse_other_run(folder: Path | str, resume: bool, force: bool) -> None:
    """A fresh run needs a folder without another run's files: continue it (``resume``) or
    replace it (``force``).

    Raises:
        ValueError: both ``resume`` and ``force``.
        RunFolderError: ``folder`` holds a run's files and neither is given (names them and
            the fix).
    """
    if resume and force:
        raise ValueError("resume and force exclude each other: resume continues the run in "
                         f"{folder}, force deletes it")
    used = run_files(folder)
    if used and not resume and not force:
        names = ", ".join(p.name for p in used[:5]) + (", ..." if len(used) > 5 else "")
        raise RunFolderError(
            f"{folder}: already holds a training run ({names}); a run folder belongs to one "
            "run: continue it with --resume (resume=True), replace it with --force "
            "(force=True: deletes those files first), or choose another --out")


def remove(paths: list[Path]) -> None:
    """Delete ``paths`` (missing ones are skipped)."""
    for p in paths:
        p.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists but not ours / not a pid at all
    return True


def stale_temporaries(folder: Path | str, *, holding: bool) -> list[Path]:
    """Temporary files of interrupted atomic writes of run files in ``folder``.

    Args:
        holding: the caller holds the folder (:func:`hold`): every temporary file of a
            training file is stale then (no other training process can write there); the
            temporaries of evaluation files, and all of them when not holding, only if the
            process id in their name is not running.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = TEMP_PATTERN.match(p.name)
        if not m or not p.is_file():
            continue
        name = m.group("name")
        is_train = name in TRAIN_FILES
        is_eval = any(Path(name).match(pat) for pat in EVAL_FILE_PATTERNS)
        if (is_train and holding) or ((is_train or is_eval) and not _pid_alive(int(m["pid"]))):
            out.append(p)
    return sorted(out)


@contextmanager
def hold(folder: Path | str) -> Iterator[Path]:
    """Create ``folder`` if needed and hold it for one training process; clean its temporaries.

    Yields the folder. The lock is released when the block ends (or the process dies). On a
    file system without ``flock`` on folders (some network file systems) the folder is used
    without a lock and only temporaries of processes that are not running are removed.

    Raises:
        RunFolderError: another process holds the folder (it is training into it now).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover -- not POSIX: no lock, only dead processes' files
        remove(stale_temporaries(folder, holding=False))
        yield folder
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise RunFolderError(
                f"{folder}: another process is training into this folder now (it holds the "
                "folder's lock); wait for it to end or choose another --out") from None
        except OSError:  # no flock on directories here (e.g. NFS emulates it with fcntl locks)
            locked = False
        remove(stale_temporaries(folder, holding=locked))
        yield folder
    finally:
        os.close(fd)  # releases the lock


def divergence_note(folder: Path | str) -> str:
    """``""``, or a sentence saying that the run in ``folder`` diverged (from its config.json)."""
    try:
        info = json.loads(ModelRun(Path(folder)).config.read_text()).get("diverged")
    except (OSError, ValueError, AttributeError):
        return ""
    if not isinstance(info, dict):
        return ""
    return (f"the run in {folder} diverged at optimizer step {info.get('global_step', '?')} "
            f"(loss {info.get('loss', '?')}) and has no model; train it again with a lower "
            "learning rate (--lr) and --force")
