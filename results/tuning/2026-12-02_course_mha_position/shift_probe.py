"""Does the committed course-scale MHA depend on where a domain lies? Validation sequences as they
are, with random residues appended (a longer flank after the domain: the length changes, the
domain's position does not), and with as many random residues prepended (the same length change,
every residue moved along by that many positions). A model that reads residues only relative to
each other loses the same with either; the MHA's positional encoding is absolute.

    python results/tuning/2026-12-02_course_mha_position/shift_probe.py [mha gru rnn] [RUN_DIR]

Reads data/course_scale (version C, rotation 0) and results/course_scale/{type}_rot0.keras, or
the newest checkpoint of a driver's run folder (`{name}_run`, named by the folder above it) for
a run that has not finished; adds to shift_probe.json beside this script.
"""
import json
import os
import sys

sys.path.insert(0, os.getcwd())

import keras  # noqa: E402
import numpy as np  # noqa: E402

import checkpoints  # noqa: E402
import network  # noqa: E402,F401  (registers the suite's layers)
import pfam_loader  # noqa: E402
import settings  # noqa: E402

SAMPLE = 4_000
SHIFTS = (100, 400)


def flanked(ins, lengths, shift, before, rng):
    """``ins`` with ``shift`` random standard residues before (or after) each row's residues."""
    out = np.zeros((len(ins), ins.shape[1] + shift), dtype=ins.dtype)
    noise = rng.integers(1, len(pfam_loader.AMINO_ACIDS) + 1, size=(len(ins), shift))
    for row, (tokens, length) in enumerate(zip(ins, lengths)):
        parts = (noise[row], tokens[:length]) if before else (tokens[:length], noise[row])
        out[row, :length + shift] = np.concatenate(parts)
    return out


def checkpoint_model(run_dir, n_classes):
    """The model of ``run_dir``'s configuration with the weights of its newest checkpoint."""
    newest = sorted(f for f in os.listdir(run_dir) if f.endswith('.json'))[-1]
    with open(os.path.join(run_dir, newest)) as f:
        config = json.load(f)['config']
    model = network.build_model(config['model_type'], pfam_loader.N_TOKENS, n_classes,
                                **settings.model_kwargs(config))
    print(run_dir, 'after epoch', checkpoints.load(model, run_dir)['epochs'], flush=True)
    return model


def main(types):
    dat = pfam_loader.load_rotation('data/course_scale', 0, 'C')
    rng = np.random.default_rng(0)
    sample = rng.choice(len(dat['ins_valid']), SAMPLE, replace=False)
    ins = pfam_loader.right_padded(dat['ins_valid'][sample])
    outs = dat['outs_valid'][sample, 0]
    lengths = pfam_loader.sequence_lengths(ins)
    inputs = {'as they are': ins}
    for shift in SHIFTS:
        inputs[f'{shift} appended'] = flanked(ins, lengths, shift, False, rng)
        inputs[f'{shift} prepended'] = flanked(ins, lengths, shift, True, rng)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'shift_probe.json')
    found = {}
    if os.path.exists(out):
        with open(out) as f:
            found = json.load(f)['accuracy']
    for kind in types:
        if os.path.isdir(kind):
            model = checkpoint_model(kind, dat['n_classes'])
            kind = os.path.basename(os.path.dirname(os.path.abspath(kind)))
        else:
            model = keras.models.load_model(f'results/course_scale/{kind}_rot0.keras',
                                            compile=False)
        found[kind] = {}
        for name, tokens in inputs.items():
            probabilities = network.predict_probabilities(model, tokens, batch=128)
            found[kind][name] = float(np.mean(probabilities.argmax(axis=1) == outs))
            print(kind, name, f'{found[kind][name]:.4f}', flush=True)
    with open(out, 'w') as f:
        json.dump({'sample': SAMPLE, 'accuracy': found}, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1:] or ['mha', 'gru'])
