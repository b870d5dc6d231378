#!/usr/bin/env python3
"""lockstep vs PyTorch on the same model, run alternately, medians printed.

Each round runs `lockstep train` on trainer/configs/bench.toml in the openblas
and portable profiles and the PyTorch reference (bench/torch_reference.py) on
the same config, at the same thread count. A run's speed is its median step
time without step 1 (warm-up). Prints per-round figures, then medians, the
ratios, and the model FLOP utilisation against a measured sgemm peak.

  /usr/bin/python3 bench/compare_torch.py --lockstep build/release/cli/lockstep --threads 1
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def lockstep_run(binary, profile, threads, steps, workdir):
    record = os.path.join(workdir, f"{profile}.jsonl")
    subprocess.run([binary, "train", "--config", os.path.join(ROOT, "trainer/configs/bench.toml"),
                    "--set", f"numerics.profile={profile}", "--set", f"numerics.threads={threads}",
                    "--set", f"train.steps={steps}", "-q", "--record", record], check=True)
    lines = [json.loads(l) for l in open(record)]
    header, steps = lines[0], lines[1:]
    times = sorted(s["step_ms"] for s in steps[1:])
    median_ms = times[len(times) // 2]
    return header, steps[0]["tokens"] * 1000.0 / median_ms


def torch_run(python, config_json, seq_len, threads, steps):
    out = subprocess.run([python, os.path.join(HERE, "torch_reference.py"), "--threads", str(threads),
                          "bench", "--config-json", config_json, "--seq-len", str(seq_len),
                          "--steps", str(steps)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["tokens_per_s"]


def flops_per_token(cfg, seq_len):
    m = cfg["model"]
    L, C, V = m["n_layer"], m["n_embd"], m["vocab_size"]
    n = 12 * L * C * C + V * C  # weights touched per token (blocks + tied head)
    return 6 * n + 12 * L * C * seq_len  # forward + backward, plus attention


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True, help="path to the lockstep binary")
    ap.add_argument("--python", default="/usr/bin/python3", help="a python3 that imports torch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--sgemm-peak", type=float, default=0.0,
                    help="GFLOP/s of sgemm on this machine (trainer_bench BM_SgemmOpenBlasPeak)")
    args = ap.parse_args()

    results = {"openblas": [], "portable": [], "torch": []}
    with tempfile.TemporaryDirectory() as work:
        header = None
        for r in range(args.rounds):
            header, ob = lockstep_run(args.lockstep, "openblas", args.threads, args.steps, work)
            cfg_path = os.path.join(work, "config.json")
            json.dump(header["config"], open(cfg_path, "w"))
            seq_len = header["config"]["data"]["seq_len"]
            th = torch_run(args.python, cfg_path, seq_len, args.threads, args.steps)
            _, po = lockstep_run(args.lockstep, "portable", args.threads, args.steps, work)
            for k, v in (("openblas", ob), ("portable", po), ("torch", th)):
                results[k].append(v)
            print(f"round {r + 1}: lockstep openblas {ob:7.0f} tok/s  portable {po:7.0f} tok/s  "
                  f"torch {th:7.0f} tok/s", flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    fpt = flops_per_token(header["config"], header["config"]["data"]["seq_len"])
    print(f"\nmedians over {args.rounds} rounds, {args.threads} thread(s), "
          f"{header['params']} parameters, {fpt / 1e6:.1f} MFLOP per token:")
    for k in ("openblas", "portable", "torch"):
        gflops = med[k] * fpt / 1e9
        util = f"  {100 * gflops / args.sgemm_peak:4.1f}% of sgemm peak" if args.sgemm_peak else ""
        print(f"  {k:9s} {med[k]:8.0f} tokens/s  {gflops:6.1f} GFLOP/s{util}")
    print(f"  lockstep openblas / torch    = {med['openblas'] / med['torch']:.2f}")
    print(f"  lockstep portable / openblas = {med['portable'] / med['openblas']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
