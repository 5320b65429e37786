"""One builder for every classifier of the suite: SimpleRNN, GRU, LSTM and Multi-Head Attention.

    model = build_model('gru', n_tokens=26, n_classes=46)            # variable-length input
    model = build_model('mha', 26, 46, len_max=782, attention_heads=[4, 4])

Shapes (``B`` batch, ``T`` tokens, ``C`` features)::

    recurrent: tokens (B, T) → Embedding → strided causal Conv1D (B, T/s, C)
               → [recurrent(return_sequences) → AveragePooling1D] × len(rnn_units) - 1
               → final recurrent (B, C) → Dense × len(dense_units) → softmax (B, n_classes)
    mha:       tokens (B, T) → Embedding → PositionalEncoding('add') → strided causal Conv1D
               → [pre-LN MultiHeadAttention(x, x) + residual (+ feed-forward)
                  → AveragePooling1D] × len(attention_heads)
               → GlobalMaxPooling1D → Dense × len(dense_units) → softmax

Padding (token 0, on the right) never reaches a prediction. Conv1D drops Keras masks, so the
model carries an explicit boolean mask derived from the tokens through every down-sampling step:

* the Conv1D is ``causal``: output ``j`` sees inputs ``s*j - k + 1 .. s*j`` only, so it never
  mixes padding into a real position, and position ``j`` is real iff input ``s*j`` is;
* before each AveragePooling1D padded features are zeroed and the time axis is extended to a
  multiple of the pool size, so a window's average does not depend on how much padding follows;
* recurrent layers get the mask (they skip padded steps; the final one returns the state at the
  last real step), MultiHeadAttention gets it as ``value_mask`` (nobody attends to padding), and
  padded positions are set to a large negative value before GlobalMaxPooling1D.

The same sequence therefore gets the same prediction whether it is padded to its bucket or to
``len_max`` (checked by the tests).
"""
import contextlib
import io
import operator
import os
import weakref

import keras
import numpy as np
from keras import layers, ops

import fileio
import pfam_loader
import settings
from positional_encoder import PositionalEncoding

MODEL_TYPES = settings.MODEL_TYPES       # ('rnn', 'gru', 'lstm', 'mha')
RECURRENT_LAYERS = {'rnn': layers.SimpleRNN, 'gru': layers.GRU, 'lstm': layers.LSTM}
_NEGATIVE = -1e9          # stands in for -inf before max pooling


# ---------------------------------------------------------------- mask plumbing
@keras.saving.register_keras_serializable(package='pfam')
class PaddingMask(keras.layers.Layer):
    """Tokens (B, T) → boolean mask (B, T), True where the token is not padding (0)."""

    def call(self, tokens):
        return ops.not_equal(tokens, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, tokens):
        return keras.KerasTensor(tokens.shape, dtype='bool')


@keras.saving.register_keras_serializable(package='pfam')
class DownsampleMask(keras.layers.Layer):
    """Mask (B, T) → mask (B, ceil(T / stride)): position j is real iff position stride * j is.

    Matches a ``causal`` strided Conv1D and the zero-extended AveragePooling1D of this module
    (right padding: a window is real iff its first element is real).

    Args:
        stride: the layer's stride (or pool size).
    """

    def __init__(self, stride, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, mask):
        return mask[:, ::self.stride]

    def compute_output_spec(self, mask):
        length = mask.shape[1]
        length = None if length is None else -(-length // self.stride)
        return keras.KerasTensor((mask.shape[0], length), dtype='bool')

    def get_config(self):
        return {**super().get_config(), 'stride': self.stride}


@keras.saving.register_keras_serializable(package='pfam')
class MaskedFill(keras.layers.Layer):
    """Features (B, T, C) and mask (B, T) → features with padded positions set to ``value``.

    Args:
        value: the fill value (0 before averaging, a large negative number before max pooling).
    """

    def __init__(self, value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)
        self.supports_masking = True       # it consumes a Keras mask left by a recurrent layer

    def compute_mask(self, features, mask=None):
        return None

    def call(self, features, mask):
        return ops.where(mask[:, :, None], features, ops.cast(self.value, features.dtype))

    def compute_output_shape(self, features_shape, mask_shape=None):
        return tuple(features_shape)

    def get_config(self):
        return {**super().get_config(), 'value': self.value}


# ---------------------------------------------------------------- loss
@keras.saving.register_keras_serializable(package='pfam')
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against targets smoothed towards uniform: the true class
    gets ``1 - label_smoothing + label_smoothing / K``, every other ``label_smoothing / K``
    (Keras' SparseCategoricalCrossentropy has no ``label_smoothing``)."""

    def __init__(self, label_smoothing=0.1, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), 'int32')
        targets = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(targets, y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), 'label_smoothing': self.label_smoothing}


