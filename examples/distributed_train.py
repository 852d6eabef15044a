"""Fine-tune on the 20 Newsgroups tutorial under a tf.distribute strategy (README, "Scaling out").

Run the same command on every worker, each with its own TF_CONFIG; with ``--strategy mirrored`` it
uses every GPU of one machine (or, with ``--logical-cpus N`` on a CPU-only machine, N logical CPU
devices, to try it out). The batch size is global: each optimizer step sees that many documents,
summed over all replicas.

    # two workers on one machine, on loopback ports (the run benchmarks/RESULTS.md records):
    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:23456", "127.0.0.1:23457"]}, "task": {"type": "worker", "index": 0}}' \
        python examples/distributed_train.py --strategy multiworker --model MODEL_DIR --limit 64 --output OUT &
    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:23456", "127.0.0.1:23457"]}, "task": {"type": "worker", "index": 1}}' \
        python examples/distributed_train.py --strategy multiworker --model MODEL_DIR --limit 64 --output OUT
"""

from __future__ import annotations

import argparse
import json
import os
import time

import tfclf  # sets TF_USE_LEGACY_KERAS before TensorFlow loads


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategy", choices=["none", "mirrored", "multiworker"], default="multiworker")
    p.add_argument("--logical-cpus", type=int, default=0,
                   help="mirrored on a CPU-only machine: split the CPU into this many logical devices")
    p.add_argument("--model", default="distilbert-base-uncased")
    p.add_argument("--archive", default=os.environ.get("TFCLF_20NG_ARCHIVE"),
                   help="20news-bydate.tar.gz (default: scikit-learn's cache or download)")
    p.add_argument("--limit", type=int, help="the first N train and test documents")
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16, help="the global batch")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--output", default="saved_predictors/20ng-distributed")
    return p.parse_args()


def make_strategy(args):
    from tfclf._compat import tf

    if args.strategy == "multiworker":
        # First thing: it sets up the collective ops before any other TensorFlow work.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if args.strategy == "mirrored":
        if args.logical_cpus:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)
            return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(args.logical_cpus)])
        return tf.distribute.MirroredStrategy()
    return None


def main() -> None:
    args = parse()
    strategy = make_strategy(args)
    from tfclf import text
    from tfclf.datasets import NEWSGROUPS_TUTORIAL_CATEGORIES, load_20newsgroups
    from tfclf.distribute import is_chief

    train = load_20newsgroups("train", categories=NEWSGROUPS_TUTORIAL_CATEGORIES, archive=args.archive)
    test = load_20newsgroups("test", categories=NEWSGROUPS_TUTORIAL_CATEGORIES, archive=args.archive)
    x_train, y_train, x_test, y_test = train.texts, train.labels, test.texts, test.labels
    if args.limit:
        x_train, y_train, x_test, y_test = x_train[:args.limit], y_train[:args.limit], x_test[:args.limit], y_test[:args.limit]

    t = text.Transformer(args.model, maxlen=args.maxlen, class_names=train.class_names)
    trn = t.preprocess_train(x_train, y_train, verbose=0)
    val = t.preprocess_test(x_test, y_test, verbose=0)
    tfclf.set_seed(0)  # every worker starts from the same head
    learner = tfclf.get_learner(t.get_classifier(strategy=strategy), trn, val, batch_size=args.batch_size,
                                seed=0, strategy=strategy)
    started = time.perf_counter()
    learner.fit_onecycle(args.lr, args.epochs, verbose=2 if is_chief() else 0)
    report = {
        "replicas": int(strategy.num_replicas_in_sync) if strategy is not None else 1,
        "chief": is_chief(),
        "global_batch": args.batch_size,
        "steps": len(learner.recorder.lrs),
        "train_s": round(time.perf_counter() - started, 1),
        **{k: round(float(v), 4) for k, v in learner.metrics().items() if isinstance(v, float)},
    }
    if is_chief():  # one writer: the other workers would race it for the same folder
        tfclf.get_predictor(learner.model, t).save(args.output)
        report["saved"] = args.output
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
