"""The models train and predict on Keras' JAX backend too, without TensorFlow: the driver then
feeds NumPy batches (`pfam_loader.training_batches`), so a GPU node needs JAX alone."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow      # one training run in a subprocess (about 40 s)
pytest.importorskip('jax')

TINY = ['--preset', 'tiny', '--epochs', '2', '--steps_per_epoch', '3', '--no-bucket']

#: One process (one JAX start-up and compilation cache), TensorFlow made unimportable: train
#: through the driver's CLI entry point, then reload the model and check its predictions and
#: that padding changes nothing.
SCRIPT = """
import sys
sys.modules['tensorflow'] = None       # as on a node without TensorFlow: importing it fails
import pickle, keras, numpy as np
import hw6_base, network, pfam_loader
assert keras.backend.backend() == 'jax', keras.backend.backend()
demo_dir, results = sys.argv[1:3]
status = hw6_base.main(['--dataset', demo_dir, '--version', 'T', '--results_path', results,
                        '--model_type', 'mha', *sys.argv[3:]])
assert status == 0, status
result = pickle.load(open(results + '/mha_rot0_results.pkl', 'rb'))
model = network.load_model(results + '/mha_rot0.keras')
dat = pfam_loader.load_rotation(demo_dir, 0, 'T')
order = pfam_loader.length_order(dat['ins_test'])
short = dat['ins_test'][order[:8]]                     # similar lengths: one compiled shape
wide = np.zeros((8, short.shape[1] + 100), dtype=short.dtype)
wide[:, :short.shape[1]] = short
variable = network.build_model('mha', 26, 6, n_embeddings=8, conv_filters=8, attention_heads=[2],
                               key_dim=4, dense_units=[8])
assert model.jit_compile and variable.jit_compile    # else JAX runs each operation eagerly
print(np.abs(network.predict_probabilities(model, dat['ins_test']) - result['predict_test']).max(),
      np.abs(network.predict_probabilities(variable, short)
             - network.predict_probabilities(variable, wide)).max())
"""


def test_demo_training_and_prediction_under_jax(demo_dir, tmp_path):
    env = {**os.environ, 'KERAS_BACKEND': 'jax', 'TF_CPP_MIN_LOG_LEVEL': '3',
           # results are checked, not speed: XLA without LLVM optimisation compiles 3x faster
           'XLA_FLAGS': '--xla_backend_optimization_level=0'}
    cache = tmp_path / 'compile_cache'
    run = subprocess.run([sys.executable, '-c', SCRIPT, demo_dir, str(tmp_path), *TINY,
                          '--compile_cache', str(cache)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(tmp_path / 'mha_rot0_results.pkl', 'rb') as f:
        result = pickle.load(f)
    assert result['n_epochs'] == 2 and np.isfinite(result['history']['loss']).all()
    assert np.allclose(result['predict_test'].sum(axis=1), 1, atol=1e-4)
    reloaded, padding = map(float, run.stdout.split()[-2:])
    assert reloaded < 1e-4 and padding < 1e-4     # reload reproduces; padding changes nothing
    assert len(list(cache.iterdir())) > 5        # the compiled programs, for the next run