def _masked_average_pool(x, mask, pool_size, name):
    """AveragePooling1D that ignores padding: zero padded steps, extend T to a multiple of the
    pool size, average each window of ``pool_size`` steps. (B, T, C) → (B, ceil(T/p), C)."""
    x = MaskedFill(0.0, name=f'{name}_zero_padding')(x, mask)
    x = layers.ZeroPadding1D((0, pool_size - 1), name=f'{name}_extend')(x)
    x = layers.AveragePooling1D(pool_size, padding='valid', name=name)(x)
    return x, DownsampleMask(pool_size, name=f'{name}_mask')(mask)


def _as_int(value, what):
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f'{what} must be an integer, got {value!r}') from None


def _as_list(value, n, what):
    """A scalar means the same value for each of ``n`` modules; a list must have ``n`` entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f'{what} needs {n} entries (one per module), got {list(value)}')
        return list(value)
    return [value] * n


# ---------------------------------------------------------------- the builder
def build_model(model_type, n_tokens, n_classes, len_max=None, *, compile=True, name=None,
                **knobs):
    """Build (and compile) one classifier of tokens (B, T) → class probabilities (B, n_classes).

    The keyword arguments (``knobs``) are the fields of `settings.Model`, whose defaults are
    theirs: declared once there, with the command line's options (the reference presets of
    `settings.PRESETS` change some of them).

    Args:
        model_type: ``'rnn'`` (SimpleRNN), ``'gru'``, ``'lstm'`` or ``'mha'``.
        n_tokens: vocabulary size including padding (26 for `pfam_loader`).
        n_classes: number of families.
        len_max: input length, or None (default) for variable-length input such as bucketed
            batches. Strides and pools round up (T -> ceil(T / s)), so even a one-residue
            sequence keeps one step: the sequence never collapses to length 0.
        n_embeddings: width of the token embedding; must be smaller than ``n_tokens``.
        conv_filters: filters of the strided Conv1D (its k-mer-like detectors).
        conv_kernel: kernel width of the Conv1D, in residues.
        conv_stride: stride of the Conv1D (the first down-sampling of the sequence).
        rnn_units: recurrent types: units of each recurrent module; all but the last return
            sequences and are followed by average pooling, the last returns its final state.
        bidirectional: recurrent types: run every recurrent layer in both directions
            (`keras.layers.Bidirectional`, outputs concatenated: 2 x units features); the
            backward pass ends at the first residue, so the final state no longer has to carry
            the start of a long sequence through all of it.
        rnn_activation: recurrent types: activation of the state, 'tanh' (Keras' default) or
            'relu'; a SimpleRNN with 'relu' also starts its recurrent matrix at the identity
            (an IRNN, Le, Jaitly & Hinton 2015): its state holds what it saw until an input
            changes it, where a tanh state fades within tens of steps.
        pool_sizes: pool size after each pooled module (an int for all, or a list: one per
            recurrent module but the last, or one per attention module).
        attention_heads: mha: number of heads of each attention module (one entry per module).
        key_dim: mha: size of each head's query/key projection.
        feed_forward: mha: hidden units of the position-wise feed-forward sub-block after each
            attention (0 for none).
        positional_max_wavelength: mha: longest wavelength of the positional encoding.
        positional_offset: mha: in training, each sequence's positions start at a random offset
            from 0 to this (`PositionalEncoding`'s ``random_offset``; 0 for none).
        positional_min_wavelength: mha: shortest wavelength of the positional encoding
            (`PositionalEncoding`'s ``min_wavelength``; 1 as in the paper).
        dense_units: units of each hidden Dense layer before the softmax (empty for none).
        activation: activation of the Conv1D, the feed-forward and the hidden Dense layers.
        dropout: dropout rate after the Conv1D, inside/after each recurrent or attention
            module, and after each hidden Dense layer.
        dense_dropout: dropout rate on the pooled features (after GlobalMaxPooling1D or the final
            recurrent state): the strongest regulariser of this small-data task, where the
            classifier head overfits first.
        l2: L2 penalty on the kernels of Conv1D, recurrent, Dense and attention layers.
        label_smoothing: train against targets smoothed towards uniform by this amount
            (`SmoothedSparseCrossentropy`; 0: the plain sparse cross-entropy).
        lr: Adam learning rate.
        clipnorm: Adam's per-variable gradient norm clip (None for none).
        jit_compile: XLA compilation on TensorFlow; off by default because each bucket length
            would recompile. Always on under JAX (without it Keras runs every operation of every
            step eagerly, one tiny compiled program each: far slower, on a GPU above all).
        compile: compile with the suite's loss, metric and optimizer (else return it uncompiled).
        name: model name (default the model type).

    Returns:
        A `keras.Model` compiled with sparse categorical cross-entropy, the metric
        ``sparse_categorical_accuracy`` and Adam(lr, clipnorm).

    Raises:
        ValueError: unknown model type, ``n_embeddings >= n_tokens``, a list of the wrong length,
            a non-positive size or ``len_max``, or a dropout outside [0, 1).
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f'model_type must be one of {", ".join(MODEL_TYPES)}, got {model_type!r}')
    unknown = sorted(set(knobs) - set(settings.MODEL_KNOBS))
    if unknown:
        raise ValueError(f'unknown model settings {unknown}; known: {", ".join(settings.MODEL_KNOBS)}')
    config = {**settings.DEFAULTS, **knobs}
    (n_embeddings, conv_filters, conv_kernel, conv_stride, rnn_units, pool_sizes, bidirectional,
     rnn_activation, attention_heads, key_dim, feed_forward, positional_max_wavelength,
     positional_offset, positional_min_wavelength, dense_units, activation, dropout, dense_dropout,
     l2, label_smoothing, lr, clipnorm, jit_compile) = (config[knob] for knob in settings.MODEL_KNOBS)
    if 'pool_sizes' not in knobs:                  # the default: one size for every module
        pool_sizes = pool_sizes[0]
    # NumPy integers (course pickles hold np.int64 scalars) are accepted as the ints they are.
    n_tokens, n_classes = _as_int(n_tokens, 'n_tokens'), _as_int(n_classes, 'n_classes')
    len_max = None if len_max is None else _as_int(len_max, 'len_max')
    if not 0 < n_embeddings < n_tokens:
        raise ValueError(f'n_embeddings must be in 1..n_tokens-1 = {n_tokens - 1} (fewer '
                         f'embeddings than tokens), got {n_embeddings}')
    if n_classes < 2:
        raise ValueError(f'n_classes must be at least 2, got {n_classes}')
    if model_type == 'mha':
        attention_heads = list(attention_heads)
        n_pooled = len(attention_heads)
    else:
        rnn_units = list(rnn_units)
        if not rnn_units:
            raise ValueError('rnn_units needs at least one entry (the final recurrent layer)')
        n_pooled = len(rnn_units) - 1
    pool_sizes = _as_list(pool_sizes, n_pooled, 'pool_sizes')
    sizes = dict(conv_filters=conv_filters, conv_kernel=conv_kernel, conv_stride=conv_stride,
                 key_dim=key_dim)
    sizes.update({f'pool_sizes[{i}]': p for i, p in enumerate(pool_sizes)})
    sizes.update({f'dense_units[{i}]': u for i, u in enumerate(dense_units)})
    if model_type == 'mha':
        sizes.update({f'attention_heads[{i}]': h for i, h in enumerate(attention_heads)})
    else:
        sizes.update({f'rnn_units[{i}]': u for i, u in enumerate(rnn_units)})
    bad = {k: v for k, v in sizes.items() if not (isinstance(v, int) and v >= 1)}
    if bad:
        raise ValueError(f'sizes must be positive integers, got {bad}')
    for rate_name, rate in (('dropout', dropout), ('dense_dropout', dense_dropout)):
        if not 0 <= rate < 1:
            raise ValueError(f'{rate_name} must be in [0, 1), got {rate}')
    if len_max is not None and not (isinstance(len_max, int) and len_max >= 1):
        raise ValueError(f'len_max must be a positive integer or None, got {len_max!r}')

    regularizer = keras.regularizers.L2(l2) if l2 else None
    tokens = keras.Input(shape=(len_max,), dtype='int32', name='tokens')            # (B, T)
    mask = PaddingMask(name='padding_mask')(tokens)                                   # (B, T)
    # Unit-variance embeddings: with Keras' default (uniform ±0.05) the positional encoding,
    # whose values span ±1, would drown the residue identities at the start of training.
    x = layers.Embedding(n_tokens, n_embeddings, name='embedding',
                         embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))(
        tokens)                                                                       # (B, T, E)
    if model_type == 'mha':
        x = PositionalEncoding('add', positional_max_wavelength, random_offset=positional_offset,
                               min_wavelength=positional_min_wavelength,
                               name='positional_encoding')(x)
    x = layers.Conv1D(conv_filters, conv_kernel, strides=conv_stride, padding='causal',
                      activation=activation, kernel_regularizer=regularizer, name='conv')(x)
    mask = DownsampleMask(conv_stride, name='conv_mask')(mask)                        # (B, T/s)
    x = layers.Dropout(dropout, name='conv_dropout')(x)                               # (B, T/s, F)

    if model_type == 'mha':
        for i, (heads, pool) in enumerate(zip(attention_heads, pool_sizes)):
            x, mask = _attention_module(x, mask, heads, key_dim, feed_forward, pool, activation,
                                        dropout, regularizer, f'attention{i}')
        x = MaskedFill(_NEGATIVE, name='fill_padding')(x, mask)
        x = layers.GlobalMaxPooling1D(name='global_max_pool')(x)                      # (B, C)
        x = layers.Dropout(dense_dropout, name='pooled_dropout')(x)
    else:
        # Keras' own default (tanh) stays out of the layer configs: earlier models are unchanged
        state = {} if rnn_activation == 'tanh' else {'activation': rnn_activation}
        if rnn_activation == 'relu' and model_type == 'rnn':
            state['recurrent_initializer'] = 'identity'       # an IRNN (Le, Jaitly & Hinton 2015)

        def recurrent(units, name, **kwargs):
            layer = RECURRENT_LAYERS[model_type](units, kernel_regularizer=regularizer,
                                                 name=name, **state, **kwargs)
            return layers.Bidirectional(layer, name=f'{name}_bidirectional') if bidirectional \
                else layer

        for i, (units, pool) in enumerate(zip(rnn_units[:-1], pool_sizes)):
            x = recurrent(units, f'{model_type}{i}', return_sequences=True)(
                x, mask=mask)                                                         # (B, T', U)
            x = layers.Dropout(dropout, name=f'{model_type}{i}_dropout')(x)
            x, mask = _masked_average_pool(x, mask, pool, f'pool{i}')
        x = recurrent(rnn_units[-1], f'{model_type}{len(rnn_units) - 1}')(
            x, mask=mask)                                                             # (B, U)
        x = layers.Dropout(dense_dropout, name='final_dropout')(x)

    for i, units in enumerate(dense_units):
        x = layers.Dense(units, activation=activation, kernel_regularizer=regularizer,
                         name=f'dense{i}')(x)
        x = layers.Dropout(dropout, name=f'dense{i}_dropout')(x)
    outputs = layers.Dense(n_classes, activation='softmax', name='output')(x)        # (B, K)
    model = keras.Model(tokens, outputs, name=name or model_type)
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=lr, clipnorm=clipnorm),
            # the mean over the examples that count: NumPy batches (JAX) are filled up to the
            # batch size with examples of weight 0 (`pfam_loader.training_batches`)
            loss=(SmoothedSparseCrossentropy(label_smoothing, reduction='mean_with_sample_weight')
                  if label_smoothing else
                  keras.losses.SparseCategoricalCrossentropy(reduction='mean_with_sample_weight')),
            weighted_metrics=[  # Keras gives the weights to these only
                keras.metrics.SparseCategoricalAccuracy(name=settings.ACCURACY)],
            jit_compile=bool(jit_compile) or keras.backend.backend() == 'jax')
    return model


