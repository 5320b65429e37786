"""Network builder and PositionalEncoding: shapes, padding invariance, serialization, learning."""
import os
import shutil

import keras
import numpy as np
import pytest

import network
import pfam_loader
from positional_encoder import PositionalEncoding

RNG = np.random.default_rng(0)
SEQUENCES = [''.join(RNG.choice(list(pfam_loader.AMINO_ACIDS), size=n)) for n in (1, 7, 30, 61)]


@pytest.fixture(scope='module', params=network.MODEL_TYPES)
def model(request):
    keras.utils.set_random_seed(1)
    return network.small_test_model(request.param, n_classes=5)


# ---------------------------------------------------------------- PositionalEncoding
def test_positional_encoding_matches_closed_form():
    width = 6
    encoded = keras.ops.convert_to_numpy(PositionalEncoding()(np.zeros((1, 50, width), 'float32')))
    for position in (0, 7, 49):
        for i in range(width // 2):
            angle = position / 10000 ** (2 * i / width)
            assert encoded[0, position, 2 * i] == pytest.approx(np.sin(angle), abs=1e-5)
            assert encoded[0, position, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-5)


def test_positional_encoding_add_and_concat_shapes_with_unknown_length():
    inputs = keras.Input((None, 8))
    added = keras.Model(inputs, PositionalEncoding('add')(inputs))
    concat = keras.Model(inputs, PositionalEncoding('concat')(inputs))
    assert added.output_shape == (None, None, 8) and concat.output_shape == (None, None, 16)
    x = RNG.normal(size=(3, 11, 8)).astype('float32')
    out = concat.predict(x, verbose=0)
    assert out.shape == (3, 11, 16)
    np.testing.assert_allclose(out[:, :, :8], x, atol=1e-6)                 # input kept as is
    np.testing.assert_allclose(added.predict(x, verbose=0) - x, out[:, :, 8:], atol=1e-5)


def test_positional_encoding_config_round_trip_and_bad_type():
    layer = PositionalEncoding('concat', max_wavelength=500.0, name='pe')
    clone = PositionalEncoding.from_config(layer.get_config())
    assert (clone.combination_type, clone.max_wavelength, clone.name) == ('concat', 500.0, 'pe')
    with pytest.raises(ValueError, match="'add' or 'concat'"):
        PositionalEncoding('sum')


# ---------------------------------------------------------------- builder
@pytest.mark.parametrize('length', [20, 97])
@pytest.mark.slow
def test_output_is_a_distribution_for_two_lengths(model, length):
    tokens = pfam_loader.encode(SEQUENCES, len_max=length, truncate=True)
    probabilities = model.predict(tokens, verbose=0)
    assert probabilities.shape == (len(SEQUENCES), 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


@pytest.mark.slow
def test_padding_does_not_change_predictions(model):
    short = model.predict(pfam_loader.encode(SEQUENCES), verbose=0)            # padded to 61
    long = model.predict(pfam_loader.encode(SEQUENCES, len_max=400), verbose=0)
    np.testing.assert_allclose(short, long, atol=1e-5)
    # and the padding does matter where it should not be ignored: real residues change outputs
    other = model.predict(pfam_loader.encode([s[::-1] for s in SEQUENCES]), verbose=0)
    assert np.abs(other - short)[1:].max() > 1e-6


@pytest.mark.slow
def test_model_is_compiled_as_specified(model):
    assert model.loss.__class__.__name__ == 'SparseCategoricalCrossentropy'
    tokens = pfam_loader.encode(SEQUENCES)
    labels = np.arange(len(SEQUENCES)).reshape(-1, 1) % model.output_shape[-1]
    logs = model.evaluate(tokens, labels, verbose=0, return_dict=True)
    accuracy = np.mean(model.predict(tokens, verbose=0).argmax(axis=1) == labels[:, 0])
    assert logs['sparse_categorical_accuracy'] == pytest.approx(accuracy)   # the metric itself
    # a batch filled up with rows of weight 0 (JAX's NumPy batches) has the real rows' loss
    filled = pfam_loader.full_batch(tokens, labels, 2 * len(labels))
    weighted = model.evaluate(*filled[:2], sample_weight=filled[2], batch_size=len(filled[0]),
                              verbose=0, return_dict=True)
    plain = model.evaluate(tokens, labels, batch_size=len(tokens), verbose=0, return_dict=True)
    assert weighted == pytest.approx(plain, rel=1e-5)
    built = network.build_model(model.name, 26, 5, lr=3e-4, clipnorm=0.5)
    assert float(built.optimizer.learning_rate) == pytest.approx(3e-4)
    assert built.optimizer.clipnorm == 0.5
    assert network.build_model('gru', 26, 5).optimizer.clipnorm == pytest.approx(1e-2)


@pytest.mark.filterwarnings('ignore:Skipping variable loading for optimizer')   # never trained
@pytest.mark.slow
def test_save_load_round_trip_gives_identical_predictions(model, tmp_path):
    path = str(tmp_path / f'{model.name}.keras')
    model.save(path)
    loaded = keras.models.load_model(path)
    tokens = pfam_loader.encode(SEQUENCES)
    for saved, restored in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(saved, restored)
    # same weights; outputs equal up to float round-off of the CPU kernels
    np.testing.assert_allclose(model.predict(tokens, verbose=0), loaded.predict(tokens, verbose=0),
                               rtol=0, atol=1e-6)
    if model.name == 'mha':
        assert any(isinstance(layer, PositionalEncoding) for layer in loaded.layers)


def test_layer_stack_follows_the_course_classes():
    gru = network.build_model('gru', 26, 46, rnn_units=[32, 32, 32], pool_sizes=[2, 3])
    kinds = [type(layer).__name__ for layer in gru.layers]
    assert kinds.count('GRU') == 3 and kinds.count('AveragePooling1D') == 2
    assert kinds.index('Embedding') < kinds.index('Conv1D') < kinds.index('GRU')
    assert [l.return_sequences for l in gru.layers if type(l).__name__ == 'GRU'] == \
        [True, True, False]
    mha = network.build_model('mha', 26, 46, attention_heads=[2, 2, 2])
    kinds = [type(layer).__name__ for layer in mha.layers]
    assert kinds.count('MultiHeadAttention') == 3 and kinds.count('AveragePooling1D') == 3
    assert kinds.index('Embedding') < kinds.index('PositionalEncoding') < kinds.index('Conv1D')
    assert kinds.index('GlobalMaxPooling1D') > kinds.index('MultiHeadAttention')
    rnn = network.build_model('rnn', 26, 46, rnn_units=[8])
    assert [type(l).__name__ for l in rnn.layers].count('SimpleRNN') == 1


@pytest.mark.filterwarnings('ignore:Skipping variable loading for optimizer')   # never trained
@pytest.mark.slow
def test_bidirectional_recurrent_layers_ignore_padding_and_round_trip(tmp_path):
    keras.utils.set_random_seed(2)
    model = network.small_test_model('rnn', bidirectional=True, rnn_units=(16, 12))
    wrapped = [l for l in model.layers if type(l).__name__ == 'Bidirectional']
    assert [type(l.forward_layer).__name__ for l in wrapped] == ['SimpleRNN', 'SimpleRNN']
    assert [l.output.shape[-1] for l in wrapped] == [32, 24]            # both directions
    assert wrapped[0].forward_layer.return_sequences and not wrapped[1].forward_layer.return_sequences
    short = model.predict(pfam_loader.encode(SEQUENCES), verbose=0)
    long = model.predict(pfam_loader.encode(SEQUENCES, len_max=400), verbose=0)
    np.testing.assert_allclose(short, long, atol=1e-5)                  # the backward pass too
    path = str(tmp_path / 'bi.keras')
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path).predict(
        pfam_loader.encode(SEQUENCES), verbose=0), short, atol=1e-6)


