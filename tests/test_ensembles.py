"""ensembles.py: clean per-rotation ensemble accuracy from result pickles (the speed part is a
benchmark: `python ensembles.py`)."""
import json
import pickle

import numpy as np
import pytest

import ensembles
from conftest import complete_result


def _write_results(path, rotations, wrong_rows, n=20, n_classes=4, shuffle_labels_of=None):
    """Result pickles whose model ``t`` is confidently wrong on ``wrong_rows[t]`` and otherwise
    right, with a weaker second opinion on the true class everywhere."""
    labels = (np.arange(n) % n_classes)[:, None]
    for rotation in rotations:
        for model_type, rows in wrong_rows.items():
            probabilities = np.full((n, n_classes), 0.05, dtype=np.float32)
            probabilities[np.arange(n), labels[:, 0]] = 0.85
            for row in rows:
                probabilities[row] = 0.05
                probabilities[row, (labels[row, 0] + 1) % n_classes] = 0.6
                probabilities[row, labels[row, 0]] = 0.3
            outs = labels[::-1] if (model_type, rotation) == shuffle_labels_of else labels
            result = complete_result(predict_test=probabilities, outs_test=outs,
                                     class_names=[f'PF{i:05d}' for i in range(n_classes)])
            with open(path / f'{model_type}_rot{rotation}_results.pkl', 'wb') as f:
                pickle.dump(result, f)


def test_the_ensemble_of_a_rotation_is_the_mean_of_its_members(tmp_path):
    _write_results(tmp_path, [0, 1], {'rnn': [0, 1, 2, 5], 'gru': [2, 3, 5], 'mha': [4, 5]})
    labels, rows, mean = ensembles.accuracy_table(ensembles.load_results(str(tmp_path)))
    assert labels == ['rnn', 'gru', 'mha', 'rnn+gru', 'rnn+mha', 'gru+mha', 'all types']
    row = rows[0]
    assert (row['rnn errors'], row['gru errors'], row['mha errors']) == (4, 3, 2)
    # a wrong member (0.6 against 0.3 for the truth) is outvoted by a right one (0.85), even two
    # wrong ones by one right one (0.3 + 0.3 + 0.85 > 0.6 + 0.6 + 0.05); row 5, wrong in every
    # member, stays wrong
    assert (row['all types errors'], row['all types']) == (1, pytest.approx(19 / 20))
    assert (row['rnn+gru errors'], row['rnn+mha errors'], row['gru+mha errors']) == (2, 1, 1)
    assert [r['n_test'] for r in rows] == [20, 20, None, None, None]
    assert mean['all types'] == pytest.approx(0.95) and mean['rnn'] == pytest.approx(16 / 20)


def test_members_tested_on_different_folds_are_refused(tmp_path, capsys):
    _write_results(tmp_path, [0], {'rnn': [], 'gru': [], 'mha': []},
                   shuffle_labels_of=('gru', 0))
    out = tmp_path / 'e.json'
    assert ensembles.main(['--results_path', str(tmp_path), '--no-speed', '--out', str(out)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("ensembles.py: error: ('gru', 0) and ('rnn', 0) were not tested on the same "
                    'fold and classes')
    assert not out.exists()


def test_report_files_and_a_missing_experiment(tmp_path, capsys):
    _write_results(tmp_path, [0, 1, 2, 3, 4], {'rnn': [0], 'gru': [], 'mha': []})
    out = tmp_path / 'e.json'
    assert ensembles.main(['--results_path', str(tmp_path), '--no-speed', '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['mean']['rnn'] == pytest.approx(0.95) and report['mean']['all types'] == 1.0
    table = (tmp_path / 'e.md').read_text()
    assert '| 0 | 20 | 0.9500 (1) | 1.0000 (0) |' in table and '| **mean** |' in table
    assert ensembles.main(['--results_path', str(tmp_path / 'none'), '--no-speed']) == 2
    assert 'no reference result pickles' in capsys.readouterr().err


def test_an_unreadable_pickle_is_skipped_with_a_line(tmp_path, capsys):
    _write_results(tmp_path, [0], {'rnn': [0], 'gru': [], 'mha': []})
    (tmp_path / 'mha_rot0_results.pkl').write_bytes(b'\x80\x04 truncated')
    labels, rows, mean = ensembles.accuracy_table(ensembles.load_results(str(tmp_path)))
    assert 'mha' not in rows[0] and rows[0]['rnn errors'] == 1
    assert mean == {}                            # no rotation has all three: no mean row
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f'ensembles.py: skipping {tmp_path}/mha_rot0_results.pkl: unreadable (')
