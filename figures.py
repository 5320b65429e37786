"""Result pickles → Figures 0–4 and the test accuracy table (also used by figures.ipynb).

    python figures.py --results results/pfam46 --out results/pfam46/figures

Reads every ``*_results.pkl`` under ``--results`` (written by `hw6_base.py`) and writes:

=============================  =============================================================
``figure0a_rnn.png`` ...       ``plot_model`` diagrams with shapes (0a rnn, 0b gru, 0c mha)
``figure1a_train_accuracy``    training accuracy vs epoch, one curve per (type, rotation)
``figure1b_valid_accuracy``    validation accuracy vs epoch, likewise
``figure2_gru_vs_mha.png``     validation accuracy, GRU (x) vs MHA (y), one curve per rotation
``figure3_test_accuracy.png``  test accuracy per rotation, one bar per model type
``figure4_contingency.png``    contingency table (counts) of the pooled 5 test folds, best type
``test_accuracy.md`` / ``.csv``  accuracy per rotation x type, mean ± std, epochs, s/epoch, params
``figure5_valid_per_pass.png``  (``--per_pass``) validation accuracy vs passes over the training data
``passes.md``                  (``--per_pass``) passes, best pass, minutes per pass, peak RSS
=============================  =============================================================

Missing model types or rotations are skipped with a note, and so is an incomplete or unreadable
pickle (0 bytes, truncated: `job_control.read_result`), with a line naming it; no readable
result at all is an error (exit 2).

Pickles are read by `fileio.load_pickle`, which takes plain values and NumPy arrays only: a
crafted pickle is reported and skipped, its code never run.
"""
import argparse
import glob
import os
import sys

import numpy as np
import pandas as pd

import artefacts
import fileio
import job_control
import pfam_loader
import settings

FIGURE0 = {'rnn': 'figure0a_rnn.png', 'gru': 'figure0b_gru.png', 'mha': 'figure0c_mha.png',
           'lstm': 'figure0d_lstm.png'}
TYPE_ORDER = settings.MODEL_TYPES
TYPE_LABEL = {'rnn': 'SimpleRNN', 'gru': 'GRU', 'lstm': 'LSTM', 'mha': 'MHA'}
TYPE_COLOR = {'rnn': 'tab:green', 'gru': 'tab:blue', 'lstm': 'tab:purple', 'mha': 'tab:red'}
ROTATION_STYLE = [('-', 'o'), ('--', 's'), (':', '^'), ('-.', 'D'), ((0, (5, 1, 1, 1)), 'v')]
ACCURACY, VALID_ACCURACY = settings.ACCURACY, settings.MONITOR
#: Figure 4 shows at most this many families (those with the most errors) so that it stays
#: readable and small with hundreds of families
MAX_CONTINGENCY = 50
#: per_family.md: the smallest families and the least accurate ones
PER_FAMILY_ROWS = 15


class ResultsError(ValueError):
    """The results directory cannot be used (empty, unreadable pickle)."""


def note(message):
    print(f'figures: {message}', file=sys.stderr, flush=True)


# ---------------------------------------------------------------- loading
def load_results(results_dir):
    """``{(model_type, rotation): result}`` of every ``*_results.pkl`` under ``results_dir``.

    A pickle that is not a complete result (`job_control.read_result`: empty, truncated,
    unreadable, keys missing) is skipped with a line naming it. When two results share a model
    type and rotation (e.g. a rerun under another label), the newest file wins and a note says so.
    Pickles are read by `fileio.load_pickle`: no code in them runs.

    Raises:
        ResultsError: no such directory, no ``*_results.pkl``, or none of them readable.
    """
    if not os.path.isdir(results_dir):
        raise ResultsError(f'{results_dir}: no such directory')
    artefacts.settle_all(results_dir)             # a publish a kill interrupted: finish it
    paths = sorted(glob.glob(os.path.join(results_dir, '**', '*_results.pkl'), recursive=True),
                   key=_mtime)
    if not paths:
        raise ResultsError(f'{results_dir}: no *_results.pkl files (run hw6_base.py first)')
    results, skipped = {}, 0
    for path in paths:
        result, problem = job_control.read_result(path)
        if result is not None:
            try:
                key = (result['model_type'], int(result['rotation']))
            except (TypeError, ValueError) as err:       # an odd rotation
                problem = f'unreadable ({type(err).__name__}: {err})'
        if problem is not None:
            problem = ' '.join(problem.split())[:100]
            note(f'skipping {path}: {problem}')
            skipped += 1
            continue
        if key in results:
            note(f'{key[0]} rotation {key[1]}: using {os.path.basename(path)} (newer than '
                 f'{results[key]["name"]})')
        result['path'] = path
        results[key] = result
    if not results:
        raise ResultsError(f'{results_dir}: none of the {skipped} *_results.pkl files is a '
                           'readable result (see the lines above)')
    # Pooling test folds (Figure 4, the table) needs class i to be one family in every result.
    first = next(iter(results.values()))
    for result in results.values():
        if list(result['class_names']) != list(first['class_names']):
            raise ResultsError(f'{result["path"]} and {first["path"]} number their classes '
                               'differently (other datasets?); put them in separate directories')
    return results


