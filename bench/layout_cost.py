#!/usr/bin/env python3
"""What the per-sequence reduction costs: step time and tracked peak memory
per rank of two lockstep builds, side by side, on the bench config.

For each layout (ranks x micro_batch) and each round, runs build A, then
build B, each `--steps` steps; a run's step time is its median step without
step 1. Prints, per layout, the median over rounds of each build, their
ratio B / A, and each build's tracked peak (rank 0's record). A layout a
build refuses (exit 2) is shown as "refused".

  /usr/bin/python3 bench/layout_cost.py --a OLD/lockstep --b build/release/cli/lockstep
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "..", "trainer", "configs", "bench.toml")


def run(binary, ranks, micro_batch, steps, record):
    command = [binary, "train", "--config", CONFIG, "--set", f"train.steps={steps}",
               "--set", f"train.micro_batch={micro_batch}", "-q", "--record", record]
    if ranks > 1:
        command = ["mpirun", "-np", str(ranks), "--oversubscribe"] + (
            ["--allow-run-as-root"] if os.getuid() == 0 else []) + command
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 2:
        return None
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    steps = [json.loads(line) for line in open(record)][1:]
    return statistics.median(s["step_ms"] for s in steps[1:]), steps[-1]["mem_peak_bytes"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="the lockstep binary to compare against")
    parser.add_argument("--b", required=True, help="the lockstep binary under test")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--layouts", default="1x1,1x2,1x4,2x1,2x2,2x4",
                        help="RANKSxMICRO_BATCH, comma-separated")
    args = parser.parse_args()
    layouts = [tuple(int(x) for x in l.split("x")) for l in args.layouts.split(",")]
    times = {(l, b): [] for l in layouts for b in "ab"}
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for layout in layouts:
                for name, binary in (("a", args.a), ("b", args.b)):
                    got = run(binary, *layout, args.steps, os.path.join(tmp, "r.jsonl"))
                    if got is not None:
                        times[(layout, name)].append(got[0])
                        peaks[(layout, name)] = got[1]
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print("| ranks | micro_batch | A step | B step | B / A | A peak/rank | B peak/rank |")
    print("|---|---|---|---|---|---|---|")
    for layout in layouts:
        a, b = (times[(layout, n)] for n in "ab")
        cell = lambda t: f"{statistics.median(t):.0f} ms" if t else "refused"
        ratio = f"{statistics.median(b) / statistics.median(a):.3f}" if a and b else "-"
        mib = lambda n: f"{peaks[(layout, n)] / 2**20:.1f} MiB" if (layout, n) in peaks else "-"
        print(f"| {layout[0]} | {layout[1]} | {cell(a)} | {cell(b)} | {ratio} | {mib('a')} | "
              f"{mib('b')} |")


if __name__ == "__main__":
    main()
