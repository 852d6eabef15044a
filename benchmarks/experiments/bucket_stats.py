"""Issue 27: what length bucketing buys and what it does to a batch's class mix, without training.

    python benchmarks/experiments/bucket_stats.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz --maxlen 128 256 512

For the tutorial's training documents (token counts from the model's tokenizer, truncated at each
maxlen), over three epochs of tfclf's batch orders (batch 8): the tokens computed per real token
(padding included) and the mean share of a batch taken by its most common class, for random
batches (bucket window 1) and for each bucket window, sorted by exact length (`tfclf.data.BUCKET_BY`
= "length") and by padded width ("width"). Prints a table; no TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--windows", type=int, nargs="+", default=[1, 8, 50])
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args()

    import numpy as np
    from tokenizers import Tokenizer

    import tfclf.data as data

    train, _ = bc.load_data(args.archive)
    tok = Tokenizer.from_file(str(Path(args.model) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    full = np.array([len(e.ids) for e in tok.encode_batch(list(train.texts))])
    y = np.asarray(train.target)
    k = int(y.max()) + 1
    print(f"{len(full)} documents, median {int(np.median(full))} tokens; "
          + ", ".join(f"{np.mean(full > m):.1%} longer than {m}" for m in args.maxlen))
    print("| maxlen | bucket window (batches) | sorted by | tokens computed per real token "
          "| most common class's share of a batch |")
    print("|---|---|---|---|---|")
    saved = data.BUCKET_WINDOW, data.BUCKET_BY
    try:
        for maxlen in args.maxlen:
            lengths = np.minimum(full, maxlen)
            ds = data.TextDataset([[0] * int(n) for n in lengths], y, maxlen=maxlen)
            for window, by in [(w, b) for w in args.windows for b in ("length", "width") if w > 1 or b == "length"]:
                data.BUCKET_WINDOW, data.BUCKET_BY = window, by
                computed, share = [], []
                for epoch in range(3):
                    batches = ds.batch_order(args.batch_size, shuffle=True, seed=42, epoch=epoch)
                    computed.append(sum(data.padded_length(int(lengths[b].max()), maxlen) * len(b) for b in batches))
                    share.append(np.mean([np.bincount(y[b], minlength=k).max() / len(b) for b in batches]))
                print(f"| {maxlen} | {window}{' (random batches)' if window == 1 else ''} | "
                      f"{'-' if window == 1 else by} | {np.mean(computed) / lengths.sum():.3f} | {np.mean(share):.3f} |")
    finally:
        data.BUCKET_WINDOW, data.BUCKET_BY = saved


if __name__ == "__main__":
    main()