def _mtime(path):
    try:
        return os.path.getmtime(path)
    except OSError:                                   # a dangling link: skipped when read
        return 0.0


def model_types(results):
    present = {t for t, _ in results}
    return [t for t in TYPE_ORDER if t in present] + sorted(present - set(TYPE_ORDER))


def rotations(results):
    return sorted({r for _, r in results})


def pooled(results, model_type):
    """What a figure or table pooling ``model_type``'s test folds pools: ``'all 5 rotations'``,
    or the rotations present and how many of the expected (``'rotations 0, 3 (2 of 5)'``)."""
    present = sorted(r for t, r in results if t == model_type)
    if present == list(settings.ROTATIONS):
        return f'all {len(present)} rotations'
    word = 'rotation' if len(present) == 1 else 'rotations'
    return (f'{word} {", ".join(map(str, present))} ({len(present)} of '
            f'{len(settings.ROTATIONS)})')


def _spell(numbers):
    return ', '.join(map(str, numbers))


# ---------------------------------------------------------------- Figure 0
def figure0(results, out_dir):
    """plot_model diagram of one model per type (the saved model, else rebuilt from its args),
    without TensorFlow's start-up lines (`fileio.filtered_stderr`)."""
    with fileio.filtered_stderr(fileio.tensorflow_noise()):
        return _figure0(results, out_dir)


def _figure0(results, out_dir):
    import network                    # deferred: Keras is needed for Figure 0 only
    written = []
    for model_type in model_types(results):
        result = results[min((k for k in results if k[0] == model_type), key=lambda k: k[1])]
        path = os.path.join(os.path.dirname(result['path']), result.get('model_path', ''))
        model = None
        if result.get('model_path') and os.path.isfile(path):
            try:
                model = network.load_model(path)
            except (ValueError, OSError) as err:
                note(f'{model_type}: {err}; rebuilding it from its args')
        else:
            note(f'{model_type}: model file {path} not found; rebuilding it from its args')
        if model is None:
            model = network.build_model(model_type, pfam_loader.N_TOKENS,
                                        len(result['class_names']), compile=False,
                                        **settings.model_kwargs(result.get('config')
                                                                or result['args']))
        name = FIGURE0.get(model_type, f'figure0_{model_type}.png')
        try:
            written.append(network.render_model(model, os.path.join(out_dir, name)))
        except (RuntimeError, ImportError, OSError) as err:
            note(f'Figure 0 skipped: {err}')
            break
    return written


# ---------------------------------------------------------------- Figures 1-3
def _style(model_type, rotation):
    line, marker = ROTATION_STYLE[rotation % len(ROTATION_STYLE)]
    return dict(color=TYPE_COLOR.get(model_type, 'black'), linestyle=line, marker=marker,
                markersize=3, linewidth=1.2)