def test_relu_simple_rnn_is_an_irnn_and_tanh_layers_keep_their_keras_config():
    """--rnn_activation relu: every SimpleRNN (both directions) computes relu and starts from
    the identity as its recurrent matrix; a GRU only changes its activation; the default adds
    nothing to the layer configs, so earlier models build exactly as before."""
    irnn = network.small_test_model('rnn', rnn_activation='relu', bidirectional=True,
                                    rnn_units=(8, 8))
    cells = [layer for wrapper in irnn.layers if type(wrapper).__name__ == 'Bidirectional'
             for layer in (wrapper.forward_layer, wrapper.backward_layer)]
    assert len(cells) == 4
    for layer in cells:
        assert layer.get_config()['activation'] == 'relu'
        np.testing.assert_array_equal(layer.cell.recurrent_kernel.numpy(), np.eye(8))
    gru = network.small_test_model('gru', rnn_activation='relu', rnn_units=(8,))
    (layer,) = [l for l in gru.layers if type(l).__name__ == 'GRU']
    assert layer.get_config()['activation'] == 'relu'
    assert not np.allclose(layer.cell.recurrent_kernel.numpy()[:, :8], np.eye(8))
    default = network.small_test_model('rnn', rnn_units=(8,))
    (layer,) = [l for l in default.layers if type(l).__name__ == 'SimpleRNN']
    assert layer.get_config()['activation'] == 'tanh'
    assert layer.get_config()['recurrent_initializer']['class_name'] == 'Orthogonal'


