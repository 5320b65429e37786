"""Sinusoidal positional encoding as a serializable Keras 3 layer."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package='pfam')
class PositionalEncoding(keras.layers.Layer):
    """Adds (or appends) the sinusoidal position signal of Vaswani et al. (2017).

    For position ``p`` and feature pair ``i`` (``d`` = encoding width)::

        PE[p, 2i]     = sin(p / max_wavelength ** (2i / d))
        PE[p, 2i + 1] = cos(p / max_wavelength ** (2i / d))

    Computed on the fly from the input's own length with tensor ops (no loop over time), so the
    same layer serves fixed-length and variable-length (``None``) inputs, e.g. bucketed batches.

    Args:
        combination_type: ``'add'`` (default) adds the encoding to the input, keeping its width;
            ``'concat'`` appends an encoding as wide as the input, doubling the feature width.
        max_wavelength: the longest wavelength of the sinusoids (10000 in the paper); it should be
            well above the longest sequence.
        **kwargs: the usual `keras.layers.Layer` arguments (``name``, ``dtype`` ...).

    Call arguments:
        inputs: float tensor of shape (batch, time, features).

    Returns:
        (batch, time, features) for ``'add'``, (batch, time, 2 * features) for ``'concat'``.

    Example:
        >>> x = keras.ops.zeros((2, 5, 8))
        >>> PositionalEncoding()(x).shape
        (2, 5, 8)
        >>> PositionalEncoding('concat')(x).shape
        (2, 5, 16)
    """

    def __init__(self, combination_type='add', max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if combination_type not in ('add', 'concat'):
            raise ValueError(f"combination_type must be 'add' or 'concat', got "
                             f'{combination_type!r}')
        if max_wavelength <= 1:
            raise ValueError(f'max_wavelength must be > 1, got {max_wavelength}')
        self.combination_type = combination_type
        self.max_wavelength = float(max_wavelength)

    def encoding(self, length, width):
        """The (length, width) encoding matrix in the layer's compute dtype."""
        positions = ops.cast(ops.arange(length), 'float32')[:, None]             # (T, 1)
        pair = ops.cast(ops.arange(width) // 2 * 2, 'float32')                   # 0,0,2,2,4,4...
        angles = positions / ops.power(self.max_wavelength, pair / float(width))[None, :]
        is_even = ops.equal(ops.arange(width) % 2, 0)[None, :]
        return ops.cast(ops.where(is_even, ops.sin(angles), ops.cos(angles)), self.compute_dtype)

    def call(self, inputs):
        shape = ops.shape(inputs)
        width = inputs.shape[-1]
        signal = self.encoding(shape[1], width)[None]                            # (1, T, C)
        if self.combination_type == 'add':
            return inputs + signal
        return ops.concatenate([inputs, ops.broadcast_to(signal, shape)], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.combination_type == 'add':
            return tuple(input_shape)
        return (*input_shape[:-1], 2 * input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(combination_type=self.combination_type, max_wavelength=self.max_wavelength)
        return config