def figure1(results, out_dir, metric, path_name, title):
    """Accuracy vs epoch: colour = model type, line style and marker = rotation; a second panel
    beside the first zooms on the second half of each run, where the curves are close to 1 (a
    panel of its own, so that it hides no curve of the first)."""
    import matplotlib.pyplot as plt
    fig, (ax, inset) = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=(3, 2))
    late = []
    for model_type in model_types(results):
        for rotation in rotations(results):
            result = results.get((model_type, rotation))
            if result is None:
                continue
            values = np.asarray(result['history'][metric])
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, **_style(model_type, rotation),
                    label=f'{TYPE_LABEL.get(model_type, model_type)} rot {rotation}')
            half = len(values) // 2
            inset.plot(epochs[half:], values[half:], **_style(model_type, rotation))
            late.append(values[half:].min())
    if late:
        inset.set_ylim(min(late) - 0.002, 1.001)
    inset.set(xlabel='epoch', title='zoom: the second half of each run')
    inset.grid(alpha=0.3)
    ax.set(xlabel='epoch', ylabel='accuracy', title=title)
    ax.grid(alpha=0.3)
    inset.legend(ncol=1, fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0),
                 handles=ax.lines, labels=[line.get_label() for line in ax.lines])
    return _save(fig, out_dir, path_name)


def figure2(results, out_dir):
    """Validation accuracy of GRU (x) against MHA (y) per epoch, one curve per rotation; the
    shorter run is padded with its final value so both curves cover the longer run. Left: all
    epochs; right: zoomed on the last epochs, where the two types are told apart."""
    import matplotlib.pyplot as plt
    pairs = [r for r in rotations(results) if ('gru', r) in results and ('mha', r) in results]
    if not pairs:
        note('Figure 2 skipped: no rotation has both a GRU and an MHA result')
        return None
    curves = {}
    for rotation in pairs:
        gru = np.asarray(results[('gru', rotation)]['history'][VALID_ACCURACY])
        mha = np.asarray(results[('mha', rotation)]['history'][VALID_ACCURACY])
        n = max(len(gru), len(mha))
        curves[rotation] = [np.pad(v, (0, n - len(v)), mode='edge') for v in (gru, mha)]
    everything = np.concatenate([np.concatenate(c) for c in curves.values()])
    finals = np.array([[c[0][-1], c[1][-1]] for c in curves.values()])
    zoom_low = max(0.0, min(finals.min() - 0.01, 1 - 3 * (1 - finals.min())))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
    for ax, low, title in ((axes[0], everything.min() - 0.02, 'all epochs'),
                           (axes[1], zoom_low, f'zoom: accuracy >= {zoom_low:.3f}')):
        for rotation, (gru, mha) in curves.items():
            line, marker = ROTATION_STYLE[rotation % len(ROTATION_STYLE)]
            ax.plot(gru, mha, linestyle=line, marker=marker, markersize=3,
                    label=f'rotation {rotation}')
            ax.plot(gru[-1], mha[-1], marker='*', markersize=12, color=ax.lines[-1].get_color())
        ax.plot([0, 1], [0, 1], color='gray', linewidth=0.8, label='equal accuracy')
        ax.set(xlim=(low, 1.001), ylim=(low, 1.001), aspect='equal', title=title,
               xlabel='GRU validation accuracy', ylabel='MHA validation accuracy')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc='lower right')
    fig.suptitle('Validation accuracy epoch by epoch, GRU vs MHA (★ last epoch; above the '
                 'diagonal: MHA ahead)', fontsize=10)
    return _save(fig, out_dir, 'figure2_gru_vs_mha.png')


def figure3(results, out_dir, baseline=None):
    """Grouped bars: one group per rotation, one bar per model type, values written on the bars;
    the y-axis is zoomed to the range of the values so differences near 1.0 show."""
    import matplotlib.pyplot as plt
    types, rots = model_types(results), rotations(results)
    width = 0.8 / len(types)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(rots) * len(types) / 2), 5))
    values = []
    for i, model_type in enumerate(types):
        xs, ys = [], []
        for j, rotation in enumerate(rots):
            if (model_type, rotation) in results:
                xs.append(j + (i - (len(types) - 1) / 2) * width)
                ys.append(results[(model_type, rotation)]['test_accuracy'])
        bars = ax.bar(xs, ys, width * 0.95, color=TYPE_COLOR.get(model_type),
                      label=TYPE_LABEL.get(model_type, model_type))
        ax.bar_label(bars, labels=[f'{y:.4f}' for y in ys], rotation=90, padding=2, fontsize=7)
        values += ys
    if baseline:
        ax.axhline(baseline['mean'], color='black', linestyle='--', linewidth=1,
                   label=f'{baseline["name"]} (mean {baseline["mean"]:.4f})')
        values.append(baseline['mean'])
    low = min(values)
    ax.set_ylim(max(0.0, low - max(0.02, (1 - low) * 0.5)), 1.0 + (1 - low) * 0.35 + 0.002)
    ax.set_xticks(range(len(rots)), [f'rotation {r}' for r in rots])
    ax.set(ylabel='test accuracy', title='Test accuracy per rotation')
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8, loc='upper center', ncol=len(types) + 1)
    return _save(fig, out_dir, 'figure3_test_accuracy.png')


