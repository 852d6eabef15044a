"""Load benchmark for `tfclf serve`: N concurrent clients for M seconds against a saved predictor,
next to a one-request-at-a-time baseline, on the loopback interface only.

    python benchmarks/serve_load.py --predictor saved_predictors/20ng-minilm --clients 16 --seconds 30

Writes benchmarks/results/serve_load.json (or --output) and prints a Markdown table for
benchmarks/RESULTS.md, which is curated by topic, so nothing is appended to it. Every request loop
is bounded in count and time, and the server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TEXTS = [
    "The new graphics card renders 3D scenes with better shading.",
    "My doctor says the infection should clear up with antibiotics.",
    "The sermon on Sunday was about forgiveness and grace.",
    "There is no evidence for any god; belief needs evidence.",
    "Which file format keeps the most colour depth for scanned images?",
    "Chronic fatigue can follow a viral infection, studies suggest.",
]
MAX_REQUESTS_PER_CLIENT = 100_000  # a hard bound besides the time limit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(predictor: str, port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tfclf.cli", "serve", predictor, "--host", "127.0.0.1", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become healthy within 180 s")


def run_clients(port: int, clients: int, seconds: float, texts_per_request: int) -> dict:
    url = f"http://127.0.0.1:{port}/predict"
    latencies: list[float] = []
    errors = 0
    docs = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(k: int) -> None:
        nonlocal errors, docs
        with httpx.Client(timeout=60) as http:
            for i in range(MAX_REQUESTS_PER_CLIENT):
                if time.perf_counter() >= stop_at:
                    break
                body = {"texts": [TEXTS[(k + i + j) % len(TEXTS)] for j in range(texts_per_request)]}
                t0 = time.perf_counter()
                try:
                    ok = http.post(url, json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    errors += 0 if ok else 1
                    docs += texts_per_request if ok else 0

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "clients": clients, "seconds": round(wall, 2), "requests": len(latencies), "errors": errors,
        "requests_per_s": round(len(latencies) / wall, 2), "docs_per_s": round(docs / wall, 2),
        "latency_ms_p50": round(pct(0.50), 1), "latency_ms_p99": round(pct(0.99), 1),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", default="saved_predictors/20ng-minilm")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--output", default=str(HERE / "results" / "serve_load.json"))
    args = parser.parse_args()
    if not (Path(args.predictor) / "manifest.json").is_file():
        print(f"no predictor at {args.predictor}: run `make demo` first (it trains one on all-MiniLM-L6-v2)",
              file=sys.stderr)
        return 1

    results = {}
    for name, clients, extra in (("one request at a time", 1, ["--batch-wait-ms", "0", "--max-batch", "1"]),
                                 (f"{args.clients} concurrent clients, micro-batched", args.clients, [])):
        port = free_port()
        proc = start_server(args.predictor, port, extra)
        try:
            run_clients(port, clients, 3, args.texts_per_request)  # warm-up: traces the graph
            results[name] = run_clients(port, clients, args.seconds, args.texts_per_request)
            stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5)
            if stats.status_code == 200:
                results[name]["server_stats"] = stats.json()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(name, json.dumps(results[name]), flush=True)

    base, load = list(results.values())
    record = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
        "predictor": args.predictor, "texts_per_request": args.texts_per_request, "runs": results,
        "gain_docs_per_s": round(load["docs_per_s"] / base["docs_per_s"], 2) if base["docs_per_s"] else None,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(record, indent=2) + "\n")
    print(_table(record))
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _table(record: dict) -> str:
    lines = [
        f"Machine: {record['machine']['cpu']}, {record['machine']['cores']} cores. "
        f"Predictor: `{record['predictor']}`. {record['texts_per_request']} text(s) per request, loopback only.\n",
        "| run | requests/s | docs/s | p50 ms | p99 ms | errors | model calls |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in record["runs"].items():
        calls = r.get("server_stats", {}).get("batches", "?")
        lines.append(f"| {name} | {r['requests_per_s']} | {r['docs_per_s']} | {r['latency_ms_p50']} | "
                     f"{r['latency_ms_p99']} | {r['errors']} | {calls} |")
    lines.append(f"\nGain from micro-batching under load: {record['gain_docs_per_s']}x docs/s. "
                 f"Command: `{record['command']}`")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