def _attention_module(x, mask, heads, key_dim, feed_forward, pool, activation, dropout,
                      regularizer, name):
    """Pre-LayerNorm transformer block, then masked average pooling:

        x = x + Dropout(MultiHeadAttention(LN(x), LN(x)))      # padded keys masked out
        x = x + Dropout(FF(LN(x)))                              # when feed_forward > 0

    Pre-LN keeps the residual path (the Conv1D's k-mer features) unnormalised, which trains
    stably at high learning rates without warm-up, unlike the original post-LN block.
    """
    width = x.shape[-1]
    normed = layers.LayerNormalization(name=f'{name}_norm')(x)
    attended = layers.MultiHeadAttention(heads, key_dim, dropout=dropout,
                                         kernel_regularizer=regularizer, name=name)(
        normed, normed, value_mask=mask)                                              # (B, T, C)
    x = layers.Add(name=f'{name}_residual')(
        [x, layers.Dropout(dropout, name=f'{name}_dropout')(attended)])
    if feed_forward:
        hidden = layers.LayerNormalization(name=f'{name}_ff_norm')(x)
        hidden = layers.Dense(feed_forward, activation=activation, kernel_regularizer=regularizer,
                              name=f'{name}_ff')(hidden)
        hidden = layers.Dense(width, kernel_regularizer=regularizer, name=f'{name}_ff_out')(hidden)
        x = layers.Add(name=f'{name}_ff_residual')(
            [x, layers.Dropout(dropout, name=f'{name}_ff_dropout')(hidden)])
    return _masked_average_pool(x, mask, pool, f'{name}_pool')