# ---------------------------------------------------------------- Figure 4
def contingency(results, model_type):
    """Counts (true class x predicted class) over all test folds of ``model_type``, and the
    class names."""
    from sklearn.metrics import confusion_matrix
    parts = [results[k] for k in sorted(results) if k[0] == model_type]
    names = parts[0]['class_names']
    true = np.concatenate([p['outs_test'][:, 0] for p in parts])
    predicted = np.concatenate([predicted_classes(p) for p in parts])
    return confusion_matrix(true, predicted, labels=np.arange(len(names))), names


def predicted_classes(result):
    """The predicted class of every test sequence of ``result``: the argmax of ``predict_test``,
    or, in a compact result (``predict_test`` None: only the top classes kept, as in
    results/course_scale), the first of ``predict_test_top['classes']``."""
    if result['predict_test'] is None and result.get('predict_test_top') is not None:
        return np.asarray(result['predict_test_top']['classes'])[:, 0]
    return np.asarray(result['predict_test']).argmax(axis=1)


def _errors(counts):
    """A contingency table with its diagonal (the correct predictions) zeroed."""
    return np.where(np.eye(len(counts), dtype=bool), 0, counts)


def best_model_type(results):
    table = summary_table(results)
    return table['mean'].idxmax()


def figure4(results, out_dir, model_type=None, file_name='figure4_contingency.png'):
    """Contingency table as counts: diagonal cells (correct) in grey, errors in red, every
    non-zero count written in its cell; rows are true families, columns predicted ones."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    model_type = model_type or best_model_type(results)
    counts, names = contingency(results, model_type)
    total, correct, n_families = counts.sum(), np.trace(counts), len(names)
    if n_families > MAX_CONTINGENCY:            # the families with the most errors, in order
        errors = _errors(counts)
        keep = np.sort(np.argsort(-(errors.sum(axis=0) + errors.sum(axis=1)),
                                  kind='stable')[:MAX_CONTINGENCY])
        counts, names = counts[np.ix_(keep, keep)], [names[i] for i in keep]
    n = len(names)
    size = max(6, 0.3 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    errors = _errors(counts)
    shade = np.where(np.eye(n, dtype=bool), 1, np.where(errors > 0, 2, 0))
    ax.imshow(shade, cmap=ListedColormap(['white', '#d9d9d9', '#f4a3a3']), vmin=0, vmax=2)
    font = 9 if n <= 20 else 6 if n <= 50 else 4
    for i, j in zip(*np.nonzero(counts)):
        ax.text(j, i, str(counts[i, j]), ha='center', va='center', fontsize=font,
                color='darkred' if i != j else 'black')
    ax.set_xticks(range(n), names, rotation=90, fontsize=font)
    ax.set_yticks(range(n), names, fontsize=font)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which='minor', color='#eeeeee', linewidth=0.5)
    ax.tick_params(which='minor', length=0)
    shown = (f'\nthe {n} of {n_families} families with the most errors'
             if n < n_families else '')
    ax.set(xlabel='predicted family', ylabel='true family',
           title=f'{TYPE_LABEL.get(model_type, model_type)}: test folds of '
                 f'{pooled(results, model_type)}, '
                 f'{total:,} sequences, {total - correct:,} errors ({correct / total:.4f} correct)'
                 + shown)
    return _save(fig, out_dir, file_name)


def per_family(results, model_type=None):
    """DataFrame per family (sorted by size) of ``model_type`` (default the best) over the test
    folds of all its rotations: sequences (with 5 rotations: the whole family), errors and
    accuracy, and the family it is most often mistaken for."""
    model_type = model_type or best_model_type(results)
    counts, names = contingency(results, model_type)
    errors = _errors(counts)
    sizes = counts.sum(axis=1)
    table = pd.DataFrame({'family': names, 'sequences': sizes, 'errors': errors.sum(axis=1),
                          'accuracy': np.diag(counts) / np.maximum(sizes, 1),
                          'mistaken_for': [names[j] if errors[i, j] else ''
                                           for i, j in enumerate(errors.argmax(axis=1))]})
    return table.sort_values(['sequences', 'family'], kind='stable').reset_index(drop=True)


def accuracy_by_size(table, bands=4):
    """Accuracy by family size: a `per_family` table cut into ``bands`` groups of about as
    many families each, from the smallest up; per group the range of sizes, families,
    sequences, errors and accuracy (of the group's sequences)."""
    group = pd.qcut(table['sequences'].rank(method='first'), min(bands, len(table)), labels=False)
    rows = [{'sizes': f'{part.sequences.min():,}–{part.sequences.max():,}',
             'families': len(part), 'sequences': int(part.sequences.sum()),
             'errors': int(part.errors.sum()),
             'accuracy': 1 - part.errors.sum() / max(part.sequences.sum(), 1)}
            for _, part in table.groupby(group, sort=True)]
    return pd.DataFrame(rows)


def write_per_family(results, out_dir, model_type=None, rows=PER_FAMILY_ROWS):
    """``per_family.csv`` (every family) and ``per_family.md`` (the ``rows`` smallest families
    and the ``rows`` least accurate ones)."""
    model_type = model_type or best_model_type(results)
    table = per_family(results, model_type)
    pfam_loader.atomic_write(os.path.join(out_dir, 'per_family.csv'),
                             lambda f: table.to_csv(f, index=False, float_format='%.6g'), 'w')

    def markdown(part):
        return '\n'.join(fileio.markdown_table(
            ['family', 'sequences', 'errors', 'accuracy', 'most often mistaken for'],
            [[r.family, f'{r.sequences:,}', f'{r.errors:,}', f'{r.accuracy:.4f}',
              r.mistaken_for or '–'] for r in part.itertuples()]))
    worst = table.sort_values(['accuracy', 'sequences'], kind='stable')
    by_size = '\n'.join(fileio.markdown_table(
        ['sequences per family', 'families', 'sequences', 'errors', 'accuracy'],
        [[r.sizes, r.families, f'{r.sequences:,}', f'{r.errors:,}', f'{r.accuracy:.4f}']
         for r in accuracy_by_size(table).itertuples()]))
    label = TYPE_LABEL.get(model_type, model_type)
    text = (f'{label}, test folds of {pooled(results, model_type)} ({len(table)} families; '
            f'per_family.csv has all).\n\n'
            f'Accuracy by family size (quarters of the families, smallest first):\n\n'
            f'{by_size}\n\n'
            f'The {rows} smallest families:\n\n{markdown(table.head(rows))}\n\n'
            f'The {rows} least accurate families:\n\n{markdown(worst.head(rows))}\n')
    path = os.path.join(out_dir, 'per_family.md')
    pfam_loader.atomic_write(path, lambda f: f.write(text), 'w')
    return path


# ---------------------------------------------------------------- passes over the data
def passes_per_epoch(result):
    """Passes over the training folds that one epoch of ``result`` made: 1 for a full epoch,
    ``steps_per_epoch × batch / n_train`` when the run set ``--steps_per_epoch``."""
    steps = result['args'].get('steps_per_epoch')
    n_train = (result.get('dataset') or {}).get('n_train')
    if not steps or not n_train:
        return 1.0
    return steps * result['args']['batch'] / n_train


def figure5(results, out_dir, target=None):
    """Validation accuracy against passes over the training folds, one curve per (type,
    rotation): runs of different epoch lengths on one axis; a dotted line at ``target``."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for (model_type, rotation), result in _in_order(results):
        values = np.asarray(result['history'][VALID_ACCURACY])
        passes = np.arange(1, len(values) + 1) * passes_per_epoch(result)
        ax.plot(passes, values, **_style(model_type, rotation),
                label=f'{TYPE_LABEL.get(model_type, model_type)} rot {rotation}')
    if target:
        ax.axhline(target, color='0.4', linestyle=':', linewidth=1, label=f'{target:g}')
    ax.set(xlabel='passes over the training folds', ylabel='validation accuracy',
           title='Validation accuracy per pass over the training data')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    return _save(fig, out_dir, 'figure5_valid_per_pass.png')


def passes_table(results):
    """Markdown: per (type, rotation) the passes trained, the pass of the best validation
    accuracy, that accuracy, test accuracy, minutes per pass (the run's own epoch times, so
    they include any time it waited for other work) and peak RSS."""
    lines = ['| model | rotation | passes | best pass | validation accuracy | test accuracy | '
             'minutes per pass | peak RSS (GB) |', '|---' * 8 + '|']
    for (model_type, rotation), result in _in_order(results):
        per_epoch = passes_per_epoch(result)
        rss = result.get('max_rss_mb')
        lines.append(
            f'| {TYPE_LABEL.get(model_type, model_type)} | {rotation} | '
            f'{result["n_epochs"] * per_epoch:.3g} | '
            f'{(result["best_epoch"] + 1) * per_epoch:.3g} | '
            f'{result["valid_accuracy"]:.4f} | {result["test_accuracy"]:.4f} | '
            f'{np.mean(result["epoch_times"]) / per_epoch / 60:.1f} | '
            + (f'{rss / 1024:.1f}' if rss else '–') + ' |')
    return '\n'.join(lines) + '\n'


def _in_order(results):
    """``((type, rotation), result)`` in the order of `model_types` and `rotations`."""
    return [((t, r), results[t, r]) for t in model_types(results) for r in rotations(results)
            if (t, r) in results]


# ---------------------------------------------------------------- table
def summary_table(results, baseline=None):
    """DataFrame indexed by model type: test accuracy per rotation, mean, std, the number of
    rotations (``n_rotations``) they are over, epochs trained
    and epoch of the best validation accuracy (means over rotations, 1-based), seconds per
    epoch (mean), parameters."""
    rows = {}
    for model_type in model_types(results):
        parts = {r: results[(model_type, r)] for r in rotations(results)
                 if (model_type, r) in results}
        accuracy = np.array([p['test_accuracy'] for p in parts.values()])
        row = {f'rotation {r}': p['test_accuracy'] for r, p in parts.items()}
        row.update(mean=accuracy.mean(), std=accuracy.std(ddof=1) if len(accuracy) > 1 else 0.0,
                   n_rotations=len(accuracy),
                   epochs=np.mean([p['n_epochs'] for p in parts.values()]),
                   best_epoch=np.mean([p['best_epoch'] + 1 for p in parts.values()]),
                   seconds_per_epoch=np.mean([np.mean(p['epoch_times']) for p in parts.values()]),
                   parameters=int(np.mean([p['n_params'] for p in parts.values()])))
        rows[model_type] = row
    if baseline:
        accuracy = baseline['per_rotation']
        rotation_ids = baseline.get('rotations', range(len(accuracy)))   # older files: 0, 1, ..
        row = {f'rotation {r}': a for r, a in zip(rotation_ids, accuracy)}
        row.update(mean=baseline['mean'],
                   std=float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
                   n_rotations=len(accuracy), epochs=np.nan, best_epoch=np.nan,
                   seconds_per_epoch=np.nan,
                   parameters=np.nan)
        rows[baseline['name']] = row
    table = pd.DataFrame.from_dict(rows, orient='index')
    rotation_columns = sorted((c for c in table.columns if c.startswith('rotation')),
                              key=lambda c: int(c.split()[1]))
    table = table[rotation_columns + [c for c in table.columns if c not in rotation_columns]]
    table.index.name = 'model'
    return table


def write_table(results, out_dir, baseline=None):
    """``test_accuracy.csv`` (full precision) and ``test_accuracy.md`` (readable)."""
    table = summary_table(results, baseline)
    csv = os.path.join(out_dir, 'test_accuracy.csv')
    pfam_loader.atomic_write(csv, lambda f: table.to_csv(f, float_format='%.6g'), 'w')
    rotation_columns = [c for c in table.columns if c.startswith('rotation')]
    lines = ['| model | ' + ' | '.join(rotation_columns) + ' | mean ± std (rotations) | epochs | '
             'best epoch | s/epoch | parameters |', '|---' * (len(rotation_columns) + 6) + '|']
    for model, row in table.iterrows():
        cells = [f'{row[c]:.4f}' if pd.notna(row[c]) else '–' for c in rotation_columns]
        extra = ['–' if pd.isna(row[c]) else fmt.format(row[c]) for c, fmt in
                 (('epochs', '{:.1f}'), ('best_epoch', '{:.1f}'), ('seconds_per_epoch', '{:.1f}'),
                  ('parameters', '{:,.0f}'))]
        mean = f'{row["mean"]:.4f} ± {row["std"]:.4f} ({row["n_rotations"]:.0f})'
        lines.append(f'| {TYPE_LABEL.get(model, model)} | ' + ' | '.join(cells)
                     + f' | {mean} | ' + ' | '.join(extra) + ' |')
    markdown = '\n'.join(lines) + '\n'
    pfam_loader.atomic_write(os.path.join(out_dir, 'test_accuracy.md'),
                             lambda f: f.write(markdown), 'w')
    return table, markdown


def load_baseline(results_dir):
    """The SVM baseline's JSON (written by svm_baseline.py) if it is in the results dir."""
    import json
    path = os.path.join(results_dir, 'svm_baseline.json')
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _log_row(path):
    """The markdown row of one ``*_log.csv``; `ResultsError` (the reason, without the path) for
    a log that is empty, not a CSV, or without numeric accuracy columns."""
    try:
        empty = os.path.getsize(path) == 0
        log = None if empty else pd.read_csv(path)
    except (ValueError, OSError) as err:       # pandas' EmptyDataError, ParserError; undecodable
        raise ResultsError(f'not a CSV log ({fileio.one_line(err)})') from None
    if empty:
        raise ResultsError('an empty file')
    missing = [column for column in (VALID_ACCURACY, ACCURACY) if column not in log]
    if missing:
        raise ResultsError(f'no {" or ".join(missing)} column')
    if log.empty:
        raise ResultsError('no epoch logged yet')
    valid = pd.to_numeric(log[VALID_ACCURACY], errors='coerce').to_numpy(dtype=float)
    train = pd.to_numeric(log[ACCURACY], errors='coerce').to_numpy(dtype=float)
    if not np.isfinite(valid).any():
        raise ResultsError(f'no numeric {VALID_ACCURACY} value')
    best = int(np.nanargmax(np.where(np.isfinite(valid), valid, np.nan)))
    return (f'| {os.path.basename(path)[:-len("_log.csv")]} | {len(log)} | {valid[best]:.4f} | '
            f'{best + 1} | {train[-1]:.4f} |')


def summarize_logs(directory):
    """Markdown table of every ``*_log.csv`` (finished or not) under ``directory``: epochs run
    and best validation accuracy — the record of a tuning sweep. A log that is empty, not a
    CSV or without accuracy columns is skipped with a note naming it.

    Raises:
        ResultsError: no ``*_log.csv`` under ``directory``, or none that could be read.
    """
    lines = ['| run | epochs | best validation accuracy | at epoch | final training accuracy |',
             '|---|---|---|---|---|']
    paths = sorted(glob.glob(os.path.join(glob.escape(directory), '**', '*_log.csv'),
                             recursive=True))
    if not paths:
        raise ResultsError(f'{directory}: no *_log.csv files')
    skipped = []
    for path in paths:
        try:
            lines.append(_log_row(path))
        except ResultsError as err:
            skipped.append(f'{path}: {err}')
    if len(skipped) == len(paths):
        raise ResultsError(f'{directory}: no readable *_log.csv ({len(paths)} found; '
                           f'{skipped[0]}' + (' ...' if len(paths) > 1 else '') + ')')
    for reason in skipped:
        note(f'skipping {reason}')
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------- all of it
def _save(fig, out_dir, name, dpi=150):
    import matplotlib.pyplot as plt
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    pfam_loader.atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=dpi), 'path')
    plt.close(fig)
    return path


