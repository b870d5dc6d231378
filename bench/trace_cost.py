#!/usr/bin/env python3
"""The cost of tracing one PyTorch step (python/lockstep/trace.py), as
`lockstep bisect steps` does it: examples/pytorch/train.py at the bench
model's size (4 layers, width 256, 4 heads, sequence 256, vocab 8192, batch
4; 5.3 M parameters, one process), step 4 of 6 traced with digests only
(LOCKSTEP_TRACE_VALUES=none) and with every value kept (all). The traced
step is compared with the median of the untraced steps 2, 3, 5, 6 of the
same run; rounds alternate the two modes. Results: bench/README.md.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/trace_cost.py --rounds 3
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "pytorch", "train.py")
MODEL = ["--n-layer", "4", "--n-embd", "256", "--n-head", "4", "--seq-len", "256", "--vocab-size", "8192",
         "--global-batch", "4"]
STEPS, TRACED = 6, 4


def run(values, trace_dir, threads):
    """(traced step ms, median untraced step ms, trace bytes) of one run."""
    env = dict(os.environ, LOCKSTEP_TRACE_STEP=str(TRACED), LOCKSTEP_TRACE_DIR=trace_dir,
               LOCKSTEP_TRACE_VALUES=values)
    cmd = [sys.executable, EXAMPLE, "--steps", str(STEPS), "--threads", str(threads), "--timing",
           "--record", os.path.join(trace_dir + ".jsonl"), *MODEL]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
    ms = [float(x) for x in next(l for l in out.splitlines() if l.startswith("step_ms")).split()[1:]]
    others = [ms[i - 1] for i in range(2, STEPS + 1) if i != TRACED]
    size = sum(os.path.getsize(os.path.join(trace_dir, f)) for f in os.listdir(trace_dir))
    return ms[TRACED - 1], statistics.median(others), size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    results = {"none": [], "all": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for values in ("none", "all"):
                traced, plain, size = run(values, os.path.join(tmp, f"{values}{r}"), args.threads)
                results[values].append((traced, plain, size))
                print(f"round {r + 1} values={values}: traced step {traced:.1f} ms, untraced median "
                      f"{plain:.1f} ms, trace {size / 1e6:.2f} MB", file=sys.stderr)
    for values, rows in results.items():
        traced = statistics.median(t for t, _, _ in rows)
        plain = statistics.median(p for _, p, _ in rows)
        ratio = statistics.median(t / p for t, p, _ in rows)
        print(f"values={values}: traced step {traced:.1f} ms, untraced step {plain:.1f} ms, "
              f"ratio {ratio:.2f} (median of per-run ratios), trace {rows[0][2] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
