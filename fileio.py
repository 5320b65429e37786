"""General file helpers of the suite: one-line errors of command-line tools, advisory file locks,
content hashes, free space, markdown tables, model files Keras cannot load, TensorFlow's
start-up noise.

`DataError`, `log`, `atomic_write`, `open_text` (text that may be gzipped) and `load_pickle` (the
safe unpickler) belong to `pfam_loader`, which must work copied alone beside a student's script;
they are re-exported here for the tools, and `command` catches that one `DataError`."""
import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import sys
import tempfile
import threading

from pfam_loader import DataError, atomic_write, load_pickle, log, open_text  # noqa: F401


def machine():
    """``'host, CPU model, N CPU cores'``: timings depend on all three (the CPU model from
    /proc/cpuinfo, where there is one)."""
    import platform
    model = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), model)
    except OSError:
        pass
    return f'{platform.node()}, {model or "unknown CPU"}, {os.cpu_count()} CPU cores'


def markdown_table(header, rows):
    """Lines of a markdown table: the ``header`` cells, the rule, then one line per row of cells
    (each cell as given: format numbers first)."""
    return (['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
            + ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows])


def check_free_space(folder, needed, what):
    """OSError (ENOSPC) when the file system of ``folder`` has fewer than ``needed`` bytes free
    (plus a 1 MiB margin): a writer is stopped before it starts instead of failing halfway (some
    libraries crash outright on a full disk)."""
    import errno
    import shutil
    free = shutil.disk_usage(folder).free
    if free < needed + (1 << 20):
        raise OSError(errno.ENOSPC, f'no space left for {what}: {free:,} bytes free in {folder}, '
                      f'about {needed + (1 << 20):,} needed')


# ---------------------------------------------------------------- advisory locks
_held_locks = threading.local()        # per thread: real path -> [fd, shared, depth]


def _open_lock_file(path, create):
    """A descriptor of lock file ``path`` (created when ``create`` and the folder is writable),
    or None when it is absent or cannot be opened for want of permission."""
    flags = [os.O_RDWR | os.O_CREAT] if create else []
    for flag in flags + [os.O_RDONLY]:
        try:
            return os.open(path, flag | getattr(os, 'O_CLOEXEC', 0), 0o666)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
    return None


def _locks_unsupported(err):
    return err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


@contextlib.contextmanager
def file_lock(path, shared=False, create=True, waiting=None):
    """Hold an advisory lock (``flock``) on the file ``path`` for the ``with`` block.

    Args:
        path: the lock file; created (empty, kept afterwards) when ``create``.
        shared: a shared lock (many holders) instead of an exclusive one.
        create: create the lock file if absent. Without it an absent lock file means no lock.
        waiting: a line to log when the lock is busy and this process waits for it.

    Yields:
        True when the lock is held; False when the lock file is absent (``create=False``), cannot
        be opened for want of permission, or the file system has no locks: the block then runs
        unlocked.

    Re-entrant within a thread: a nested request for a lock the thread holds is granted at
    once (a nested exclusive request under a shared hold is an error, not a deadlock). Other
    threads and processes wait; a killed holder's lock is released by the kernel.
    """
    key = os.path.realpath(path)
    held = getattr(_held_locks, 'locks', None)
    if held is None:
        held = _held_locks.locks = {}
    if key in held:
        if held[key][1] and not shared:
            raise RuntimeError(f'{path}: exclusive lock requested while holding it shared')
        held[key][2] += 1
        try:
            yield True
        finally:
            held[key][2] -= 1
        return
    fd = _open_lock_file(path, create)
    if fd is None:
        yield False
        return
    try:
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting:
                    log(waiting)
                fcntl.flock(fd, mode)
            locked = True
        except OSError as err:
            if not _locks_unsupported(err):
                raise
            log(f'{path}: this file system has no file locks ({err.strerror}); going on unlocked')
            locked = False
        if not locked:
            yield False
            return
        held[key] = [fd, shared, 1]
        try:
            yield True
        finally:
            del held[key]
    finally:
        os.close(fd)                        # releases the lock


