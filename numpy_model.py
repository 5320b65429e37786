"""The suite's MHA classifier in NumPy: exported once from its ``.keras`` file, then loaded and
run without TensorFlow (what makes predict.py's default cheap per sequence).

    python open_set.py ...                      # exports results/pfam46_small/mha_rot0.npz
    model = NumpyModel.load('results/pfam46_small/mha_rot0.npz')
    probabilities, features = model.predict(sequences)

`export` writes the weights of a `network.build_model('mha', ...)` model, its architecture and
its metadata (`{model}_meta.json`, content hash kept) into one ``.npz`` (no pickle). `predict`
reproduces Keras' output to float32 rounding (checked by the tests), batch by batch over
sequences sorted by length, and returns the pooled features (the input of the last hidden Dense
layer's output) that the open-set score (`open_set.py`) uses.

Two shortcuts make it cheap, both exact: the strided causal Conv1D is linear in its input
(embedding + positional encoding), so its part of each token is a table lookup (26 rows per
kernel offset) and its part of each position a precomputed table; and NumPy's matrix products
run on one thread (`threadpool_limits` is not needed: the batches are small matrices, where a
second thread costs more CPU than it saves).
"""
import json
import os

import numpy as np

import pfam_loader

def _elu(x):
    """ELU in place (``x``: a float32 array nobody needs any more): max(x, 0) + exp(min(x, 0)) - 1,
    one temporary array (NumPy's expm1 is not vectorised, its exp is)."""
    negative = np.minimum(x, 0)
    np.exp(negative, out=negative)
    np.maximum(x, 0, out=x)
    x += negative
    x -= 1
    return x


#: activations the exported layers may use
ACTIVATIONS = {'elu': _elu, 'relu': lambda x: np.maximum(x, 0), 'linear': lambda x: x,
               'tanh': np.tanh}
#: stands in for -inf before max pooling (as network._NEGATIVE)
NEGATIVE = -1e9
#: residues per batch (sequences of similar length share a batch: rows × padded length);
#: small enough that a batch's arrays stay in the CPU caches
BATCH_RESIDUES = 4096
FORMAT = 'pfam-numpy-mha-1'
#: predict.py's default network: rotation 0's model of the ``mha_small`` preset
#: (settings.PRESETS), which open_set.py exports with the open-set check to `DEFAULT_FILE`
DEFAULT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                              'pfam46_small', 'mha_rot0.keras')
#: predict.py's default model file (open_set.py writes it)
DEFAULT_FILE = os.path.splitext(DEFAULT_SOURCE)[0] + '.npz'


