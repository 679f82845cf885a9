"""Small shared helpers: seeding, device choice, the smoke switch, timers, atomic writes and checkpoints, verified
caches, a run lock."""
from __future__ import annotations

# Imported inside functions: fcntl, which exists on POSIX only, when a file lock is taken.

import functools
import glob
import hashlib
import os
import random
import secrets
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

CHECKPOINT_FORMAT = 1  # bump when the checkpoint layout changes
EMPTY_LOCK_GRACE_S = 10.0  # seconds an empty lock file still counts as held (its writer is starting)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def eval_mode(model: torch.nn.Module, inference: bool = False):
    """Run `model` in eval mode (no dropout) without autograd (torch.no_grad, or torch.inference_mode when
    `inference`, which is faster but its tensors cannot join autograd later) and restore its previous mode,
    also after an error. The one place the kit switches a model to eval and back."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode() if inference else torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def get_device(device: str = "auto", verbose: bool = False) -> torch.device:
    """"auto" picks cuda, then mps, then cpu; anything else is passed to torch.device. A device this machine does
    not have (or a name torch does not know) is a ValueError that says what is there."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {device!r} is not a device name; expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        have = torch.cuda.device_count()
        raise ValueError(f"device {device!r}: this machine has {have or 'no'} CUDA GPU{'s' if have != 1 else ''}; "
                         "use --device cpu (or auto)")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"device {device!r}: Apple's MPS is not available here; use --device cpu (or auto)")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: the kit runs on cpu, cuda or mps")
    if verbose:
        print(f"device: {dev}")
    return dev


def default_threads() -> int | None:
    """1 on hosts with 2 cores or fewer (a second thread there fights the notebook, the OS and any other job, and
    made training 3-8x slower on a busy 2-core machine), else None (torch's own default)."""
    return 1 if (os.cpu_count() or 1) <= 2 else None


def set_threads(threads: int | str | None = "auto") -> int:
    """Set torch's CPU threads: an int, None (leave torch's default) or "auto" (default_threads()).

    Returns the number of threads now in use. Notebooks, the CLI and the benchmarks all go through this.
    """
    if threads == "auto":
        threads = default_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int, None or 'auto'; got {threads!r}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): elsewhere bf16 is emulated and slow."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def is_smoke() -> bool:
    """True when INTERMASK_SMOKE=1: everything shrinks to prove only that the code runs."""
    return os.environ.get("INTERMASK_SMOKE", "0").lower() in ("1", "true", "yes")


def smoke_banner(smoke: bool) -> None:
    if smoke:
        print("=" * 72 + "\nSMOKE MODE: tiny models and data, results mean nothing; use preset='lab'.\n" + "=" * 72)


@contextmanager
def timer(label: str = "", out: dict | None = None):
    """with timer("train", out=d): ... -> prints and/or stores the elapsed seconds."""
    t0 = time.perf_counter()
    yield
    dt = time.perf_counter() - t0
    if out is not None:
        out[label] = dt
    else:
        print(f"{label}: {dt:.2f} s")


class FolderInUse(RuntimeError):
    """Another live process holds the run lock of a folder (see run_lock)."""


def _holder_alive(text: str) -> bool:
    """Whether the process named in a lock file ("pid host") still runs; one on another host counts as alive."""
    try:
        pid, host = text.split()
        pid = int(pid)
    except ValueError:
        return False  # unreadable: a crash while writing it
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


@contextmanager
def run_lock(path: str | Path | None, what: str = "this folder"):
    """Hold a lock file for one writer at a time; None holds nothing.

    The file holds "pid host". If another live process holds it, FolderInUse says which and what to do;
    a lock left by a process that no longer runs on this host, or left empty for EMPTY_LOCK_GRACE_S, is taken
    over. The file is removed on exit.
    """
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                holder = path.read_text(encoding="utf-8", errors="replace").strip()
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue  # released meanwhile
            # an empty lock is held while new: its writer is between open() and write()
            in_use = _holder_alive(holder) if holder else age < EMPTY_LOCK_GRACE_S
            if in_use:
                who = f"process {holder.replace(' ', ' on ')}" if holder else "a process that is starting"
                raise FolderInUse(f"{what} is in use by {who} (lock {path}); wait for it to finish, "
                                  "or delete the lock file if that process is gone") from None
            path.unlink(missing_ok=True)  # stale: its process has ended
    else:
        raise RuntimeError(f"could not take the lock {path}: another process keeps re-creating it")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()} {socket.gethostname()}\n")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks (checkpoint manifests, evaluator checksums)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_stale_temps(path: Path) -> None:
    """Remove temp files (or folders) of earlier atomic writes to `path` ("<name>.<pid>.<random>.tmp") whose
    process no longer runs on this host: what a write killed half way (SIGKILL, power loss) left behind."""
    for tmp in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 1:].split(".")[0]
        if pid.isdigit() and not _holder_alive(f"{pid} {socket.gethostname()}"):
            _remove(tmp)


