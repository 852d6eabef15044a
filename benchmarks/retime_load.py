"""Re-times a finished run's predictor reload (import / load / first predict / cold start) in a
fresh process and updates that run's JSON, for results written before bench_common.load_timings
split the reload into its parts. The saved predictor is the run's own (`--work`/SYSTEM-CONFIG).

    python benchmarks/retime_load.py --system ktrain --config standard \
        --python benchmarks/.venv-ktrain/bin/python
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import bench_common as bc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=["tfclf", "ktrain"], required=True)
    parser.add_argument("--config", default="standard")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with the system installed")
    parser.add_argument("--archive", default=os.environ.get("TFCLF_20NG_ARCHIVE"), help="20news-bydate.tar.gz (for the document predicted)")
    parser.add_argument("--work", default=str(bc.HERE / "work"))
    args = parser.parse_args()
    path = bc.RESULTS / f"{args.system}-{args.config}.json"
    record = json.loads(path.read_text())
    folder = Path(args.work) / f"{args.system}-{args.config}"
    _, test = bc.load_data(args.archive)
    precision = record.get("precision", "auto")
    load = bc.load_timings(*bc.load_code(args.system, folder, test.texts[0], precision), python=args.python,
                           env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    record.update({"load_s": load["load_s"], "cold_start_s": load["cold_start_s"], "load_timings": load,
                   "load_retimed": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(load))


if __name__ == "__main__":
    main()
