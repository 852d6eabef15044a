"""Streaming prediction over a corpus larger than one wants in memory (issue 9).

Writes N documents (the 20 Newsgroups test set repeated) as JSON lines, then runs
`Predictor.predict_file` on them while a thread samples the process's resident memory once a
second, so the JSON shows memory staying flat from the first chunk to the last.

    python benchmarks/experiments/predict_file.py --predictor benchmarks/work/quick-mixed_bfloat16 \
        --archive ../shared/data/20news-bydate.tar.gz --docs 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--predictor", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--chunk-size", type=int, default=1024)
    p.add_argument("--work", default=str(HERE.parent / "work" / "predict_file"))
    p.add_argument("--output", default=str(bc.RESULTS / "predict_file.json"))
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    _, test = bc.load_data(args.archive)
    src = work / "corpus.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for i in range(args.docs):
            f.write(json.dumps({"id": i, "text": test.texts[i % len(test.texts)]}) + "\n")

    import tfclf

    baseline = rss_mb()
    t0 = time.perf_counter()
    predictor = tfclf.load_predictor(args.predictor)
    load_s = time.perf_counter() - t0
    after_load = rss_mb()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        start = time.perf_counter()
        while not stop.is_set():
            samples.append((round(time.perf_counter() - start, 1), round(rss_mb(), 1)))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = work / "predictions.jsonl"
    summary = predictor.predict_file(src, out, chunk_size=args.chunk_size)
    stop.set()
    sampler.join()
    values = [v for _, v in samples]
    tenth = max(1, len(values) // 10)
    result = {
        "docs": summary["documents"], "seconds": summary["seconds"], "docs_per_s": summary["docs_per_s"],
        "chunk_size": args.chunk_size, "predictor": args.predictor,
        "maxlen": predictor.preproc.maxlen, "batch_size": predictor.batch_size,
        "input_mb": round(src.stat().st_size / 2**20, 1), "output_mb": round(out.stat().st_size / 2**20, 1),
        "rss_mb_before_load": round(baseline, 1), "rss_mb_after_load": round(after_load, 1), "load_s": round(load_s, 2),
        "rss_mb_peak": round(max(values), 1), "rss_mb_first_tenth_max": round(max(values[:tenth]), 1),
        "rss_mb_last_tenth_max": round(max(values[-tenth:]), 1), "peak_rss_mb_getrusage": round(bc.peak_rss_mb(), 1),
        "rss_timeline": samples[:: max(1, len(samples) // 60)],
        "command": " ".join(sys.argv), "machine": bc.machine(),
        "versions": bc.package_versions("tensorflow", "tf-keras", "transformers"),
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_timeline"}, indent=2))


if __name__ == "__main__":
    main()
