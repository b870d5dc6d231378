#!/usr/bin/env python3
"""The Python recorder and lockstep's data for PyTorch, end to end.

    python_recorder_test.py LOCKSTEP WORKDIR     (PYTHONPATH: build/<type>/python)

Runs examples/pytorch/train.py as a user would, gates it with `lockstep
smoke`, and plants each bug the gate exists for. Exit 77 (skipped) without
torch.
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import torch  # noqa: F401
except ImportError:
    print("python3-torch is not installed: skipped (ci/setup.sh installs it)")
    sys.exit(77)

import numpy as np

import lockstep

LOCKSTEP, WORK = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "pytorch", "train.py")
PYTHON = "/usr/bin/python3"
STEPS = 8
failures = []


def check(cond, what, detail=""):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)
        if detail:
            print("      " + detail.replace("\n", "\n      "))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, env=dict(os.environ), **kw)


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def deterministic(line):
    return {k: v for k, v in line.items() if k not in ("step_ms", "rss_peak_bytes", "env")}


def example_command(*extra, procs=1):
    return [PYTHON, EXAMPLE, "--nproc", str(procs), "--steps", str(STEPS), "--record", "/dev/stdout", *extra]


def case(name, command, checks=""):
    path = os.path.join(WORK, name + ".toml")
    with open(path, "w") as f:
        f.write(f"command = {json.dumps(command)}\nparser = \"jsonl\"\ngolden = \"{name}.golden.toml\"\n{checks}")
    return path


def smoke(path, *flags):
    return run([LOCKSTEP, "smoke", "-q", *flags, path])


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

# 1. Two runs of the example, one process: the same record in every deterministic field.
a, b = os.path.join(WORK, "a.jsonl"), os.path.join(WORK, "b.jsonl")
for path in (a, b):
    r = run([PYTHON, EXAMPLE, "--steps", str(STEPS), "--record", path])
    check(r.returncode == 0, f"example runs ({path})", r.stderr[-2000:])
ra, rb = records(a), records(b)
check(len(ra) == STEPS + 1 and ra[0]["type"] == "header", "header and one line per step")
check([deterministic(x) for x in ra[1:]] == [deterministic(x) for x in rb[1:]],
      "two runs: identical loss, grad_norm, lr, tokens, batch and parameter digests")
check(ra[0]["config_digest"] == rb[0]["config_digest"], "same config digest")
check(isinstance(ra[1]["loss"], str) and ra[1]["loss"].startswith("0x"), "the loss is an exact hex float")

# 2. Batch digests: the example's equal lockstep train's on the same data and batch.
t = os.path.join(WORK, "train.jsonl")
r = run([LOCKSTEP, "train", "-q", "--config", os.path.join(ROOT, "trainer/configs/smoke.toml"),
         "--set", f"train.steps={STEPS}", "--set", "eval.every=0", "--record", t])
check(r.returncode == 0, "lockstep train runs", r.stderr)
ours = [x["batch_digest"] for x in records(t)[1:]]
check(ours == [x["batch_digest"] for x in ra[1:]], "batch digests equal lockstep train's, step for step",
      f"lockstep {ours[:3]} python {[x['batch_digest'] for x in ra[1:4]]}")
data = lockstep.data.Data("embedded", global_batch=8)
check(data.batch_digest(3) == ours[2], "lockstep.data.batch_digest equals the trainer's")
shares = np.concatenate([data.rank_batch(3, rk, 3) for rk in range(3)])
check((shares == data.batch(3)).all(), "3 ranks' shares in rank order are the global batch")

# 3. golden show and golden diff read the recorder's record with lockstep's own.
r = run([LOCKSTEP, "golden", "show", a])
check(r.returncode == 0 and ra[1]["batch_digest"] in r.stdout, "golden show reads the record", r.stdout + r.stderr)
r = run([LOCKSTEP, "golden", "diff", t, a])
check(r.returncode == 2 and "config differs" in r.stdout and "5.574533" in r.stdout,
      "golden diff reads it beside lockstep's own record (another model: config differs)", r.stdout + r.stderr)

# 4. The gate: a golden from one run, the next run passes bit-exact.
plain = case("plain", example_command())
r = smoke(plain, "--update")
check(r.returncode == 0, "smoke --update records the golden", r.stdout + r.stderr)
r = smoke(plain)
check(r.returncode == 0 and f"bit-exact over {STEPS} steps" in r.stdout, "the gate passes bit-exact", r.stdout)


# The shipped case (examples/pytorch/smoke.toml), its golden in the work dir.
with open(os.path.join(ROOT, "examples", "pytorch", "smoke.toml")) as f:
    shipped = f.read().replace('"train.py"', json.dumps(EXAMPLE))
shipped_path = os.path.join(WORK, "shipped.toml")
with open(shipped_path, "w") as f:
    f.write(shipped)
r = smoke(shipped_path, "--update")
check(r.returncode == 0 and "loss_scale ok" in r.stdout, "the shipped case records its golden, loss_scale ok",
      r.stdout + r.stderr)
r = smoke(shipped_path)
check(r.returncode == 0 and "bit-exact over 20 steps" in r.stdout, "the shipped case passes bit-exact", r.stdout)


def against_golden(name, bug, procs=1, checks=""):
    shutil.copy(os.path.join(WORK, "plain.golden.toml"), os.path.join(WORK, name + ".golden.toml"))
    return smoke(case(name, example_command("--bug", bug, procs=procs), checks))


# 5. Planted bugs, each with its diagnosis.
r = against_golden("order", "data-order")
check(r.returncode == 1 and "diverged at step 3: the batch differs (data)" in r.stdout,
      "--bug data-order: data, at the swap's step", r.stdout)
r = against_golden("erf", "gelu-erf")
check(r.returncode == 1 and "diverged at step 1: same batch" in r.stdout and "(numerics)" in r.stdout,
      "--bug gelu-erf: numerics at step 1", r.stdout)

frozen = case("frozen", example_command("--bug", "bf16-master", "--track-params"),
              "[policy]\nloss = \"ignore\"\ngrad_norm = \"ignore\"\nparam_digest = \"ignore\"\n")
r = smoke(frozen, "--update")
check(r.returncode == 1 and "frozen" in r.stdout and "ln1.weight" in r.stdout,
      "--bug bf16-master: the frozen check names the norm weights", r.stdout)

# 6. Two processes (torch.distributed, gloo): the loss divided by the world size again.
scale = "[checks.loss_scale]\nvocab_size = 257\n"
two = case("two", example_command(procs=2), scale)
r = smoke(two, "--update")
check(r.returncode == 0 and "loss_scale ok" in r.stdout, "2 processes: the correct run passes loss_scale",
      r.stdout + r.stderr)
r = smoke(case("twobug", example_command("--bug", "loss-divided-by-world-size", procs=2), scale), "--update")
check(r.returncode == 1 and "world size (2 ranks)" in r.stdout,
      "2 processes, --bug loss-divided-by-world-size: loss_scale names the factor 2", r.stdout)

# 7. Bad input: a clear exception naming the argument, nothing half-written.
rec_path = os.path.join(WORK, "bad.jsonl")
rec = lockstep.Recorder(rec_path, config={"x": 1})
rec.step(1, loss=1.0)
for call, what in ((lambda: rec.step(1, loss=1.0), "step 1 after step 1"),
                   (lambda: rec.step(2, loss="1"), "loss: a float"),
                   (lambda: rec.step(2, loss=1.0, batch=torch.zeros(2, 3)), "batch: integer token ids")):
    try:
        call()
        check(False, f"refused: {what}")
    except (ValueError, TypeError) as e:
        check(what in str(e), f"refused: {what}", str(e))
try:
    lockstep.Recorder("/proc/lockstep/r.jsonl")
    check(False, "an unwritable path is refused")
except ValueError as e:
    check("/proc/lockstep/r.jsonl" in str(e), "an unwritable path is refused, naming it", str(e))
check(len(records(rec_path)) == 2, "the refused steps wrote nothing")

# A non-finite loss is recorded, then the gate calls it a crash (exit 3), not a distance.
nan_path = os.path.join(WORK, "nan.jsonl")
rec = lockstep.Recorder(nan_path, config={"x": 1})
rec.step(1, loss=torch.tensor(5.5))
rec.step(2, loss=torch.tensor(float("nan")))
good_path = os.path.join(WORK, "good.jsonl")
rec = lockstep.Recorder(good_path, config={"x": 1})
rec.step(1, loss=torch.tensor(5.5))
rec.step(2, loss=torch.tensor(5.25))
r = run([LOCKSTEP, "golden", "diff", good_path, nan_path])
check(r.returncode == 3 and "crash at step 2: loss is not finite" in r.stdout, "a nan loss: the gate reports a crash",
      r.stdout + r.stderr)

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
