"""Does length bucketing cost accuracy? 1 epoch of fit_onecycle(5e-5) at maxlen 128, batch 8, seed 42,
with tfclf.data.BUCKET_WINDOW set to argv[1] (1 = random batches). Usage:
    python benchmarks/experiments/bucket_window.py WINDOW [ARCHIVE] [MODEL_DIR]
"""
import sys, time, numpy as np, tfclf, tfclf.data as D
from tfclf import text
from tfclf.datasets import NEWSGROUPS_TUTORIAL_CATEGORIES as C, load_20newsgroups
A=sys.argv[2] if len(sys.argv) > 2 else '../shared/data/20news-bydate.tar.gz'
tr=load_20newsgroups('train',categories=C,archive=A); te=load_20newsgroups('test',categories=C,archive=A)
D.BUCKET_WINDOW = int(sys.argv[1])
tfclf.set_seed(42)
t=text.Transformer((sys.argv[3] if len(sys.argv) > 3 else '../shared/models/all-MiniLM-L6-v2'),maxlen=128,class_names=tr.class_names)
trn=t.preprocess_train(tr.texts,tr.labels,verbose=0); val=t.preprocess_test(te.texts,te.labels,verbose=0)
l=tfclf.get_learner(t.get_classifier(),trn,val,batch_size=8,seed=42)
t0=time.time(); l.fit_onecycle(5e-5,1,verbose=0); cm=l.validate(print_report=False)
print("window", D.BUCKET_WINDOW, "acc", round(np.trace(cm)/cm.sum(),4), "train_s", round(time.time()-t0,1), flush=True)
