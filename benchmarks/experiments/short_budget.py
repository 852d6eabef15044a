"""Short budgets (issue 27): each lever's effect on test accuracy at 1, 2 and 4 epochs, one lever at
a time on top of today's defaults, over several seeds.

    python benchmarks/experiments/short_budget.py --levers default random_batches ktrain_schedule \
        --maxlen 128 --epochs 1 2 --seeds 42 43 44 \
        --model ../shared/models/all-MiniLM-L6-v2 --archive ../shared/data/20news-bydate.tar.gz

Every (lever, maxlen, epochs, seed) is one `accuracy.py` run in a fresh process (fit_onecycle(5e-5),
batch 8, the library's default pooling and precision), kept as JSON in
benchmarks/results/short_budget/ (committed: a machine's uncommitted work folder does not outlive
its session) so that a rerun skips what finished; one training at a time. The table (mean ± std of the test
accuracy over the seeds, and the mean difference from "default" at the same maxlen, epochs and
seeds) is rewritten to results/short_budget.json after every run; `--markdown` prints it as the
issue's grid (a row per lever, a column per maxlen and budget) without running anything, with the
full-budget runs accuracy.py made under other names (`ACCURACY_RUNS`) beside them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402

# each lever: the accuracy.py arguments that change one thing from today's defaults
LEVERS = {
    "default": [],
    "random_batches": ["--bucket-window", "1"],  # no length bucketing: batches of random documents
    "always_bucket": ["--bucket-min-saving", "0"],  # bucketed even where it saves little (default before 2026-12-04)
    "width_buckets": ["--bucket-by", "width"],  # buckets by padded width, random order inside a width
    "ktrain_schedule": ["--schedule", "ktrain"],  # ktrain's linear triangle: lr/10 up to lr, down towards lr/1000
    "no_momentum_cycle": ["--no-cycle-momentum"],  # Adam's beta_1 fixed at 0.9
    # pooling: every run passes --pooling auto, tfclf's default. Until commit 55b680e "auto" on
    # ../shared's MiniLM folder (no sentence-transformers files) was "cls", so the default@head rows
    # before it are the [CLS] pooler and cls_pooling repeated them bit for bit; since then "auto" is
    # "mean" there (its [CLS] pooler was never trained), as it always was for the same model from the
    # hub or `tfclf models install`, and mean_pooling repeats the default
    # Rows tagged s9 are for the library of commit 72e030a or later (its code unchanged to 407be22):
    # "auto" = mean pooling on that folder, and Adam's update in one pass of TensorFlow's kernel
    "cls_pooling": ["--pooling", "cls"],  # the [CLS] vector, as ktrain's models read it
    "mean_pooling": ["--pooling", "mean"],
    "plain_ops": ["--plain-ops"],  # tfclf.fast_ops off: Keras' and transformers' own GELU, dropout, Adam update
    "float32": ["--precision", "float32"],  # ktrain trains in float32; tfclf in bf16 where the CPU has it
}


# Full-budget runs that accuracy.py made under their own names (issues 10 and 26) before this script
# covered 4 epochs: (row, maxlen, epochs) -> their files in results/accuracy/. The same
# fit_onecycle(5e-5) at batch 8 on the same documents; the tag says which library.
ACCURACY_RUNS = {
    ("default@s9", 256, 4): ["mean256_kernel", "mean256_kernel_s43", "mean256_kernel_s44"],
    ("plain_ops@head", 256, 4): ["mean256_plainops", "mean256_plainops_s43", "mean256_plainops_s44"],
    # the library of 2026-12-01 (before fast_ops; bf16 on an AMD EPYC): the [CLS] pooler, as "auto" was then
    ("cls_pooling@i10", 256, 4): ["head256"],
}


# Cells where the default of a tag's library was not run under that tag, and the runs that stand in for
# it: (tag, maxlen, epochs) -> row. mean_pooling@head is today's default at 128 tokens (mean pooling,
# no bucketing there) before Adam's update moved to TensorFlow's kernel: the same formula, float
# rounding apart (RESULTS.md, "Maxlen 256 at one and two epochs", footnote 1).
DEFAULT_STAND_INS = {
    ("s9", 128, 1): "mean_pooling@head",
    ("s9", 128, 2): "mean_pooling@head",
}


def run_name(lever: str, maxlen: int, epochs: int, seed: int, tag: str | None = None) -> str:
    return f"{lever}{'@' + tag if tag else ''}-L{maxlen}-E{epochs}-S{seed}"


def _mean_time(runs: list[dict]) -> float | None:
    """Mean training time over the runs that know theirs (a record rebuilt after its JSON was lost
    keeps its accuracy but not its time: see its "reconstructed" field)."""
    times = [r["train_s"] for r in runs if r.get("train_s") is not None]
    return round(statistics.fmean(times), 1) if times else None


def table(work: Path, accuracy_runs: Path | None = None) -> list[dict]:
    """Mean ± std per (lever, maxlen, epochs) from every finished run in `work`, and from the
    `ACCURACY_RUNS` files in `accuracy_runs` (results/accuracy) where that folder is given."""
    groups: dict[tuple, list[dict]] = {}
    for f in sorted(work.glob("*.json")):
        record = json.loads(f.read_text())
        if not record.get("runs"):
            continue
        lever, maxlen, epochs, _ = f.stem.rsplit("-", 3)  # run_name's form
        groups.setdefault((lever, int(maxlen[1:]), int(epochs[1:])), []).append(record["runs"][0])
    for key, names in ACCURACY_RUNS.items() if accuracy_runs else ():
        for name in names:
            f = accuracy_runs / f"{name}.json"
            if not f.is_file():
                continue
            have = {r["seed"] for r in groups.get(key, [])}  # a run of this script wins over its twin
            groups.setdefault(key, []).extend(r for r in json.loads(f.read_text())["runs"] if r["seed"] not in have)
    rows = []
    for (lever, maxlen, epochs), runs in sorted(groups.items()):
        acc = [r["test_accuracy"] for r in runs]
        rows.append({"lever": lever, "maxlen": maxlen, "epochs": epochs, "seeds": sorted(r["seed"] for r in runs),
                     "accuracy_mean": round(statistics.fmean(acc), 5),
                     "accuracy_std": round(statistics.stdev(acc), 5) if len(acc) > 1 else None,
                     "train_s_mean": _mean_time(runs),
                     "by_seed": {r["seed"]: r["test_accuracy"] for r in runs}})
    # paired: against the default's runs with the same seeds (seed noise at one epoch is a point),
    # LEVER@TAG against default@TAG (the same library) where that exists, else against the cell's
    # DEFAULT_STAND_INS or nothing (never the untagged default: another library's, the [CLS] pooler);
    # the untagged levers against the untagged default; ktrain's own variants (ktrain+lr_find...)
    # against ktrain only
    base = {(r["lever"], r["maxlen"], r["epochs"]): r["by_seed"] for r in rows}
    for r in rows:
        ktrains = r["lever"].partition("+")[0] == "ktrain"
        tag = r["lever"].partition("@")[2]
        if not tag or r["lever"] == f"default@{tag}":
            default_name = "default"
        elif (f"default@{tag}", r["maxlen"], r["epochs"]) in base:
            default_name = f"default@{tag}"
        else:
            default_name = DEFAULT_STAND_INS.get((tag, r["maxlen"], r["epochs"]), "")
        default = {} if ktrains else base.get((default_name, r["maxlen"], r["epochs"]), {})
        shared = [s for s in r["by_seed"] if s in default]
        if shared:
            r["vs_default"] = round(statistics.fmean(r["by_seed"][s] - default[s] for s in shared), 5)
            if len(shared) > 1:
                r["vs_default_std"] = round(statistics.stdev(r["by_seed"][s] - default[s] for s in shared), 5)
            r["vs_default_seeds"] = sorted(shared)
            r["vs_default_of"] = default_name
        theirs = base.get(("ktrain", r["maxlen"], r["epochs"]), {})
        shared = [s for s in r["by_seed"] if s in theirs]
        if shared and r["lever"] != "ktrain":
            r["vs_ktrain"] = round(statistics.fmean(r["by_seed"][s] - theirs[s] for s in shared), 5)
            r["vs_ktrain_seeds"] = sorted(shared)
    for r in rows:
        del r["by_seed"]
    return rows


def _points(fraction: float) -> str:
    return f"{100 * fraction:+.2f}"


def markdown(rows: list[dict]) -> str:
    """The issue's table: one row per lever, one column per (maxlen, epochs); each cell the test
    accuracy's mean ± std over the seeds, with the paired difference from the row's default and
    from ktrain (points, over the seeds both have)."""
    cells = sorted({(r["maxlen"], r["epochs"]) for r in rows})
    levers = sorted({r["lever"] for r in rows},
                    key=lambda name: (name.partition("@")[0] != "default" and name.partition("+")[0] != "ktrain", name))
    found = {(r["lever"], r["maxlen"], r["epochs"]): r for r in rows}
    lines = ["| lever | " + " | ".join(f"maxlen {m}, {e} epoch{'s' * (e > 1)}" for m, e in cells) + " |",
             "|---|" + "---|" * len(cells)]
    for lever in levers:
        out = []
        for m, e in cells:
            r = found.get((lever, m, e))
            if r is None:
                out.append("")
                continue
            text = f"{100 * r['accuracy_mean']:.2f}"
            if r["accuracy_std"] is not None:
                text += f" ± {100 * r['accuracy_std']:.2f}"
            text += f" ({len(r['seeds'])})"
            if "vs_default" in r and r["lever"] != r["vs_default_of"]:
                text += f"; {_points(r['vs_default'])} vs {r['vs_default_of']}"
            if "vs_ktrain" in r:
                text += f"; {_points(r['vs_ktrain'])} vs ktrain"
            out.append(text)
        lines.append(f"| {lever} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def checkout() -> str:
    """The commit of the checkout this script runs from (the library its runs import, unless
    PYTHONPATH says otherwise), "-dirty" when it has uncommitted changes."""
    git = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty", "--abbrev=12"],
                         capture_output=True, text=True)
    return git.stdout.strip() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    p.add_argument("--maxlen", type=int, nargs="+", default=[128])
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--lr", default="5e-5")
    p.add_argument("--model", help="the pretrained model folder (required unless --markdown)")
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--limit", type=int, help="first N train and test documents (for trying the script)")
    p.add_argument("--tag", help="which library the runs used, when not the one the other rows used: "
                   "the rows become LEVER@TAG (e.g. default@head for today's library code, beside the "
                   "rows of a fixed older commit)")
    p.add_argument("--work", default=str(bc.RESULTS / "short_budget"))
    p.add_argument("--output", default=str(bc.RESULTS / "short_budget.json"))
    p.add_argument("--markdown", action="store_true", help="only print the table of finished runs as Markdown")
    args = p.parse_args()
    work = Path(args.work)
    accuracy_runs = bc.RESULTS / "accuracy"
    if args.markdown:
        print(markdown(table(work, accuracy_runs)))
        return
    if not args.model:
        sys.exit("pass --model (a pretrained model folder)")
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    work.mkdir(parents=True, exist_ok=True)
    # seeds outermost: every lever gets its first seed before any gets its third
    for seed in args.seeds:
        for epochs in args.epochs:
            for maxlen in args.maxlen:
                for lever in args.levers:
                    name = run_name(lever, maxlen, epochs, seed, args.tag)
                    out = work / f"{name}.json"
                    if out.is_file() and json.loads(out.read_text()).get("runs"):
                        continue
                    cmd = [sys.executable, str(HERE / "accuracy.py"), "--name", name, "--model", args.model,
                           "--archive", args.archive, "--maxlen", str(maxlen), "--epochs", str(epochs),
                           "--lr", args.lr, "--seeds", str(seed), "--pooling", "auto", "--output", str(out),
                           *LEVERS[lever], *(["--limit", str(args.limit)] if args.limit else [])]
                    print(" ".join(cmd), flush=True)
                    subprocess.run(cmd, check=True)
                    record = json.loads(out.read_text())
                    record["checkout"] = checkout()
                    out.write_text(json.dumps(record, indent=2) + "\n")
                    result = {"benchmark": "short_budget", "levers": {k: LEVERS[k] for k in args.levers},
                              "machine": bc.machine(), "rows": table(work, accuracy_runs)}
                    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(table(work, accuracy_runs)))


if __name__ == "__main__":
    main()