# ---------------------------------------------------------------- helpers
def small_test_model(model_type, n_tokens=26, n_classes=5, **overrides):
    """The tiny preset's model (`settings.PRESETS['tiny']`) for tests: seconds on a CPU."""
    hyper = {knob: value for knob, value in settings.preset('tiny').items()
             if knob in settings.MODEL_KNOBS}
    hyper.update(overrides)
    return build_model(model_type, n_tokens, n_classes, **hyper)


def render_model(model, path, dpi=96):
    """Write ``keras.utils.plot_model(model, show_shapes=True)`` to ``path`` (PNG). Keras draws
    right-angled edges (``splines='ortho'``), whose router in graphviz aborts on some graphs
    ("Trapezoid-table overflow"); such a graph is drawn again with straight edge segments.

    Raises:
        RuntimeError: pydot or the graphviz ``dot`` binary is missing, or ``dot`` fails.
    """
    import shutil
    if shutil.which('dot') is None:
        raise RuntimeError('plot_model needs the graphviz binary "dot" (./setup.sh installs it)')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for splines in ('ortho', 'polyline'):
        said = io.StringIO()                    # pydot prints dot's complaint before raising
        try:
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                keras.utils.plot_model(model, to_file=path, show_shapes=True, dpi=dpi,
                                       show_layer_names=True, expand_nested=False,
                                       splines=splines)
            return path
        except AssertionError as err:           # pydot: "dot" ... returned code: -6
            failure = ' '.join(str(err).split())[:200]
    raise RuntimeError(f'graphviz could not draw {model.name}: {failure}')


