"""PositionalEncoding: the values follow the sinusoid formula for any ``max_wavelength``, and the
wavelength survives serialization."""
import keras
import numpy as np
import pytest

from positional_encoder import PositionalEncoding


def _sinusoid(position, width, max_wavelength):
    """PE[position, :] by the formula: sin at even features 2i, cos at odd 2i + 1, both of
    position / max_wavelength ** (2i / width)."""
    values = np.empty(width)
    for i in range(width // 2):
        angle = position / max_wavelength ** (2 * i / width)
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


def test_concat_appends_the_encoding_of_the_given_max_wavelength():
    x = np.random.default_rng(0).normal(size=(2, 12, 4)).astype('float32')
    out = keras.ops.convert_to_numpy(PositionalEncoding('concat', 30.0)(x))
    np.testing.assert_allclose(out[:, :, :4], x, atol=1e-6)
    for position in (3, 11):
        np.testing.assert_allclose(out[1, position, 4:], _sinusoid(position, 4, 30.0), atol=1e-5)


def test_config_and_saved_model_round_trips_keep_the_encoding(tmp_path):
    layer = PositionalEncoding('add', max_wavelength=64.0, name='pe')
    clone = PositionalEncoding.from_config(layer.get_config())
    assert clone.get_config()['max_wavelength'] == 64.0
    np.testing.assert_allclose(_encoding(clone, 20, 6), _encoding(layer, 20, 6), atol=1e-6)
    np.testing.assert_allclose(_encoding(clone, 20, 6)[13], _sinusoid(13, 6, 64.0), atol=1e-5)

    inputs = keras.Input((None, 6))
    model = keras.Model(inputs, PositionalEncoding(max_wavelength=64.0, name='pe')(inputs))
    model.save(tmp_path / 'pe.keras')
    loaded = keras.models.load_model(tmp_path / 'pe.keras')
    assert loaded.get_layer('pe').max_wavelength == 64.0
    zeros = np.zeros((1, 20, 6), 'float32')
    np.testing.assert_allclose(loaded.predict(zeros, verbose=0)[0, 13], _sinusoid(13, 6, 64.0),
                               atol=1e-5)
