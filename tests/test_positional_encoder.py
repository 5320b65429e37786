"""PositionalEncoding: the values follow the sinusoid formula for any ``max_wavelength``, and the
wavelength survives serialization."""
import keras
import numpy as np
import pytest

from positional_encoder import PositionalEncoding


def _sinusoid(position, width, max_wavelength, min_wavelength=1.0):
    """PE[position, :] by the formula: sin at even features 2i, cos at odd 2i + 1, both of
    position / (min_wavelength * (max_wavelength / min_wavelength) ** (2i / width))."""
    values = np.empty(width)
    for i in range(width // 2):
        angle = position / (min_wavelength * (max_wavelength / min_wavelength) ** (2 * i / width))
        values[2 * i], values[2 * i + 1] = np.sin(angle), np.cos(angle)
    return values


def _encoding(layer, length, width):
    return keras.ops.convert_to_numpy(layer(np.zeros((1, length, width), 'float32')))[0]


@pytest.mark.parametrize('max_wavelength', [50.0, 1e6])
def test_encoding_values_follow_the_formula_for_a_given_max_wavelength(max_wavelength):
    width, length = 8, 40
    encoded = _encoding(PositionalEncoding(max_wavelength=max_wavelength), length, width)
    for position in (5, 37):
        np.testing.assert_allclose(encoded[position], _sinusoid(position, width, max_wavelength),
                                   atol=1e-5, err_msg=f'position {position}')
    # the wavelength matters: 10000 (the default) gives other values at these positions
    default = _encoding(PositionalEncoding(), length, width)
    assert np.abs(encoded[37] - default[37]).max() > 0.1


def test_min_wavelength_slows_the_fastest_pair_and_round_trips(tmp_path):
    """``min_wavelength`` m: the first pair is sin/cos(p / m), the others spread geometrically up
    to max_wavelength; the default (1) is the paper's encoding bit for bit and stays out of the
    configuration (earlier saved models keep theirs); m survives get_config and a saved model."""
    width, length = 8, 60
    layer = PositionalEncoding(max_wavelength=1000.0, min_wavelength=16.0)
    encoded = _encoding(layer, length, width)
    np.testing.assert_allclose(encoded[:, 0], np.sin(np.arange(length) / 16.0), atol=1e-5)
    for position in (7, 59):
        np.testing.assert_allclose(encoded[position], _sinusoid(position, width, 1000.0, 16.0),
                                   atol=1e-5)
    # neighbouring positions get almost the same signal, unlike the paper's fastest pair
    assert np.abs(np.diff(encoded, axis=0)).max() < 0.07
    paper = PositionalEncoding(max_wavelength=1000.0)
    assert np.array_equal(_encoding(paper, length, width),
                          _encoding(PositionalEncoding(max_wavelength=1000.0, min_wavelength=1),
                                    length, width))
    assert 'min_wavelength' not in paper.get_config()
    assert PositionalEncoding.from_config(layer.get_config()).min_wavelength == 16.0
    loaded, saved = _saved_and_loaded(tmp_path, width, max_wavelength=1000.0, min_wavelength=16.0)
    assert loaded.min_wavelength == 16.0
    np.testing.assert_allclose(saved, encoded[:20], atol=1e-6)


@pytest.mark.parametrize('min_wavelength', [0.0, -2.0, 1000.0, 5000.0])
def test_min_wavelength_must_be_positive_and_below_max_wavelength(min_wavelength):
    with pytest.raises(ValueError, match='min_wavelength must be > 0 and below max_wavelength'):
        PositionalEncoding(max_wavelength=1000.0, min_wavelength=min_wavelength)


def test_concat_appends_the_encoding_of_the_given_max_wavelength():
    x = np.random.default_rng(0).normal(size=(2, 12, 4)).astype('float32')
    out = keras.ops.convert_to_numpy(PositionalEncoding('concat', 30.0)(x))
    np.testing.assert_allclose(out[:, :, :4], x, atol=1e-6)
    for position in (3, 11):
        np.testing.assert_allclose(out[1, position, 4:], _sinusoid(position, 4, 30.0), atol=1e-5)


def _saved_and_loaded(tmp_path, width, **kwargs):
    """A model of one ``PositionalEncoding(**kwargs)`` saved and loaded again: (the loaded
    layer, its output for 20 steps of zeros)."""
    inputs = keras.Input((None, width))
    model = keras.Model(inputs, PositionalEncoding(name='pe', **kwargs)(inputs))
    model.save(tmp_path / 'pe.keras')
    loaded = keras.models.load_model(tmp_path / 'pe.keras')
    return loaded.get_layer('pe'), loaded.predict(np.zeros((1, 20, width), 'float32'), verbose=0)[0]


def test_config_and_saved_model_round_trips_keep_the_encoding(tmp_path):
    layer = PositionalEncoding('add', max_wavelength=64.0, name='pe')
    clone = PositionalEncoding.from_config(layer.get_config())
    assert clone.get_config()['max_wavelength'] == 64.0
    np.testing.assert_allclose(_encoding(clone, 20, 6), _encoding(layer, 20, 6), atol=1e-6)
    np.testing.assert_allclose(_encoding(clone, 20, 6)[13], _sinusoid(13, 6, 64.0), atol=1e-5)

    loaded, encoded = _saved_and_loaded(tmp_path, 6, max_wavelength=64.0)
    assert loaded.max_wavelength == 64.0
    np.testing.assert_allclose(encoded[13], _sinusoid(13, 6, 64.0), atol=1e-5)


def _offset_of(row, width, max_wavelength, limit):
    """The offset o ≤ limit at which ``row`` (length, width) is the encoding of positions o, o+1...;
    None when there is none."""
    length = len(row)
    for offset in range(limit + 1):
        expected = np.stack([_sinusoid(offset + p, width, max_wavelength) for p in range(length)])
        if np.allclose(row, expected, atol=1e-4):
            return offset
    return None


def test_random_offset_shifts_each_sequence_in_training_only():
    width, length, limit, wavelength = 6, 10, 40, 100.0
    layer = PositionalEncoding(max_wavelength=wavelength, random_offset=limit)
    zeros = np.zeros((16, length, width), 'float32')
    for training in (False, None):
        out = keras.ops.convert_to_numpy(layer(zeros, training=training))
        assert all(_offset_of(row, width, wavelength, 0) == 0 for row in out)
    trained = keras.ops.convert_to_numpy(layer(zeros, training=True))
    offsets = [_offset_of(row, width, wavelength, limit) for row in trained]
    assert None not in offsets                     # every row: the formula at some 0 ≤ o ≤ limit
    assert len(set(offsets)) > 4                   # drawn per sequence
    again = [_offset_of(row, width, wavelength, limit)
             for row in keras.ops.convert_to_numpy(layer(zeros, training=True))]
    assert again != offsets                        # and afresh at every call


def test_random_offset_survives_serialization_and_old_configs_are_unchanged(tmp_path):
    assert PositionalEncoding().weights == []                       # no seed state when unused
    assert 'random_offset' not in PositionalEncoding().get_config()
    layer = PositionalEncoding(random_offset=7)
    assert PositionalEncoding.from_config(layer.get_config()).random_offset == 7
    loaded, encoded = _saved_and_loaded(tmp_path, 4, random_offset=7)
    assert loaded.random_offset == 7
    np.testing.assert_allclose(encoded[5], _sinusoid(5, 4, 1e4), atol=1e-5)    # inference: at 0


@pytest.mark.parametrize('bad', [-1, 2.5, '3'])
def test_random_offset_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match='random_offset'):
        PositionalEncoding(random_offset=bad)
