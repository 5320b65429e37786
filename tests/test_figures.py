"""figures.py and figures.ipynb on fixture result pickles shaped like hw6_base.py's."""
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import figures
import network
from conftest import ROOT

PNG = b'\x89PNG\r\n\x1a\n'
N_CLASSES, N_TEST = 5, 40


def _result(model_type, rotation, n_epochs, directory, save_model):
    rng = np.random.default_rng(10 * rotation + len(model_type))
    outs = rng.integers(0, N_CLASSES, size=(N_TEST, 1)).astype(np.int32)
    logits = rng.normal(size=(N_TEST, N_CLASSES))
    logits[np.arange(N_TEST), outs[:, 0]] += 2.5                     # mostly right
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    curve = 1 - 0.5 * np.exp(-np.arange(n_epochs) / 3)
    name = f'{model_type}_rot{rotation}'
    model_path = ''
    if save_model:
        model_path = f'{name}.keras'
        network.small_test_model(model_type, n_classes=N_CLASSES).save(directory / model_path)
    args = dict(n_embeddings=8, conv_filters=16, conv_kernel=3, conv_stride=2, rnn_units=[16, 16],
                pool_sizes=[2], attention_heads=[2], key_dim=8, feed_forward=16, dense_units=[16],
                activation='elu', dropout=0.0, dense_dropout=0.0, l2=0.0, lr=1e-3, clipnorm=0.01, jit_compile=False)
    return {'name': name, 'model_type': model_type, 'rotation': rotation, 'args': args,
            'history': {'sparse_categorical_accuracy': list(curve),
                        'val_sparse_categorical_accuracy': list(curve - 0.02),
                        'loss': list(1 - curve)},
            'test_accuracy': float(np.mean(probabilities.argmax(1) == outs[:, 0])),
            'predict_test': probabilities, 'outs_test': outs,
            'class_names': [f'PF0000{i}.1' for i in range(N_CLASSES)],
            'epoch_times': [1.5] * n_epochs, 'n_params': 1000 + len(model_type),
            'n_epochs': n_epochs, 'best_epoch': n_epochs - 1, 'model_path': model_path,
            'test_loss': 0.1, 'valid_accuracy': float(curve[-1] - 0.02),
            'wall_time': 1.5 * n_epochs, 'hostname': 'test', 'device': 'cpu',
            'dataset': {'basedir': 'fixture', 'version': 'T', 'len_max': 100, 'n_train': 200}}


@pytest.fixture(scope='module')
def results_dir(tmp_path_factory):
    """rnn, gru and mha over 5 rotations (GRU and MHA of different lengths); models saved for
    gru and mha only, so rnn's diagram is rebuilt from its args."""
    directory = tmp_path_factory.mktemp('results')
    for model_type in ('rnn', 'gru', 'mha'):
        for rotation in range(5):
            result = _result(model_type, rotation, 6 if model_type == 'gru' else 9, directory,
                             save_model=rotation == 0 and model_type != 'rnn')
            with open(directory / f'{result["name"]}_results.pkl', 'wb') as f:
                pickle.dump(result, f)
    return directory


@pytest.mark.slow
def test_every_pinned_output_is_written(results_dir, tmp_path):
    written = figures.make_all(str(results_dir), str(tmp_path), diagrams=shutil.which('dot')
                               is not None)
    names = ['figure1a_train_accuracy.png', 'figure1b_valid_accuracy.png',
             'figure2_gru_vs_mha.png', 'figure3_test_accuracy.png', 'figure4_contingency.png']
    assert written['per_family.md'] == str(tmp_path / 'per_family.md')
    if shutil.which('dot'):
        names += ['figure0a_rnn.png', 'figure0b_gru.png', 'figure0c_mha.png']
    for name in names:
        with open(tmp_path / name, 'rb') as f:
            assert f.read(8) == PNG, name
        assert written[name] == str(tmp_path / name)
    table = pd.read_csv(tmp_path / 'test_accuracy.csv', index_col=0)
    assert list(table.index) == ['rnn', 'gru', 'mha']
    markdown = (tmp_path / 'test_accuracy.md').read_text()
    assert '| GRU |' in markdown and '±' in markdown and 'rotation 4' in markdown


def test_table_values_come_from_the_pickles(results_dir):
    results = figures.load_results(str(results_dir))
    table = figures.summary_table(results)
    accuracies = [results[('mha', r)]['test_accuracy'] for r in range(5)]
    assert table.loc['mha', 'mean'] == pytest.approx(np.mean(accuracies))
    assert table.loc['mha', 'std'] == pytest.approx(np.std(accuracies, ddof=1))
    assert table.loc['gru', 'epochs'] == 6 and table.loc['gru', 'seconds_per_epoch'] == 1.5