def _layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def export(model, meta, path, open_set=None, profiles=None):
    """Write ``model`` (an MHA model of `network.build_model`) and its metadata to ``path``,
    with predict.py's open-set check when given: ``open_set`` (a JSON-able dict: per-family
    thresholds ...) and ``profiles`` (the text of an HMMER file, one profile per class).

    Raises:
        ValueError: not an MHA model of the suite, or an activation `ACTIVATIONS` lacks.
    """
    import fileio
    if _layer(model, 'positional_encoding') is None or _layer(model, 'attention0') is None:
        raise ValueError(f'{model.name}: not an MHA model of network.build_model; only those '
                         'can be exported to NumPy')
    arrays, blocks, dense = {}, [], []
    weights = lambda layer: [np.asarray(w) for w in layer.get_weights()]  # noqa: E731

    def activation(layer):
        name = layer.get_config()['activation']
        if name not in ACTIVATIONS:
            raise ValueError(f'{layer.name}: activation {name!r}; exportable: '
                             f'{", ".join(ACTIVATIONS)}')
        return name
    conv = model.get_layer('conv')
    arrays['embedding'], = weights(model.get_layer('embedding'))
    arrays['conv_kernel'], arrays['conv_bias'] = weights(conv)
    i = 0
    while _layer(model, f'attention{i}') is not None:
        prefix = f'attention{i}'
        names = ['norm_gamma', 'norm_beta']
        values = weights(model.get_layer(f'{prefix}_norm'))
        names += ['query', 'query_bias', 'key', 'key_bias', 'value', 'value_bias', 'out',
                  'out_bias']
        values += weights(model.get_layer(prefix))
        block = {'pool': int(model.get_layer(f'{prefix}_pool').get_config()['pool_size'][0]),
                 'epsilon': float(model.get_layer(f'{prefix}_norm').epsilon), 'ff': None}
        if _layer(model, f'{prefix}_ff') is not None:
            names += ['ff_norm_gamma', 'ff_norm_beta', 'ff', 'ff_bias', 'ff_out', 'ff_out_bias']
            values += (weights(model.get_layer(f'{prefix}_ff_norm'))
                       + weights(model.get_layer(f'{prefix}_ff'))
                       + weights(model.get_layer(f'{prefix}_ff_out')))
            block['ff'] = activation(model.get_layer(f'{prefix}_ff'))
            block['ff_epsilon'] = float(model.get_layer(f'{prefix}_ff_norm').epsilon)
        arrays.update({f'{prefix}_{n}': v for n, v in zip(names, values)})
        blocks.append(block)
        i += 1
    i = 0
    while _layer(model, f'dense{i}') is not None:
        arrays[f'dense{i}_kernel'], arrays[f'dense{i}_bias'] = weights(model.get_layer(f'dense{i}'))
        dense.append(activation(model.get_layer(f'dense{i}')))
        i += 1
    arrays['output_kernel'], arrays['output_bias'] = weights(model.get_layer('output'))
    encoding = model.get_layer('positional_encoding')
    architecture = {
        'format': FORMAT, 'blocks': blocks, 'dense': dense,
        'conv_stride': int(conv.get_config()['strides'][0]),
        'conv_activation': activation(conv),
        'max_wavelength': encoding.max_wavelength, 'min_wavelength': encoding.min_wavelength}
    extra = {'architecture': np.array(json.dumps(architecture)),
             'meta': np.array(json.dumps(meta))}
    if open_set is not None:
        extra['open_set'] = np.array(json.dumps(open_set))
    if profiles is not None:
        extra['profiles'] = np.frombuffer(profiles, np.uint8)
    fileio.atomic_write(path, lambda f: np.savez_compressed(
        f, **{k: v.astype(np.float32) for k, v in arrays.items()}, **extra))
    return path


def positional_encoding(length, width, max_wavelength, min_wavelength=1.0):
    """(length, width) sinusoids as `positional_encoder.PositionalEncoding` adds them."""
    positions = np.arange(length, dtype=np.float32)[:, None]
    pair = (np.arange(width) // 2 * 2).astype(np.float32)
    shortest = np.float32(min_wavelength)
    angles = positions / (shortest * np.power(np.float32(max_wavelength) / shortest,
                                              pair / np.float32(width)))[None, :]
    return np.where(np.arange(width) % 2 == 0, np.sin(angles), np.cos(angles)).astype(np.float32)


def _layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, -1, keepdims=True)
    return centred / np.sqrt(variance + epsilon) * gamma + beta


def _average_pool(x, pool):
    """(B, T, C) → (B, ceil(T/p), C): windows of ``pool`` steps averaged (padding already zero)."""
    extra = -x.shape[1] % pool
    if extra:
        x = np.concatenate([x, np.zeros((x.shape[0], extra, x.shape[2]), x.dtype)], 1)
    pooled = x[:, ::pool].copy()
    for offset in range(1, pool):
        pooled += x[:, offset::pool]
    pooled *= np.float32(1 / pool)
    return pooled


def _attention(query, key, value, real):
    """Softmax attention of (B, N, T, H) queries, keys and values; keys at or after ``real``
    (B,) of each row are padding, which nobody attends to. exp() without subtracting each
    row's maximum first (one pass less), unless that overflows or underflows somewhere."""
    def scores():
        product = query @ key.transpose(0, 1, 3, 2)                          # (B, N, Tq, Tk)
        for row, n in enumerate(real):
            product[row, :, :, n:] = NEGATIVE
        return product
    weights = np.exp(scores())
    total = weights.sum(-1, keepdims=True)
    if not (np.all(np.isfinite(total)) and total.min() > 1e-30):
        weights = scores()
        weights -= weights.max(-1, keepdims=True)
        np.exp(weights, out=weights)
        total = weights.sum(-1, keepdims=True)
    attended = weights @ value
    attended /= total
    return attended


