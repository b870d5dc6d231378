#!/usr/bin/env python3
"""The Python recorder's cost: examples/pytorch/train.py at the bench model's
size (4 layers, width 256, 4 heads, sequence 256, vocab 8192, batch 4; about
5.3 M parameters), with and without --record, interleaved over rounds; a
run's figure is its median step (step 1 left out). Results: bench/README.md.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/recorder_overhead.py --rounds 3
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


def timing(steps, threads, record):
    """(median step ms, median ms inside Recorder.step) of one run."""
    cmd = [sys.executable, EXAMPLE, "--steps", str(steps), "--threads", str(threads), "--timing", *MODEL]
    if record:
        cmd += ["--record", record]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    words = next(line.split() for line in out.splitlines() if line.startswith("median_step_ms"))
    return float(words[1]), float(words[3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    without, with_rec, inside = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            without.append(timing(args.steps, args.threads, None)[0])
            step, rec = timing(args.steps, args.threads, os.path.join(tmp, f"r{r}.jsonl"))
            with_rec.append(step)
            inside.append(rec)
            print(f"round {r + 1}: without {without[-1]:.1f} ms, with {step:.1f} ms (of which Recorder.step "
                  f"{rec:.2f} ms)", file=sys.stderr)
    a, b, c = statistics.median(without), statistics.median(with_rec), statistics.median(inside)
    print(f"median step: without the recorder {a:.1f} ms, with it {b:.1f} ms ({100 * (b / a - 1):+.2f}%); "
          f"inside Recorder.step {c:.2f} ms = {100 * c / (b - c):.2f}% of the rest of the step")


if __name__ == "__main__":
    main()