def test_contingency_counts_every_test_example_once(results_dir):
    results = figures.load_results(str(results_dir))
    counts, names = figures.contingency(results, 'gru')
    assert counts.shape == (N_CLASSES, N_CLASSES) and len(names) == N_CLASSES
    assert counts.sum() == 5 * N_TEST
    correct = sum(np.sum(results[('gru', r)]['predict_test'].argmax(1)
                         == results[('gru', r)]['outs_test'][:, 0]) for r in range(5))
    assert np.trace(counts) == correct
    true_per_class = np.bincount(np.concatenate([results[('gru', r)]['outs_test'][:, 0]
                                                 for r in range(5)]), minlength=N_CLASSES)
    np.testing.assert_array_equal(counts.sum(axis=1), true_per_class)


@pytest.mark.slow
def test_missing_types_and_rotations_are_skipped_with_a_note(results_dir, tmp_path, capsys):
    partial = tmp_path / 'partial'
    partial.mkdir()
    for name in ('mha_rot0', 'mha_rot3', 'rnn_rot1'):
        shutil.copy(results_dir / f'{name}_results.pkl', partial)
    written = figures.make_all(str(partial), str(tmp_path / 'out'), diagrams=False)
    assert 'figure2_gru_vs_mha.png' not in written                 # no GRU: nothing to compare
    assert os.path.isfile(written['figure3_test_accuracy.png'])
    err = capsys.readouterr().err
    assert 'no gru results' in err
    assert 'mha: no result for rotation(s) 1, 2, 4; the figures and the table pool rotations ' \
           '0, 3 (2 of 5)' in err and 'rnn: no result for rotation(s) 0, 2, 3, 4' in err
    table = (tmp_path / 'out' / 'test_accuracy.md').read_text()
    assert ' (2) |' in table and ' (1) |' in table                  # rotations behind each mean
    assert figures.pooled(figures.load_results(str(results_dir)), 'gru') == 'all 5 rotations'
    assert figures.pooled(figures.load_results(str(partial)), 'rnn') == 'rotation 1 (1 of 5)'



def test_results_with_different_class_lists_are_not_pooled(results_dir, tmp_path):
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    shutil.copy(results_dir / 'mha_rot0_results.pkl', mixed)
    with open(results_dir / 'gru_rot1_results.pkl', 'rb') as f:
        other = pickle.load(f)
    other['class_names'] = list(reversed(other['class_names']))      # another class order
    with open(mixed / 'gru_rot1_results.pkl', 'wb') as f:
        pickle.dump(other, f)
    with pytest.raises(figures.ResultsError, match='number their classes differently'):
        figures.load_results(str(mixed))

def _cli(*argv):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'figures.py'), *argv],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_empty_or_corrupt_results_exit_2(tmp_path):
    result = _cli('--results', str(tmp_path), '--out', str(tmp_path / 'o'))
    assert result.returncode == 2 and 'no *_results.pkl' in result.stderr
    bad = tmp_path / 'gru_rot0_results.pkl'
    bad.write_bytes(b'not a pickle')
    result = _cli('--results', str(tmp_path), '--out', str(tmp_path / 'o'))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines() == [
        f'figures: skipping {bad}: unreadable (UnpicklingError: invalid load key, \'n\'.)',
        f'figures.py: error: {tmp_path}: none of the 1 *_results.pkl files is a readable '
        'result (see the lines above)']
    assert not (tmp_path / 'o').exists()


