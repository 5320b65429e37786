"""General file helpers of the suite: one-line user errors, progress lines, atomic writes,
text that may be gzipped, and content hashes. Nothing here knows about Pfam."""
import gzip
import hashlib
import os
import sys
import tempfile


class DataError(ValueError):
    """A problem with the user's data or arguments, reported as one line (CLI exit code 2)."""


def log(message):
    """Progress output: one flushed line on stderr, so it shows up live in SLURM logs."""
    print(message, file=sys.stderr, flush=True)


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


def atomic_write(path, write, mode='wb'):
    """Write a file through a temporary file in the same folder and an atomic rename.

    Args:
        path: destination file.
        write: callable taking the open temporary file object, or with ``mode='path'`` its path
            (for savers that want a file name: Keras models and weights, matplotlib figures).
        mode: 'wb', 'w' or 'path'. The temporary name keeps the suffix of ``path`` (``.keras``,
            ``.weights.h5``, ``.png`` ...), which such savers check.

    A crash or a kill midway leaves either the old file or the new one, never half a file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.' + name + '.',
                                   suffix=name[name.find('.'):] if '.' in name else '')
    try:
        if mode == 'path':
            os.close(handle)
            write(tmp)
        else:
            with os.fdopen(handle, mode) as f:
                write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def open_text(path):
    """Open a text file, gzip-compressed or not (Pfam files are latin-1 in places)."""
    with open(path, 'rb') as f:
        gzipped = f.read(2) == b'\x1f\x8b'
    if gzipped:
        return gzip.open(path, 'rt', encoding='utf-8', errors='replace')
    return open(path, 'rt', encoding='utf-8', errors='replace')


def sha256(path):
    digest = hashlib.sha256()
    paths = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for p in paths:
        with open(p, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def run_main(main):
    """``sys.exit(main())`` for a command line whose output may go to a reader that stops early
    (``| head``): then it ends quietly with status 1 instead of a BrokenPipeError traceback."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit
        status = 1
    sys.exit(status)
