"""Training-step and prediction speed of float32 vs mixed_bfloat16 (and XLA) on this machine.

    python benchmarks/experiments/precision_speed.py [MODEL_DIR] [ARCHIVE]

MiniLM on real 20 Newsgroups documents, batch 8, maxlen 128 and 256: the median time of a
training step (after warm-up) and prediction docs/s over 256 test documents. Writes
results/precision_speed.json.
"""
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import tfclf
from tfclf import text
from tfclf.datasets import NEWSGROUPS_TUTORIAL_CATEGORIES as CATS, load_20newsgroups

HERE = Path(__file__).resolve().parents[1]
MODEL = sys.argv[1] if len(sys.argv) > 1 else str(HERE.parent.parent / "shared/models/all-MiniLM-L6-v2")
ARCHIVE = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("TFCLF_20NG_ARCHIVE")
tr = load_20newsgroups("train", categories=CATS, archive=ARCHIVE)
te = load_20newsgroups("test", categories=CATS, archive=ARCHIVE)
rows = []
for maxlen in (128, 256):
    for precision, jit in (("float32", False), ("mixed_bfloat16", False), ("mixed_bfloat16", True)):
        tfclf.set_seed(0)
        t = text.Transformer(MODEL, maxlen=maxlen, class_names=tr.class_names, precision=precision)
        trn = t.preprocess_train(tr.texts[:400], tr.labels[:400], verbose=0)
        model = t.get_classifier()
        if jit:
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
        # full-length batches only, so every configuration runs the same shapes
        full = np.flatnonzero(trn.lengths >= maxlen)[:8 * 12]
        batches = [trn.pad_batch(full[i:i + 8]) for i in range(0, len(full), 8)]
        y = trn.targets[full]
        times = []
        for k, (ids, mask) in enumerate(batches):
            t0 = time.perf_counter()
            model.train_on_batch({"input_ids": ids, "attention_mask": mask}, y[8 * k:8 * k + 8])
            times.append(time.perf_counter() - t0)
        step = statistics.median(times[3:])
        pred = tfclf.get_predictor(model, t, batch_size=32)
        pred.predict(te.texts[:32])
        t0 = time.perf_counter()
        pred.predict(te.texts[:256])
        docs = 256 / (time.perf_counter() - t0)
        row = {"maxlen": maxlen, "precision": precision, "jit_compile": jit, "train_step_s": round(step, 3),
               "train_tokens_per_s": round(8 * maxlen / step, 1), "predict_docs_per_s": round(docs, 1)}
        print(row, flush=True)
        rows.append(row)
out = HERE / "results" / "precision_speed.json"
out.write_text(json.dumps({"model": MODEL, "batch_size": 8, "rows": rows}, indent=2) + "\n")
print("wrote", out)