@pytest.mark.slow
def test_unreadable_pickles_are_skipped_with_one_line_each(results_dir, tmp_path, capsys):
    """0 bytes, truncated, a directory, incomplete: each skipped by name; the rest is drawn."""
    partial = tmp_path / 'partial'
    partial.mkdir()
    for name in ('gru_rot0', 'mha_rot0', 'mha_rot1'):
        shutil.copy(results_dir / f'{name}_results.pkl', partial)
    (partial / 'gru_rot1_results.pkl').write_bytes(b'')                       # 0 bytes
    whole = (results_dir / 'gru_rot2_results.pkl').read_bytes()
    (partial / 'gru_rot2_results.pkl').write_bytes(whole[:len(whole) // 2])   # truncated copy
    (partial / 'rnn_rot0_results.pkl').mkdir()                                 # cannot be read
    with open(partial / 'rnn_rot1_results.pkl', 'wb') as f:                   # killed mid-write
        pickle.dump({'model_type': 'rnn', 'rotation': 1}, f)
    capsys.readouterr()
    written = figures.make_all(str(partial), str(tmp_path / 'out'), diagrams=False)
    skipped = [line for line in capsys.readouterr().err.splitlines() if 'skipping' in line]
    reasons = {'gru_rot1': 'unreadable (EOFError: Ran out of input)',
               'gru_rot2': 'unreadable (UnpicklingError: pickle data was truncated)',
               'rnn_rot0': 'unreadable (IsADirectoryError: [Errno 21] Is a directory',
               'rnn_rot1': 'incomplete (no args, name, history, test_accuracy'}
    assert len(skipped) == len(reasons)
    for name, reason in reasons.items():
        prefix = f'figures: skipping {partial / name}_results.pkl: '
        assert [line[len(prefix):] for line in skipped if line.startswith(prefix)][0].startswith(
            reason), (name, skipped)
    table = pd.read_csv(written['test_accuracy.csv'], index_col=0)
    assert list(table.index) == ['gru', 'mha'] and table.loc['gru', 'rotation 0'] == \
        pytest.approx(pickle.loads((results_dir / 'gru_rot0_results.pkl').read_bytes())[
            'test_accuracy'])
    assert 'rotation 1' in table.columns and pd.isna(table.loc['gru', 'rotation 1'])


@pytest.mark.slow
def test_a_corrupt_model_file_is_rebuilt_for_figure0(results_dir, tmp_path, capsys):
    """Figure 0 of a truncated .keras: a one-line note, the diagram rebuilt from the args."""
    partial = tmp_path / 'partial'
    partial.mkdir()
    shutil.copy(results_dir / 'gru_rot0_results.pkl', partial)
    whole = (results_dir / 'gru_rot0.keras').read_bytes()
    (partial / 'gru_rot0.keras').write_bytes(whole[:len(whole) // 3])
    results = figures.load_results(str(partial))
    capsys.readouterr()
    if shutil.which('dot'):
        assert figures.figure0(results, str(tmp_path)) == [str(tmp_path / 'figure0b_gru.png')]
        assert (tmp_path / 'figure0b_gru.png').read_bytes()[:8] == PNG
    else:
        figures.figure0(results, str(tmp_path))
    assert capsys.readouterr().err.splitlines()[0] == (
        f'figures: gru: {partial / "gru_rot0.keras"}: not a readable Keras model (not a zip '
        f'archive, {len(whole) // 3:,} bytes: truncated?); retrain or re-copy it; rebuilding it '
        'from its args')


@pytest.mark.slow
def test_notebook_runs_headless_with_the_documented_command(results_dir, tmp_path):
    """docs/runs.md: ``FIGURES_RESULTS=DIR python3 -m jupyter execute figures.ipynb --output
    NAME`` runs the notebook without a browser and saves it, figures inline, as NAME.ipynb."""
    nbformat = pytest.importorskip('nbformat')
    pytest.importorskip('nbclient')
    out = tmp_path / 'figures'
    out.mkdir()
    result = subprocess.run(
        [sys.executable, '-m', 'jupyter', 'execute', 'figures.ipynb', '--output',
         str(out / 'figures_notebook')], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, 'FIGURES_RESULTS': str(results_dir), 'FIGURES_OUT': str(out)})
    assert result.returncode == 0, result.stderr[-3000:]
    notebook = nbformat.read(out / 'figures_notebook.ipynb', as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == 'code' for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == 'error']
    assert sum('image/png' in o.get('data', {}) for o in outputs) >= 5
    assert (out / 'figure4_contingency.png').read_bytes()[:8] == PNG


def test_log_summary_lists_finished_and_unfinished_runs(tmp_path):
    pd.DataFrame({'epoch': [0, 1, 2], 'sparse_categorical_accuracy': [0.5, 0.8, 0.9],
                  'val_sparse_categorical_accuracy': [0.4, 0.85, 0.83]}).to_csv(
        tmp_path / 'tune_gru_rot0_log.csv', index=False)
    pd.DataFrame({'epoch': [0], 'sparse_categorical_accuracy': [0.3],
                  'val_sparse_categorical_accuracy': [0.2]}).to_csv(
        tmp_path / 'tune_mha_rot0_log.csv', index=False)
    table = figures.summarize_logs(str(tmp_path)).splitlines()
    assert table[2] == '| tune_gru_rot0 | 3 | 0.8500 | 2 | 0.9000 |'
    assert table[3] == '| tune_mha_rot0 | 1 | 0.2000 | 1 | 0.3000 |'
    with pytest.raises(figures.ResultsError, match='no \\*_log.csv'):
        figures.summarize_logs(str(tmp_path / 'empty'))


def _known_votes(n_classes, wrong):
    """One MHA result of 10 sequences per class, all right but for ``wrong``: a list of
    (true class, predicted class, how many)."""
    outs = np.repeat(np.arange(n_classes), 10)
    predicted = outs.copy()
    start = {c: 10 * c for c in range(n_classes)}
    for true, guess, count in wrong:
        predicted[start[true]:start[true] + count] = guess
        start[true] += count
    result = _result('mha', 0, 3, None, save_model=False)
    result.update(outs_test=outs.reshape(-1, 1).astype(np.int32),
                  predict_test=np.eye(n_classes, dtype=np.float32)[predicted],
                  class_names=[f'PF{i:05d}.1' for i in range(n_classes)])
    return {('mha', 0): result}


def test_per_family_counts_errors_and_the_family_mistaken_for(tmp_path):
    results = _known_votes(5, [(1, 3, 4), (1, 2, 1), (4, 0, 2)])
    table = figures.per_family(results).set_index('family')
    assert table.loc['PF00001.1'].tolist() == [10, 5, 0.5, 'PF00003.1']
    assert table.loc['PF00004.1', 'errors'] == 2 and table.loc['PF00002.1', 'mistaken_for'] == ''
    path = figures.write_per_family(results, str(tmp_path), rows=2)
    text = open(path).read()
    assert '| PF00001.1 | 10 | 5 | 0.5000 | PF00003.1 |' in text
    assert len(pd.read_csv(tmp_path / 'per_family.csv')) == 5
    assert '| sequences per family | families |' in text


def test_accuracy_by_size_groups_families_from_the_smallest():
    table = pd.DataFrame({'family': list('abcdefgh'), 'sequences': [5, 1, 9, 3, 7, 2, 8, 4],
                          'errors': [1, 1, 0, 0, 7, 0, 4, 0]})
    bands = figures.accuracy_by_size(table, bands=4)
    assert bands['sizes'].tolist() == ['1–2', '3–4', '5–7', '8–9']
    assert bands['families'].tolist() == [2, 2, 2, 2]
    assert bands['sequences'].sum() == 39 and bands['errors'].tolist() == [1, 0, 8, 4]
    assert bands['accuracy'].tolist() == pytest.approx([2 / 3, 1.0, 4 / 12, 13 / 17])
    assert len(figures.accuracy_by_size(table.head(2), bands=4)) == 2      # fewer families


@pytest.mark.slow
def test_contingency_of_many_families_shows_those_with_the_most_errors(tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    n = figures.MAX_CONTINGENCY + 70
    results = _known_votes(n, [(c, c + 1, 1) for c in range(0, 2 * (n // 2), 2)])
    path = figures.figure4(results, str(tmp_path))
    with open(path, 'rb') as f:
        header = f.read(24)
    width, height = int.from_bytes(header[16:20], 'big'), int.from_bytes(header[20:24], 'big')
    shown = figures.MAX_CONTINGENCY
    assert width < 150 * (0.3 * shown + 4) and height < 150 * (0.3 * shown + 3)   # not n wide


def test_figure2_pads_the_shorter_run_with_its_last_value(monkeypatch, tmp_path):
    """Figure 2 pairs GRU and MHA validation accuracy epoch by epoch: the shorter run (either
    type) is extended with its last value, so its curve ends at its final accuracy."""
    drawn = []
    save = figures._save
    monkeypatch.setattr(figures, '_save', lambda fig, *args, **kwargs: (
        drawn.append([(line.get_xdata(), line.get_ydata()) for line in fig.axes[0].lines]),
        save(fig, *args, **kwargs))[1])
    gru, mha = [0.5, 0.7, 0.8], [0.4, 0.6, 0.65, 0.9, 0.85, 0.88]

    def result(model_type, curve, rotation):
        return {'model_type': model_type, 'rotation': rotation,
                'history': {figures.VALID_ACCURACY: list(curve)}}

    results = {('gru', 0): result('gru', gru, 0), ('mha', 0): result('mha', mha, 0),
               ('gru', 1): result('gru', mha, 1), ('mha', 1): result('mha', gru, 1)}
    assert figures.figure2(results, str(tmp_path)).endswith('figure2_gru_vs_mha.png')
    (curve0, star0, curve1, star1, _diagonal), = drawn
    np.testing.assert_allclose(curve0[0], [0.5, 0.7, 0.8, 0.8, 0.8, 0.8])      # GRU padded
    np.testing.assert_allclose(curve0[1], mha)
    np.testing.assert_allclose(np.ravel(star0), [0.8, 0.88])                 # both final values
    np.testing.assert_allclose(curve1[0], mha)
    np.testing.assert_allclose(curve1[1], [0.5, 0.7, 0.8, 0.8, 0.8, 0.8])      # MHA padded
    np.testing.assert_allclose(np.ravel(star1), [0.88, 0.8])


# ---------------------------------------------------------------- --log_summary on bad logs
BAD_LOGS = {
    'empty': b'',
    'header_only': b'epoch,sparse_categorical_accuracy,val_sparse_categorical_accuracy\n',
    'no_accuracy': b'epoch,loss,val_loss\n0,1.5,1.6\n1,1.2,1.3\n',
    'text_values': b'epoch,sparse_categorical_accuracy,val_sparse_categorical_accuracy\n0,x,y\n',
    'binary': b'\x00\xff\xfe\x80garbage\x00',
    'broken_quote': b'a,b\n1,2,3,4\n"x\n',
}


@pytest.mark.parametrize('kind', sorted(BAD_LOGS))
def test_log_summary_of_only_a_bad_log_is_a_one_line_error(tmp_path, kind):
    (tmp_path / f'{kind}_log.csv').write_bytes(BAD_LOGS[kind])
    with pytest.raises(figures.ResultsError, match=f'no readable \\*_log.csv \\(1 found; '
                                                   f'.*{kind}_log.csv: '):
        figures.summarize_logs(str(tmp_path))


@pytest.mark.slow
def test_log_summary_skips_bad_logs_with_a_note_from_the_command_line(tmp_path):
    """Alone, a bad log is one line and exit 2; beside a good one, each is skipped with a note
    naming it and the table holds the good one."""
    (tmp_path / 'empty_log.csv').write_bytes(b'')
    result = _cli('--log_summary', str(tmp_path))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines() == [
        f'figures.py: error: {tmp_path}: no readable *_log.csv (1 found; '
        f'{tmp_path / "empty_log.csv"}: an empty file)']
    for kind, content in BAD_LOGS.items():
        (tmp_path / f'{kind}_log.csv').write_bytes(content)
    (tmp_path / 'sub').mkdir()
    pd.DataFrame({'epoch': [0, 1], 'sparse_categorical_accuracy': [0.5, 0.7],
                  'val_sparse_categorical_accuracy': [0.6, float('nan')]}).to_csv(
        tmp_path / 'sub' / 'good_log.csv', index=False)
    result = _cli('--log_summary', str(tmp_path))
    assert result.returncode == 0 and 'Traceback' not in result.stderr, result.stderr
    assert result.stdout.splitlines()[2:] == ['| good | 2 | 0.6000 | 1 | 0.7000 |']
    notes = [line for line in result.stderr.splitlines() if line.startswith('figures: skipping')]
    assert len(notes) == len(BAD_LOGS)
    assert f'figures: skipping {tmp_path / "no_accuracy_log.csv"}: no ' \
        'val_sparse_categorical_accuracy or sparse_categorical_accuracy column' in notes
    assert f'figures: skipping {tmp_path / "header_only_log.csv"}: no epoch logged yet' in notes


def test_per_pass_counts_passes_over_the_training_folds(tmp_path):
    """A run of half-pass epochs (--steps_per_epoch 5, batch 20, 200 training sequences) and one
    of full epochs share one axis of passes; passes.md converts epochs, times and memory."""
    half = _result('gru', 0, 6, tmp_path, save_model=False)
    half['args'].update(steps_per_epoch=5, batch=20)
    half['max_rss_mb'] = 2048
    full = _result('mha', 0, 4, tmp_path, save_model=False)
    full['args'].update(steps_per_epoch=None, batch=20)
    results = {('gru', 0): half, ('mha', 0): full}
    assert figures.passes_per_epoch(half) == 0.5
    assert figures.passes_per_epoch(full) == 1.0
    rows = [line.split(' | ') for line in figures.passes_table(results).splitlines()[2:]]
    # passes, best pass, minutes per pass (1.5 s per epoch), peak RSS in GB
    assert [row[2:4] for row in rows] == [['3', '3'], ['4', '4']]
    assert [row[6] for row in rows] == ['0.1', '0.0']
    assert rows[0][7] == '2.0 |' and rows[1][7] == '– |'
    for result in results.values():
        with open(tmp_path / f'{result["name"]}_results.pkl', 'wb') as f:
            pickle.dump(result, f)
    written = figures.make_all(tmp_path, tmp_path / 'figures', diagrams=False, per_pass=0.99)
    with open(written['figure5_valid_per_pass.png'], 'rb') as f:
        assert f.read(8) == PNG
    assert open(written['passes.md']).read() == figures.passes_table(results)