#: model → {ids of the other ensemble members (none: ``()``) → (weak references to all members,
#: inference function)}, kept off the model so saving it is unaffected
_FORWARD = weakref.WeakKeyDictionary()


def load_model(path):
    """`keras.models.load_model` with this module's custom layers registered (importing
    `network` is what registers them; PositionalEncoding comes with it).

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ValueError: a file that exists but cannot be loaded (empty, truncated or corrupt copy,
            another format), with the reason; Keras itself says "File not found" for those.
    """
    fileio.check_model_file(path)
    try:
        return keras.models.load_model(path)
    except Exception as err:                         # zip, HDF5, JSON and config errors alike
        detail = ' '.join(str(err).split())[:120]
        reason = f'{type(err).__name__}: {detail}' if detail else type(err).__name__
    raise ValueError(fileio.unreadable_model(path, reason))


def model_fingerprint(model):
    """A short hash that identifies a model's weights: the output width, then the SHA-256 of
    every weight's shape, dtype and values in order, e.g. ``'46:3f2a9c0d1e2b4c5d'``.

    The same after ``model.save`` and `load_model`; any retraining changes it. hw6_base.py
    records it in ``{name}_meta.json`` so that predict.py can refuse the metadata of another
    model.
    """
    import hashlib

    import numpy as np
    digest = hashlib.sha256()
    for weight in model.weights:
        values = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f'{values.shape}{values.dtype.str}'.encode())
        digest.update(values.tobytes())
    return f'{model.output_shape[-1]}:{digest.hexdigest()[:16]}'


