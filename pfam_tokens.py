"""The amino-acid vocabulary, padding and length buckets under a name of their own, for modules
that need only those: everything here is `pfam_loader`'s (its module docstring describes the
tokens), which owns them because it must work copied alone beside a student's script."""
from pfam_loader import (AMBIGUOUS, AMINO_ACIDS, BUCKET_GROWTH, N_TOKENS,  # noqa: F401
                         PAD_TOKEN, VOCABULARY, check_sequences, decode,
                         default_bucket_lengths, encode, length_batches, length_order,
                         padding_rows, right_padded, sequence_lengths, substitute)
