"""Test errors of a finished course-scale run by sequence length, from its result pickle's
predictions (rotation 0; no model is run):
    python test_errors_by_length.py RESULTS.pkl      (from the repository root)"""
import sys
import numpy as np
import pandas as pd
sys.path.insert(0, ".")
import pfam_loader

result = pfam_loader.load_pickle(open(sys.argv[1], 'rb'))
names = np.asarray(result['class_names'])
truth = result['outs_test'][:, 0]
wrong = result['predict_test_top']['classes'][:, 0] != truth
test_fold = pfam_loader.rotation_folds(0)[2]
lengths = pd.read_csv(pfam_loader.fold_path('data/course_scale', test_fold, 'C'))['string'].str.len()
table = pd.DataFrame({'length': pd.cut(lengths, [0, 150, 300, 600, 1200, 4000]), 'wrong': wrong,
                      'family': np.where(np.isin(names[truth], ['PF00560.33', 'PF00400.32']),
                                         'LRR + WD40', 'other 44')})
print(table.pivot_table(index='length', columns='family', values='wrong', observed=True,
                        aggfunc=['count', 'mean']).round(4).to_string())