def make_all(results_dir, out_dir, all_contingency=False, diagrams=True, per_pass=None):
    """Every figure and the table; returns ``{name: path}`` of what was written. ``per_pass``
    (a target accuracy, or True for none) adds Figure 5 and ``passes.md``."""
    import matplotlib
    if 'matplotlib.pyplot' not in sys.modules:
        matplotlib.use('Agg')
    results = load_results(results_dir)
    os.makedirs(out_dir, exist_ok=True)
    types = model_types(results)
    for model_type in types:
        absent = [r for r in settings.ROTATIONS if (model_type, r) not in results]
        if absent:
            note(f'{model_type}: no result for rotation(s) {_spell(absent)}; the figures and '
                 f'the table pool {pooled(results, model_type)}')
    for model_type in job_control.REFERENCE_TYPES:
        if model_type not in types:
            note(f'no {model_type} results; it is missing from every figure')
    baseline = load_baseline(results_dir)
    written = {}
    if diagrams:
        written.update({os.path.basename(p): p for p in figure0(results, out_dir)})
    written['figure1a_train_accuracy.png'] = figure1(
        results, out_dir, ACCURACY, 'figure1a_train_accuracy.png', 'Training accuracy')
    written['figure1b_valid_accuracy.png'] = figure1(
        results, out_dir, VALID_ACCURACY, 'figure1b_valid_accuracy.png', 'Validation accuracy')
    path = figure2(results, out_dir)
    if path:
        written['figure2_gru_vs_mha.png'] = path
    written['figure3_test_accuracy.png'] = figure3(results, out_dir, baseline)
    written['figure4_contingency.png'] = figure4(results, out_dir)
    if all_contingency:
        for model_type in types:
            name = f'figure4_contingency_{model_type}.png'
            written[name] = figure4(results, out_dir, model_type, name)
    written['per_family.md'] = write_per_family(results, out_dir)
    _, markdown = write_table(results, out_dir, baseline)
    written['test_accuracy.md'] = os.path.join(out_dir, 'test_accuracy.md')
    written['test_accuracy.csv'] = os.path.join(out_dir, 'test_accuracy.csv')
    if per_pass:
        target = None if per_pass is True else per_pass
        written['figure5_valid_per_pass.png'] = figure5(results, out_dir, target)
        table = passes_table(results)
        written['passes.md'] = os.path.join(out_dir, 'passes.md')
        pfam_loader.atomic_write(written['passes.md'], lambda f: f.write(table), 'w')
    return written