def _remove(path: Path) -> None:
    """Delete a file or a folder tree; one already gone is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _temp_name(path: Path) -> Path:
    """A fresh temp name next to `path`, in the form remove_stale_temps knows."""
    return path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | Path, write, folder: bool = False) -> None:
    """write(tmp) on a temp file (folder=True: a temp folder) next to `path`, then rename it to `path`.

    Readers see the old version or the new one, never half of one, and parallel writers never share a temp.
    A file replaces the old one (os.replace); a folder is renamed in only where none is yet: if another process
    put one there first, that one stays and this one is dropped. Temps of killed writes are cleared first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = _temp_name(path)
    if folder:  # made with the usual permissions (umask), unlike mkstemp's owner-only ones
        tmp.mkdir()
    else:
        tmp.touch(exist_ok=False)
    try:
        write(tmp)
        if not folder:
            os.replace(tmp, path)
        else:
            try:
                os.rename(tmp, path)
            except OSError:
                if not path.is_dir():
                    raise  # not a lost race: a real failure
    finally:
        _remove(tmp)


def atomic_torch_save(obj, path: str | Path) -> None:
    """torch.save through atomic_write: a crash never leaves half a file, and the temp files of a killed earlier
    save are cleared (remove_stale_temps)."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def error_reason(err: BaseException) -> str:
    """The first line of an error's message (at most 160 characters), or its type's name."""
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


@contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on the file `path` (created if needed), waiting for any other holder; the system
    drops it when its process dies. Where fcntl is missing (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_cache(path: str | Path, read):
    """read(path), or None when there is no cache at `path` or it fails read's checks (a note on stderr says so).

    `read` loads the cache and raises (any error) when it is truncated, damaged or of another kind."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return read(path)
    except Exception as err:
        print(f"note: cache {path} was unreadable ({error_reason(err)}); rebuilding it", file=sys.stderr)
        return None


def read_or_build(path: str | Path, read, build, write, folder: bool = False):
    """The verified cache at `path`, or a new one: value = build(), written with write(value, tmp) through
    atomic_write, and returned (folder=True: read(path), its check after the rename).

    A cache that fails read's checks is noted on stderr and rebuilt. Building holds a lock on "<path>.lock", so
    a second process waits for the first and then reads its cache."""
    path = Path(path)
    value = read_cache(path, read)
    if value is not None:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock")):
        if path.exists():  # another process built it while this one waited, or it is the bad one
            try:
                return read(path)
            except Exception:
                aside = _temp_name(path)
                try:
                    os.replace(path, aside)  # out of the way, so the new one can take its name
                except FileNotFoundError:
                    pass  # gone meanwhile (no lock on this system)
                _remove(aside)
        value = build()
        atomic_write(path, lambda tmp: write(value, tmp), folder=folder)
    return read(path) if folder else value


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict:
    """Load a kit checkpoint with weights_only=True and check its format version and kind."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, damaged, or not a torch file at all
        raise ValueError(f"{path} cannot be read as a checkpoint ({error_reason(err)}): it is truncated, damaged or "
                         "another kind of file; delete it and train again (python -m intermask_lite train ...), or "
                         "rebuild the shipped ones with `make checkpoints`") from None
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise ValueError(f"{path} is not an intermask_lite checkpoint (no 'format' entry)")
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} has checkpoint format {ckpt['format']}, this code reads format "
                         f"{CHECKPOINT_FORMAT}; rebuild it with the current code")
    if kind is not None and ckpt.get("kind") != kind:
        raise ValueError(f"{path} holds a {ckpt.get('kind')!r} checkpoint, expected {kind!r}")
    return ckpt


def load_weights(model: torch.nn.Module, state: dict, path) -> torch.nn.Module:
    """model.load_state_dict(state), with a clear ValueError when names or shapes differ (another version)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        bad = sorted(set(expected.items()) ^ set(found.items()))[:4]
        raise ValueError(f"{path}: weights do not fit the model built from its stored config (first differences: "
                         f"{bad}); the checkpoint comes from another version of the code: retrain or rebuild it")
    model.load_state_dict(state)
    return model
