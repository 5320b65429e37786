"""Diagnostic probes only (not the suite): the driver with one part of the MHA changed.
MHA_DIAG=nope: the positional encoding passes its input through; MHA_DIAG=emb4: the
Embedding starts at standard deviation 4 instead of 1."""
import os
import sys

import keras

sys.path.insert(0, os.getcwd())

import hw6_base
import network

what = os.environ['MHA_DIAG']
if what == 'nope':
    class NoEncoding(network.PositionalEncoding):
        def call(self, inputs):
            return inputs
    network.PositionalEncoding = NoEncoding
elif what == 'emb4':
    base = keras.initializers.RandomNormal
    network.keras.initializers.RandomNormal = lambda stddev=1.0, **kw: base(stddev=4 * stddev, **kw)
else:
    raise SystemExit(f'MHA_DIAG: nope or emb4, got {what!r}')
sys.exit(hw6_base.main(sys.argv[1:]))
