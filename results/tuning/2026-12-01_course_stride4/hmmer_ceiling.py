"""HMMER on a sample of the course-scale validation fold, with profiles built from the 46-family
benchmark's training folds (rotation 0): how separable the set is to a method that is not a network.
    python results/tuning/2026-12-01_course_stride4/hmmer_ceiling.py   (from the repository root)"""
import sys, collections, numpy as np
sys.path.insert(0, '.')
import pfam_loader, profile_check
bench = pfam_loader.load_rotation('data/pfam', 0, 'B')
train = [pfam_loader.decode(r) for r in bench["ins_train"]]
profiles = profile_check.build_profiles(train, bench['outs_train'][:, 0], [bench['out_index_word'][k] for k in range(bench['n_classes'])])
d = pfam_loader.load_rotation('data/course_scale', 0, 'C')
idx = np.random.default_rng(0).choice(len(d['ins_valid']), 6000, replace=False)
seqs = [pfam_loader.decode(r) for r in d["ins_valid"][idx]]; truth = [d['out_index_word'][k] for k in d['outs_valid'][idx, 0]]
fam, ev = profile_check.scan(profiles, seqs)
ok = np.array([a == b for a, b in zip(fam, truth)])
L = np.array([len(s) for s in seqs])
print('hmmscan best hit accuracy', ok.mean(), 'no hit', np.mean([f == '' for f in fam]))
for lo, hi in [(0, 150), (150, 250), (250, 400), (400, 700), (700, 1200), (1200, 4000)]:
    m = (L >= lo) & (L < hi); print(f'len {lo}-{hi}: n={m.sum()} acc={ok[m].mean():.4f}')
print(collections.Counter(t for t, k in zip(truth, ok) if not k).most_common(8))