def without_optimizer(model):
    """An uncompiled copy of ``model`` (same layers, names and weights, hence the same
    `model_fingerprint`), which Keras saves without the optimizer state: about a third of the
    size of a trained model's file, for a model that only predicts."""
    copy = type(model).from_config(model.get_config())   # clone_model would compile it
    copy.set_weights(model.get_weights())
    return copy


def _forward_function(models):
    """NumPy tokens (B, T) → NumPy sum of the class probabilities of ``models`` (a tuple; one
    model or the members of an ensemble), traced once per model set for every batch shape.

    TensorFlow: one ``tf.function`` for all members, so one call per batch runs them all and
    the graph executor can overlap them (the recurrent members are loops of small steps that
    leave a core idle); kept off the models (weak references, so the cache keeps no model
    alive). Other backends (JAX): Keras' own compiled ``predict_on_batch`` of each member.
    """
    if keras.backend.backend() != 'tensorflow':
        return lambda tokens: sum(model.predict_on_batch(tokens) for model in models)
    cached = _FORWARD.setdefault(models[0], {})
    for key, (references, _) in list(cached.items()):   # a member is gone: its id may come back
        if any(reference() is None for reference in references):
            del cached[key]
    key = tuple(id(model) for model in models[1:])
    if key not in cached:
        import tensorflow as tf               # deferred: only the TensorFlow backend needs it
        references = [weakref.ref(model) for model in models]
        traced = tf.function(      # one trace for every batch shape: tracing, not compute,
            lambda x: tf.add_n([reference()(x, training=False) for reference in references]),
            input_signature=[tf.TensorSpec([None, None], tf.int32)], autograph=False)
        cached[key] = references, lambda tokens: traced(tf.constant(tokens)).numpy()
    return cached[key][1]


def predict_probabilities(model, ins, batch=128, verbose=0, growth=pfam_loader.BUCKET_GROWTH):
    """Class probabilities of a token matrix, rows in the order of ``ins``: of one model, or the
    mean of an ensemble's (a list of models).

    Variable-length models get batches of similar length (`pfam_loader.length_order`), each
    trimmed to the smallest of `pfam_loader.default_bucket_lengths` that holds its longest
    sequence: a few distinct shapes, so one compiled function serves them all, and little
    padding; the members of an ensemble share each batch and one compiled function. A
    fixed-length model gets ``ins`` padded or trimmed to its input length.

    Args:
        model: a model from `build_model` (or loaded from its ``.keras`` file), or a list of
            them with the same classes.
        ins: (N, T) uint8/int tokens; right padding expected, rows padded on the left (the
            course's ``pad_sequences`` default) are shifted to the right first, so no residue is
            trimmed away.
        batch: sequences per batch.
        verbose: 1 shows a progress bar.
        growth: each bucket length about this factor times the one before
            (`pfam_loader.default_bucket_lengths`).

    Returns:
        float32 array (N, n_classes).
    """
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    ins = pfam_loader.right_padded(np.asarray(ins))
    total = np.zeros((len(ins), models[0].output_shape[-1]), dtype=np.float32)
    variable = tuple(m for m in models if m.input_shape[1] is None)
    for fixed_model in (m for m in models if m.input_shape[1] is not None):
        width = fixed_model.input_shape[1]
        fixed = np.zeros((len(ins), width), dtype=np.int32)
        fixed[:, :min(width, ins.shape[1])] = ins[:, :width]
        total += fixed_model.predict(fixed, batch_size=batch, verbose=verbose)
    if variable:
        forward = _forward_function(variable)
        widths = pfam_loader.default_bucket_lengths(max(ins.shape[1], 1), growth)
        progress = keras.utils.Progbar(len(ins)) if verbose else None
        done = 0
        for rows, width in pfam_loader.length_batches(ins, batch, widths):
            total[rows] += forward(ins[rows, :width].astype(np.int32))
            done += len(rows)
            if progress:
                progress.update(done)
    return total / len(models)
