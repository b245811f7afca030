"""The `paper` profile's cost per chapter, extrapolated from the chapters' run records (`minfo.harness.paper_cost`).

Every experiment chapter records the work it measured (units, compute seconds and FLOPs per kind: critic steps,
encoder images, ...) and the work its `paper` profile would do of the same kinds. This divides each kind's paper
FLOPs by the FLOP rate measured for that kind, on the device the chapter ran on. A chapter that ran at `paper`
gives its measured compute time instead. With `--peak-tflops` every chapter also gets the time at that peak: a lower
bound (default: an H200's dense fp32 peak, the precision the chapters train in by default).

    .venv/bin/python bench/paper_cost.py [--results DIR] [--peak-tflops 67] [--peak-name "H200 fp32 peak"] [--json PATH]

It reads the run records in DIR/runs (default: $MINFO_RESULTS, else ~/.cache/minfo/results), written by the chapters
(`make book`, or papermill at any profile on any device). It trains nothing.
"""
import argparse
import sys

from minfo.harness import format_duration, get_results_dir, load_runs, paper_cost, paper_cost_table
from minfo.utils import atomic_write_json

H200_FP32_DENSE_TFLOPS = 67.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=None, help="results folder holding runs/*.json")
    ap.add_argument("--peak-tflops", type=float, default=H200_FP32_DENSE_TFLOPS, help="reference peak for the lower bound (0: none)")
    ap.add_argument("--peak-name", default="H200 fp32 peak")
    ap.add_argument("--json", default=None, help="also write the per-chapter figures here")
    args = ap.parse_args(argv)
    folder = get_results_dir(args.results)
    runs = load_runs(folder)
    if not runs:
        msg = f"no run records in {folder / 'runs'}: run the chapters first (make book, or papermill at any profile)"
        if args.results is not None: sys.exit(msg)   # a folder named on purpose holds none: an error
        print(msg + "; nothing to extrapolate"); return   # `make bench` before any book: nothing to do yet
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    costs = [paper_cost(r, peak) for r in runs]
    print(f"run records: {folder / 'runs'} ({len(runs)} chapters)\n")
    print(paper_cost_table(runs, peak, args.peak_name))
    known = [c for c in costs if c["high"] is not None]
    silent = [c["chapter"] for c in costs if c["paper_flops"] is None and c["basis"] != "measured"]
    print(f"\n{len(known)} chapter(s) with a paper-profile time: {format_duration(sum(c['low'] for c in known))} to "
          f"{format_duration(sum(c['high'] for c in known))} in all" + (f"; no declared paper work: {', '.join(silent)}" if silent else ""))
    if args.json:
        atomic_write_json(args.json, dict(results=str(folder), peak_flops=peak, peak_name=args.peak_name, chapters=costs))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