@pytest.mark.parametrize('kwargs, message', [
    (dict(model_type='cnn'), "got 'cnn'"),
    (dict(n_embeddings=26), 'fewer embeddings than tokens'),
    (dict(n_embeddings=40), 'got 40'),
    (dict(rnn_units=[16, 16, 16], pool_sizes=[2]), 'pool_sizes needs 2 entries'),
    (dict(conv_stride=0), 'conv_stride'),
    (dict(dropout=1.0), 'dropout'),
    (dict(len_max=0), 'len_max'),
    (dict(rnn_units=[]), 'at least one entry'),
])
def test_bad_hyper_parameters_are_rejected(kwargs, message):
    args = dict(model_type='gru', n_tokens=26, n_classes=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        network.build_model(**args)


@pytest.mark.filterwarnings('ignore:You are using a softmax over axis')    # 1-step attention
def test_short_sequence_never_collapses():
    model = network.build_model('mha', 26, 3, len_max=3, conv_stride=4, attention_heads=[1, 1, 1],
                                pool_sizes=[3, 3, 3])
    probabilities = model.predict(pfam_loader.encode(['ACD']), verbose=0)
    assert probabilities.shape == (1, 3) and np.isfinite(probabilities).all()


@pytest.mark.parametrize('model', [
    lambda: network.small_test_model('mha'),
    # graphviz's right-angled edge router aborts on this one ("Trapezoid-table overflow")
    lambda: network.build_model('mha', pfam_loader.N_TOKENS, 46, compile=False, conv_filters=8,
                                key_dim=4, dense_units=(8,), attention_heads=(4,), pool_sizes=2,
                                dropout=0.1)])
def test_render_model_writes_a_png(tmp_path, model, capfd):
    if shutil.which('dot') is None:
        pytest.skip('graphviz (dot) is not installed')
    path = network.render_model(model(), str(tmp_path / 'm.png'))
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.getsize(path) > 5000
    assert 'Trapezoid' not in capfd.readouterr().out


@pytest.mark.parametrize('model_type', ['gru', 'mha'])
@pytest.mark.slow
def test_tiny_model_learns_a_tiny_task(model_type):
    """Two families told apart by a motif anywhere in random sequence: well above chance."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    letters = np.array(list(pfam_loader.AMINO_ACIDS))
    motifs = ['WWWCC', 'KKHHP']
    sequences, labels = [], []
    for i in range(400):
        body = ''.join(rng.choice(letters, size=rng.integers(20, 40)))
        at = rng.integers(0, len(body))
        sequences.append(body[:at] + motifs[i % 2] + body[at:])
        labels.append(i % 2)
    tokens, labels = pfam_loader.encode(sequences), np.array(labels)[:, None]
    model = network.small_test_model(model_type, n_classes=2)
    history = model.fit(tokens[:300], labels[:300], epochs=8, batch_size=32, verbose=0)
    assert np.isfinite(history.history['loss']).all()
    _, accuracy = model.evaluate(tokens[300:], labels[300:], verbose=0)
    assert accuracy > 0.85


def test_the_builder_takes_the_model_settings_and_refuses_others():
    """build_model's knobs are settings.Model's fields with their defaults: a default changed in
    settings.py changes the model, and a misspelt knob is an error, not ignored."""
    import settings
    default = network.build_model('gru', 26, 5)
    assert default.get_layer('conv').filters == settings.DEFAULTS['conv_filters']
    assert default.get_layer('conv').kernel_size == (settings.DEFAULTS['conv_kernel'],)
    assert default.optimizer.clipnorm == pytest.approx(settings.DEFAULTS['clipnorm'])
    with pytest.raises(ValueError, match='unknown model settings'):
        network.build_model('gru', 26, 5, conv_filter=8)


def test_label_smoothing_loss_matches_its_formula_and_round_trips(tmp_path):
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype='float32')
    labels = np.array([[0], [1]])
    smoothing = 0.3
    targets = np.eye(3)[labels[:, 0]] * (1 - smoothing) + smoothing / 3
    expected = float(np.mean(-(targets * np.log(probabilities)).sum(axis=1)))
    loss = network.SmoothedSparseCrossentropy(smoothing)
    assert float(loss(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert float(network.SmoothedSparseCrossentropy(0.0)(labels, probabilities)) == \
        pytest.approx(float(plain), rel=1e-5)
    model = network.small_test_model('gru', label_smoothing=smoothing)
    assert model.loss.label_smoothing == smoothing
    assert isinstance(network.small_test_model('gru').loss,
                      keras.losses.SparseCategoricalCrossentropy)       # 0: the plain loss
    path = str(tmp_path / 'smoothed.keras')
    model.save(path)
    assert keras.models.load_model(path).loss.label_smoothing == smoothing


@pytest.mark.parametrize('shortest', [1.0, 8.0])
def test_mha_adds_the_positional_encoding_once_to_the_embeddings(shortest):
    """What reaches the MHA model's Conv1D is embedding + sinusoid, the encoding added once
    (with the builder's max and min wavelengths), and only the embedding is encoded."""
    keras.utils.set_random_seed(3)
    wavelength = 100.0
    model = network.build_model('mha', 26, 5, n_embeddings=8, conv_filters=16, conv_kernel=3,
                                attention_heads=[2], key_dim=8, dense_units=[16],
                                positional_max_wavelength=wavelength,
                                positional_min_wavelength=shortest)
    embedding = next(l for l in model.layers if isinstance(l, keras.layers.Embedding))
    conv = next(l for l in model.layers if isinstance(l, keras.layers.Conv1D))
    probe = keras.Model(model.inputs, conv.input)
    tokens = pfam_loader.encode(SEQUENCES[2:], 61)
    reached = keras.ops.convert_to_numpy(probe(tokens.astype('int32')))
    table = keras.ops.convert_to_numpy(embedding.embeddings)
    p, i = np.arange(61)[:, None], np.arange(8)[None, :]
    angle = p / (shortest * (wavelength / shortest) ** ((i // 2 * 2) / 8))
    encoding = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    np.testing.assert_allclose(reached, table[tokens] + encoding[None], atol=1e-5)
    applications = sum(len(layer._inbound_nodes) for layer in model.layers
                       if isinstance(layer, PositionalEncoding))
    assert applications == 1


def test_mha_positional_offset_moves_the_encoding_in_training_only(tmp_path):
    """With ``positional_offset`` the MHA's encoding starts at a random offset in training (the
    dropout-free model then gives other outputs at every call) and at 0 in inference (the same
    outputs as the model without it, whose weights it shares); the setting round-trips."""
    knobs = dict(n_embeddings=8, conv_filters=16, conv_kernel=3, attention_heads=[2], key_dim=8,
                 dense_units=[16], dropout=0.0, dense_dropout=0.0)
    keras.utils.set_random_seed(4)
    shifted = network.build_model('mha', 26, 5, positional_offset=500, **knobs)
    plain = network.build_model('mha', 26, 5, **knobs)
    for layer in plain.layers:
        layer.set_weights(shifted.get_layer(layer.name).get_weights() if layer.weights else [])
    tokens = pfam_loader.encode(SEQUENCES[2:], 61).astype('int32')
    inferred = keras.ops.convert_to_numpy(shifted(tokens))
    np.testing.assert_allclose(inferred, keras.ops.convert_to_numpy(plain(tokens)), atol=1e-6)
    first, second = (keras.ops.convert_to_numpy(shifted(tokens, training=True)) for _ in range(2))
    assert np.abs(first - second).max() > 1e-4
    assert np.abs(first - inferred).max() > 1e-4
    path = tmp_path / 'shifted.keras'
    shifted.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer('positional_encoding').random_offset == 500
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(tokens)), inferred, atol=1e-6)