def sha256(path):
    digest = hashlib.sha256()
    paths = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for p in paths:
        with open(p, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def check_model_file(path):
    """Refuse, without importing Keras, a model file that Keras could not load: FileNotFoundError
    when there is nothing at ``path``; ValueError (`unreadable_model`) for a directory or a
    ``.keras`` file that is not a zip archive (empty or truncated). predict.py checks this
    before it pays for importing TensorFlow."""
    import zipfile
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such model file')
    if os.path.isdir(path):
        raise ValueError(unreadable_model(path, 'a directory'))
    if path.endswith('.keras') and not zipfile.is_zipfile(path):
        size = os.path.getsize(path)
        raise ValueError(unreadable_model(path, 'an empty file' if size == 0 else
                                          f'not a zip archive, {size:,} bytes: truncated?'))


def unreadable_model(path, reason):
    """The message for a model file that cannot be loaded, and why."""
    return f'{path}: not a readable Keras model ({reason}); retrain or re-copy it'


#: the key under which a JSON record (a model's ``_meta.json``) keeps `content_hash` of the rest
CONTENT_HASH_KEY = 'meta_hash'


def content_hash(record, exclude=(CONTENT_HASH_KEY,)):
    """SHA-256 (hex) of the JSON content of dict ``record`` without the keys ``exclude``, in a
    canonical form (keys sorted, tuples as lists, keys as strings, no spaces): the same before
    ``json.dump`` and after ``json.load``, so a file that records it can tell when its content
    was edited. Raises TypeError for content JSON cannot hold."""
    import json
    content = json.loads(json.dumps({k: v for k, v in record.items() if k not in exclude}))
    text = json.dumps(content, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(text.encode('ascii')).hexdigest()


#: What TensorFlow's native libraries write straight to file descriptor 2 while they load on a
#: machine without a usable GPU, before (and so whatever) TF_CPP_MIN_LOG_LEVEL: line fragments.
TENSORFLOW_START_NOISE = ('All log messages before absl::InitializeLog() is called',
                          'cudart_stub.cc', 'cpu_feature_guard.cc',
                          'To enable the following instructions')
#: ... and on a machine with no NVIDIA device, or whose GPUs were hidden on purpose
#: (CUDA_VISIBLE_DEVICES '' or -1): the CUDA build's complaint that there is no GPU.
TENSORFLOW_NO_GPU_NOISE = ('cuda_platform.cc', 'failed call to cuInit')


def nvidia_device_present():
    """Whether this machine has an NVIDIA device file (``/dev/nvidia0`` ...)."""
    import glob
    return bool(glob.glob('/dev/nvidia[0-9]*'))


def tensorflow_noise():
    """The fragments `filtered_stderr` drops while TensorFlow starts in this process: none with
    ``TF_CPP_MIN_LOG_LEVEL=0`` (show everything), the cuInit error only where no GPU can be
    wanted (where one can, that error says it is not usable)."""
    if os.environ.get('TF_CPP_MIN_LOG_LEVEL', '') == '0':
        return ()
    no_gpu = os.environ.get('CUDA_VISIBLE_DEVICES') in ('', '-1') or not nvidia_device_present()
    return TENSORFLOW_START_NOISE + (TENSORFLOW_NO_GPU_NOISE if no_gpu else ())


@contextlib.contextmanager
def filtered_stderr(noise):
    """Run the block with file descriptor 2 captured, then write back every captured line that
    holds none of the fragments ``noise``, in order. For native libraries that print there
    directly: a SLURM task's ``.err`` keeps their real messages and loses their start-up chatter.
    Python's own ``sys.stderr`` output of the block is kept the same way."""
    if not noise:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):      # no file descriptor 2 to capture
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True)
                    if not any(fragment.encode() in line for fragment in noise)]
            if kept:
                os.write(2, b''.join(kept))


def command(errors=(DataError, OSError)):
    """Decorator of a command-line tool's ``main(argv=None)``: an exception of ``errors`` (a
    problem with the user's input or files) becomes one line ``{tool}: error: {message}`` on
    stderr and the status 2, never a traceback; Ctrl-C one line and 130. Every tool's main
    wears it, so they all answer alike (`run_main` runs it)."""
    def decorate(main):
        module = sys.modules.get(main.__module__)
        prog = os.path.basename(getattr(module, '__file__', None) or sys.argv[0] or 'python')

        @functools.wraps(main)
        def guarded(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                print(f'{prog}: interrupted', file=sys.stderr, flush=True)
                return 130
            except errors as err:
                print(f'{prog}: error: {one_line(err)}', file=sys.stderr, flush=True)
                return 2
        return guarded
    return decorate


def run_main(main):
    """``sys.exit(main())`` for a command line whose output may go to a reader that stops early
    (``| head``): then it ends quietly with status 1 instead of a BrokenPipeError traceback.

    A status above 128 (128 + a signal's number: 143 SIGTERM, 130 Ctrl-C) says that ``main``
    was stopped, has said so and has cleaned up (released its lock): the process then leaves at
    once, with ``os._exit`` after flushing stdout and stderr. The interpreter's finalization
    (atexit handlers, freeing every object left, joining threads) is skipped: there, freeing
    TensorFlow's objects can wait up to a minute (hw6_base.py's `_keep_until_exit`)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit
        status = 1
    if isinstance(status, int) and status > 128:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(status)
    sys.exit(status)


def one_line(err):
    """An exception as one line of text (its message's lines joined)."""
    text = ' '.join(str(err).split()) or type(err).__name__
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text += f': {err.filename}'
    return text
