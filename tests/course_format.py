"""Writes a data directory the way the course's own ``pfam_loader.py`` does (CS 5043 HW6), from
the facts of its format, without Keras 2: the suite must read such directories unchanged.

* ``pfam{version}_fold_{k}.csv`` with columns ``string,label``;
* ``pfam{version}_rotation_{r}.pkl``: per rotation, a character tokenizer fitted on the training
  strings (lower-cased; ids 1, 2, ... by descending frequency, ties in order of first
  appearance, as ``keras.preprocessing.text.Tokenizer``), ``pad_sequences`` defaults (int32,
  padding and truncation ``'pre'``) to ``len_max`` = the longest *training* string (np.int64),
  ``n_tokens`` = largest training id + 2 (np.int64), and a word tokenizer on the labels
  (lower-cased) with 1-based maps while ``outs`` = index - 1 (int64, (N, 1)).
* The 2022 vintage: no ``n_classes`` key (and ``version=''``, so ``pfam_rotation_{r}.pkl``).
"""
import collections
import os
import pickle

import numpy as np


def _fit_tokenizer(texts, char_level):
    """Keras 2 Tokenizer.fit_on_texts + word_index: {token: id}, ids from 1 by frequency."""
    counts = collections.OrderedDict()
    for text in texts:
        for token in (text.lower() if char_level else text.lower().split()):
            counts[token] = counts.get(token, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)   # stable
    return {token: i for i, (token, _) in enumerate(ranked, start=1)}


def _pad_pre(sequences, len_max):
    out = np.zeros((len(sequences), len_max), dtype=np.int32)
    for i, sequence in enumerate(sequences):
        kept = sequence[-len_max:]                                # truncating='pre'
        if kept:
            out[i, -len(kept):] = kept                            # padding='pre'
    return out


def course_rotation(folds, rotation, vintage=2023):
    """The course's ``prepare_data_set`` on fold DataFrames (columns ``string``, ``label``)."""
    n = len(folds)
    splits = {'train': [(rotation + i) % n for i in range(n - 2)],
              'valid': [(rotation + n - 2) % n], 'test': [(rotation + n - 1) % n]}
    strings = {s: [x for k in ks for x in folds[k]['string']] for s, ks in splits.items()}
    labels = {s: [x for k in ks for x in folds[k]['label']] for s, ks in splits.items()}
    len_max = np.max(np.array([len(s) for s in strings['train']]))
    letters = _fit_tokenizer(strings['train'], char_level=True)
    dat = {f'ins_{s}': _pad_pre([[letters[c] for c in x.lower() if c in letters]
                                 for x in strings[s]], len_max) for s in splits}
    words = _fit_tokenizer(labels['train'], char_level=False)
    for s in splits:
        dat[f'outs_{s}'] = np.array([[words[x.lower()]] for x in labels[s]]) - 1
    dat.update(len_max=len_max, n_tokens=np.int64(np.max(dat['ins_train']) + 2),
               out_index_word={i: w for w, i in words.items()}, out_word_index=words,
               rotation=rotation)
    if vintage >= 2023:
        dat['n_classes'] = len(words)
    return dat


def write_course_dir(folds, out_dir, version='B', vintage=2023, csvs=True):
    """Write fold CSVs (unless ``csvs`` is False) and the 5 rotation pickles; returns the dicts."""
    os.makedirs(out_dir, exist_ok=True)
    if csvs:
        for k, fold in enumerate(folds):
            fold[['string', 'label']].to_csv(os.path.join(out_dir, f'pfam{version}_fold_{k}.csv'),
                                             index=False)
    rotations = []
    for r in range(len(folds)):
        dat = course_rotation(folds, r, vintage)
        with open(os.path.join(out_dir, f'pfam{version}_rotation_{r}.pkl'), 'wb') as f:
            pickle.dump(dat, f)
        rotations.append(dat)
    return rotations
