"""Validation errors of a course-scale model by length and family, on a sample of the validation
fold (rotation 0):  python errors_by_length.py MODEL.keras [SAMPLE]   (from the repository root)"""
import sys, numpy as np, collections
sys.path.insert(0, ".")
import pfam_loader, network
model_path = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
d = pfam_loader.load_rotation('data/course_scale', 0, 'C')
rng = np.random.default_rng(0)
idx = rng.choice(len(d['ins_valid']), n, replace=False)
ins, outs = d['ins_valid'][idx], d['outs_valid'][idx, 0]
model = network.load_model(model_path)
p = network.predict_probabilities(model, ins, batch=128)
pred = p.argmax(1); ok = pred == outs
L = pfam_loader.sequence_lengths(ins)
print('accuracy', ok.mean())
for lo, hi in [(0, 150), (150, 250), (250, 400), (400, 700), (700, 1200), (1200, 4000)]:
    m = (L >= lo) & (L < hi)
    print(f'len {lo:5d}-{hi:5d}: n={m.sum():5d} acc={ok[m].mean():.4f}')
names = d['out_index_word']
c = collections.Counter(); t = collections.Counter()
for y, k in zip(outs, ok):
    t[y] += 1; c[y] += (not k)
worst = sorted(t, key=lambda y: -c[y] / t[y])[:12]
conf = collections.Counter(zip(outs[~ok], pred[~ok]))
for y in worst:
    print(f'{names[y]:10s} n={t[y]:4d} err={c[y]/t[y]:.3f}')
print('top confusions', [(names[a], names[b], k) for (a, b), k in conf.most_common(10)])