class NumpyModel:
    """An exported MHA model (`export`): ``predict(sequences)`` → probabilities, features."""

    def __init__(self, arrays, architecture, meta, path=None, open_set=None, profiles=None):
        self.arrays, self.architecture, self.meta, self.path = arrays, architecture, meta, path
        self.open_set, self.profiles = open_set, profiles     # profiles: HMMER text (bytes)
        self.class_names = meta['class_names']
        kernel = arrays['conv_kernel']                                     # (K, E, F)
        self.kernel_width, self.stride = kernel.shape[0], architecture['conv_stride']
        # the Conv1D's part of each token at each kernel offset; row N_TOKENS: before the start
        table = np.einsum('ve,kef->kvf', arrays['embedding'], kernel)
        self.token_table = np.concatenate([table, np.zeros_like(table[:, :1])], 1)
        self.position_tables = {}
        # pairs of kernel offsets share one lookup in a table of token pairs (27 × 27 rows)
        self.offset_tables = []
        for first in range(0, self.kernel_width, 2):
            table, paired = self.token_table[first], first + 1 < self.kernel_width
            if paired:
                table = (table[:, None] + self.token_table[first + 1][None, :]).reshape(
                    -1, table.shape[-1])
            self.offset_tables.append((first, paired, np.ascontiguousarray(table, np.float32)))
        self.blocks = []
        for i in range(len(architecture['blocks'])):
            w = {name[len(f'attention{i}_'):]: value for name, value in arrays.items()
                 if name.startswith(f'attention{i}_')}
            heads, key_dim = w['query_bias'].shape
            scale = np.float32(1 / np.sqrt(key_dim))      # Keras scales the query
            kernel = np.concatenate([w['query'].reshape(-1, heads * key_dim) * scale,
                                     w['key'].reshape(-1, heads * key_dim),
                                     w['value'].reshape(-1, heads * key_dim)], 1)
            bias = np.concatenate([w['query_bias'].ravel() * scale, w['key_bias'].ravel(),
                                   w['value_bias'].ravel()])
            # LayerNorm(x) @ kernel = ((x - mean) @ (gamma · kernel)) / std + beta @ kernel
            w['qkv'] = (w['norm_gamma'][:, None] * kernel).astype(np.float32)
            w['qkv_sum'] = w['qkv'].sum(0)
            w['qkv_bias'] = (w['norm_beta'] @ kernel + bias).astype(np.float32)
            w['out'] = w['out'].reshape(heads * key_dim, -1)
            w.update(heads=heads, key_dim=key_dim)
            self.blocks.append(w)

    @classmethod
    def load(cls, path):
        """Raises: ValueError: not a file written by `export` (one line)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            architecture = json.loads(str(arrays.pop('architecture')))
            meta = json.loads(str(arrays.pop('meta')))
            open_set = json.loads(str(arrays.pop('open_set'))) if 'open_set' in arrays else None
            profiles = arrays.pop('profiles').tobytes() if 'profiles' in arrays else None
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise ValueError(f'{path}: not a NumPy model written by open_set.py '
                             f'({type(err).__name__})') from None
        if architecture.get('format') != FORMAT:
            raise ValueError(f'{path}: format {architecture.get("format")!r}, expected {FORMAT}')
        return cls(arrays, architecture, meta, path, open_set, profiles)

    def _position_part(self, length):
        """(ceil(length / stride), F): the Conv1D's part of the positional encoding."""
        if length not in self.position_tables:
            kernel = self.arrays['conv_kernel']
            signal = positional_encoding(length, kernel.shape[1],
                                         self.architecture['max_wavelength'],
                                         self.architecture.get('min_wavelength', 1.0))
            padded = np.concatenate([np.zeros((self.kernel_width - 1, signal.shape[1]),
                                              np.float32), signal])
            steps = np.arange(0, length, self.stride)
            self.position_tables[length] = sum(
                padded[steps + k] @ kernel[k] for k in range(self.kernel_width))
        return self.position_tables[length]

    def _forward(self, tokens, lengths):
        """Tokens (B, T) right-padded, lengths (B,) → probabilities (B, K), last hidden
        features (B, D)."""
        a, arch = self.arrays, self.architecture
        batch, length = tokens.shape
        real = -(-lengths // self.stride)               # real steps of each row after the Conv1D
        before = np.full((batch, self.kernel_width - 1), pfam_loader.N_TOKENS, tokens.dtype)
        padded = np.concatenate([before, tokens], 1)
        x = np.empty((batch, length // self.stride, self.token_table.shape[-1]), np.float32)
        x[:] = self._position_part(length) + a['conv_bias']                # (B, T/s, F)
        for first, paired, table in self.offset_tables:                     # the Conv1D
            index = padded[:, first:length + first:self.stride]                # (B, T/s)
            if paired:
                index = index * (pfam_loader.N_TOKENS + 1) + padded[
                    :, first + 1:length + first + 1:self.stride]
            x += table[index]                                                # (B, T/s, F)
        x = ACTIVATIONS[arch['conv_activation']](x)
        for i, block in enumerate(arch['blocks']):
            w = self.blocks[i]
            heads, key_dim = w['heads'], w['key_dim']
            # pre-LN attention, the norm's scale and shift folded into the projection
            mean = x.mean(-1, keepdims=True)
            spread = np.einsum('btc,btc->bt', x, x)[..., None] / x.shape[-1] - mean * mean
            projected = x @ w['qkv']
            projected -= mean * w['qkv_sum']
            projected *= 1 / np.sqrt(np.maximum(spread, 0) + block['epsilon'])
            projected += w['qkv_bias']
            query, key, value = projected.reshape(batch, -1, 3, heads, key_dim).transpose(
                2, 0, 3, 1, 4)                                               # 3 × (B, N, T, H)
            attended = _attention(query, key, value, real).transpose(0, 2, 1, 3).reshape(batch, -1, heads * key_dim)
            x += attended @ w['out']
            x += w['out_bias']
            if block['ff']:
                hidden = _layer_norm(x, w['ff_norm_gamma'], w['ff_norm_beta'],
                                     block['ff_epsilon'])
                hidden = ACTIVATIONS[block['ff']](hidden @ w['ff'] + w['ff_bias'])
                x = x + (hidden @ w['ff_out'] + w['ff_out_bias'])
            for row, n in enumerate(real):          # padding must not enter an average
                x[row, n:] = 0
            x, real = _average_pool(x, block['pool']), -(-real // block['pool'])
        for row, n in enumerate(real):
            x[row, n:] = NEGATIVE
        hidden = x.max(1)                                                    # (B, C)
        for i, name in enumerate(arch['dense']):
            hidden = ACTIVATIONS[name](hidden @ a[f'dense{i}_kernel'] + a[f'dense{i}_bias'])
        logits = hidden @ a['output_kernel'] + a['output_bias']
        logits = logits - logits.max(1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(1, keepdims=True), hidden

    def predict(self, sequences, batch_residues=BATCH_RESIDUES):
        """Class probabilities (N, K) and the last hidden layer's features (N, D) of
        amino-acid strings, in their order; batches of similar length, each at most
        ``batch_residues`` residues once padded."""
        lengths = np.array([len(s) for s in sequences])
        order = np.argsort(lengths, kind='stable')
        width = self.arrays['output_kernel'].shape[0]
        probabilities = np.zeros((len(sequences), len(self.class_names)), np.float32)
        features = np.zeros((len(sequences), width), np.float32)
        start = 0
        while start < len(order):
            stop = start + 1
            while stop < len(order) and (stop - start + 1) * lengths[order[stop]] <= batch_residues:
                stop += 1
            rows = order[start:stop]
            longest = lengths[rows[-1]]
            tokens = pfam_loader.encode([sequences[i] for i in rows],
                                        len_max=int(-(-longest // self.stride) * self.stride))
            probabilities[rows], features[rows] = self._forward(tokens.astype(np.intp),
                                                                lengths[rows])
            start = stop
        return probabilities, features


def reuse_freed_memory():
    """Ask glibc's malloc to keep freed memory for reuse instead of returning each large array
    to the system (mmap/munmap, then page faults on every new one): about 0.8 of 9 CPU seconds
    of system time on the benchmark of predict.py (results/bench_predict.md). No effect (and no
    error) without glibc."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 1024 * 1024)
                and mallopt(m_trim_threshold, 256 * 1024 * 1024))
