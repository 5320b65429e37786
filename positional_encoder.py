"""Sinusoidal positional encoding as a serializable Keras 3 layer (the course's constructor too)."""
import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package='pfam')
class PositionalEncoding(keras.layers.Layer):
    """Adds (or appends) the sinusoidal position signal of Vaswani et al. (2017).

    For position ``p`` and feature pair ``i`` (``d`` = encoding width)::

        PE[p, 2i]     = sin(p / (min_wavelength * (max_wavelength / min_wavelength) ** (2i / d)))
        PE[p, 2i + 1] = cos(p / (min_wavelength * (max_wavelength / min_wavelength) ** (2i / d)))

    (with the default ``min_wavelength`` of 1, the paper's ``sin(p / max_wavelength ** (2i / d))``).

    Computed on the fly from the input's own length with tensor ops (no loop over time), so the
    same layer serves fixed-length and variable-length (``None``) inputs, e.g. bucketed batches.

    Two constructors, positionally or by keyword:

    * the suite's: ``PositionalEncoding(combination_type='add', max_wavelength=10000.0,
      random_offset=0, min_wavelength=1.0)``;
    * the course's: ``PositionalEncoding(max_steps, max_dims, combination_type='add',
      dtype=tf.float32)``: inputs may be at most ``max_steps`` long, and ``max_dims`` is the
      encoding width (for ``'add'`` it must equal the input width); `embedding` returns the
      ``max_steps`` × ``max_dims`` table.

    Args:
        combination_type: ``'add'`` (default) adds the encoding to the input, keeping its width;
            ``'concat'`` appends an encoding (as wide as the input, or ``max_dims``).
        max_wavelength: the longest wavelength of the sinusoids (10000 in the paper); it should be
            well above the longest sequence.
        min_wavelength: the shortest: the fastest pair turns ``1 / min_wavelength`` radians a
            position (1, the paper's: a radian a position). Larger values spread the same number
            of pairs over slower sinusoids, so that neighbouring positions get almost the same
            signal, e.g. within a strided convolution's window.
        random_offset: in training only, each sequence's positions start at an offset drawn
            uniformly from 0 to this many (0, the default: never): the encoding then tells where
            residues lie relative to each other, not where they lie in the sequence, so a domain
            found at one place is known at any other. Inference always starts at 0.
        max_steps: (course) the longest input; None for any length.
        max_dims: (course) the encoding width; None for the input's width.
        **kwargs: the usual `keras.layers.Layer` arguments (``name``, ``dtype`` ...).

    Call arguments:
        inputs: float tensor of shape (batch, time, features).
        training: whether to draw the random offsets (`random_offset` > 0 only).

    Returns:
        (batch, time, features) for ``'add'``, (batch, time, 2 * features) for ``'concat'``.

    Example:
        >>> x = keras.ops.zeros((2, 5, 8))
        >>> PositionalEncoding()(x).shape
        (2, 5, 8)
        >>> PositionalEncoding('concat')(x).shape
        (2, 5, 16)
        >>> PositionalEncoding(782, 8)(x).shape                  # the course's form
        (2, 5, 8)
    """

    def __init__(self, *args, combination_type='add', max_wavelength=10000.0, max_steps=None,
                 max_dims=None, random_offset=0, min_wavelength=1.0, **kwargs):
        if args and isinstance(args[0], numbers.Integral) and not isinstance(args[0], bool):
            # the course's positional form: (max_steps, max_dims, combination_type, dtype)
            names = ('max_steps', 'max_dims', 'combination_type', 'dtype')
        else:
            names = ('combination_type', 'max_wavelength')
        if len(args) > len(names):
            raise TypeError(f'PositionalEncoding takes at most {len(names)} positional '
                            f'arguments in this form ({", ".join(names)}), got {len(args)}')
        given = dict(zip(names, args))
        combination_type = given.pop('combination_type', combination_type)
        max_wavelength = given.pop('max_wavelength', max_wavelength)
        max_steps = given.pop('max_steps', max_steps)
        max_dims = given.pop('max_dims', max_dims)
        kwargs.update(given)                                   # dtype
        super().__init__(**kwargs)
        for name, value in (('max_steps', max_steps), ('max_dims', max_dims)):
            if value is not None and (not isinstance(value, numbers.Integral) or value < 1):
                raise ValueError(f'{name} must be a positive integer or None, got {value!r}')
        self.max_steps = None if max_steps is None else int(max_steps)
        self.max_dims = None if max_dims is None else int(max_dims)
        if combination_type not in ('add', 'concat'):
            raise ValueError(f"combination_type must be 'add' or 'concat', got "
                             f'{combination_type!r}')
        if max_wavelength <= 1:
            raise ValueError(f'max_wavelength must be > 1, got {max_wavelength}')
        if not 0 < min_wavelength < max_wavelength:
            raise ValueError(f'min_wavelength must be > 0 and below max_wavelength '
                             f'({max_wavelength}), got {min_wavelength}')
        if not isinstance(random_offset, numbers.Integral) or random_offset < 0:
            raise ValueError(f'random_offset must be a non-negative integer, got {random_offset!r}')
        self.combination_type = combination_type
        self.max_wavelength = float(max_wavelength)
        self.min_wavelength = float(min_wavelength)
        self.random_offset = int(random_offset)
        # only a layer that draws offsets holds a seed state (a weight): others save as before
        self.seed_generator = keras.random.SeedGenerator() if self.random_offset else None

    def encoding(self, length, width, offsets=None):
        """The (length, width) encoding matrix in the layer's compute dtype; with ``offsets`` (a
        (batch, 1, 1) float tensor), one (batch, length, width) encoding starting at each."""
        positions = ops.cast(ops.arange(length), 'float32')[:, None]             # (T, 1)
        if offsets is not None:
            positions = positions[None] + offsets                                # (B, T, 1)
        pair = ops.cast(ops.arange(width) // 2 * 2, 'float32')                   # 0,0,2,2,4,4...
        angles = positions / (self.min_wavelength * ops.power(
            self.max_wavelength / self.min_wavelength, pair / float(width)))
        is_even = ops.equal(ops.arange(width) % 2, 0)
        return ops.cast(ops.where(is_even, ops.sin(angles), ops.cos(angles)), self.compute_dtype)

    def embedding(self):
        """The course's table: (max_steps, max_dims) encoding values as a NumPy array."""
        if self.max_steps is None or self.max_dims is None:
            raise ValueError('embedding() needs max_steps and max_dims (the course constructor)')
        return ops.convert_to_numpy(self.encoding(self.max_steps, self.max_dims))

    def _width(self, input_width):
        return input_width if self.max_dims is None else self.max_dims

    def build(self, input_shape):
        length, width = input_shape[1], input_shape[-1]
        if self.combination_type == 'add' and self.max_dims is not None and width is not None \
                and width != self.max_dims:
            raise ValueError(f"combination_type='add' needs inputs {self.max_dims} wide "
                             f'(max_dims), got {width}')
        if self.max_steps is not None and length is not None and length > self.max_steps:
            raise ValueError(f'inputs of {length} steps are longer than max_steps='
                             f'{self.max_steps}')

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        offsets = None
        if training and self.random_offset:
            offsets = ops.cast(keras.random.randint((shape[0], 1, 1), 0, self.random_offset + 1,
                                                    seed=self.seed_generator), 'float32')
        signal = self.encoding(shape[1], self._width(inputs.shape[-1]), offsets)
        if offsets is None:
            signal = signal[None]                                                # (1, T, C)
        if self.combination_type == 'add':
            return inputs + signal
        signal = ops.broadcast_to(signal, (shape[0], shape[1], self._width(inputs.shape[-1])))
        return ops.concatenate([inputs, signal], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.combination_type == 'add':
            return tuple(input_shape)
        width = self._width(input_shape[-1])
        return (*input_shape[:-1], None if input_shape[-1] is None or width is None
                else input_shape[-1] + width)

    def get_config(self):
        config = super().get_config()
        config.update(combination_type=self.combination_type, max_wavelength=self.max_wavelength,
                      max_steps=self.max_steps, max_dims=self.max_dims)
        if self.random_offset:                  # earlier saved models keep their configuration
            config['random_offset'] = self.random_offset
        if self.min_wavelength != 1:
            config['min_wavelength'] = self.min_wavelength
        return config