def create_parser():
    parser = argparse.ArgumentParser(
        description='Figures 0-4 and the test accuracy table from hw6_base.py result pickles.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--results', default='results/pfam46',
                        help='directory searched (recursively) for *_results.pkl')
    parser.add_argument('--out', default=None, help='output directory (default: RESULTS/figures)')
    parser.add_argument('--all_contingency', action='store_true',
                        help='also one contingency table per model type '
                             '(figure4_contingency_{type}.png)')
    parser.add_argument('--no_diagrams', action='store_true',
                        help='skip Figure 0 (the plot_model diagrams)')
    parser.add_argument('--per_pass', metavar='TARGET', nargs='?', type=float, const=True,
                        default=None,
                        help='also Figure 5 (validation accuracy per pass over the training '
                             'folds, a line at TARGET when given) and passes.md (passes, minutes '
                             'per pass, peak RSS beside the accuracies): runs of different epoch '
                             'lengths compared, e.g. --per_pass 0.99 for results/course_scale')
    parser.add_argument('--log_summary', metavar='DIR', default=None,
                        help='instead: print a table of the *_log.csv files under DIR (e.g. a '
                             'tuning sweep, finished or not) and exit')
    return parser


@fileio.command()
def main(argv=None):
    args = create_parser().parse_args(argv)
    out = args.out or os.path.join(args.results, 'figures')
    try:
        if args.log_summary:
            print(summarize_logs(args.log_summary), end='')
            return 0
        written = make_all(args.results, out, args.all_contingency, not args.no_diagrams,
                           args.per_pass)
    except ResultsError as err:
        raise fileio.DataError(str(err)) from None
    for name, path in written.items():
        print(path)
    with open(written['test_accuracy.md']) as f:
        print(f.read())
    return 0


if __name__ == '__main__':
    fileio.run_main(main)
