#!/usr/bin/env python3
"""Tensor traces of PyTorch steps, and `lockstep bisect steps` on them.

    pytorch_bisect_steps_test.py LOCKSTEP WORKDIR     (PYTHONPATH: build/<type>/python)

The trace (python/lockstep/trace.py) of the example trainer, in process and
through the Recorder's environment; then bisect steps on planted bugs:
gelu-erf must be found at the first block's activation, data-order must be
answered from the batch digests without a re-run. Exit 77 without torch.
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import torch
except ImportError:
    print("python3-torch is not installed: skipped (ci/setup.sh installs it)")
    sys.exit(77)

import lockstep
from lockstep import _lockstep

LOCKSTEP, WORK = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "pytorch", "train.py")
PYTHON = "/usr/bin/python3"
STEPS = 4
failures = []


def check(cond, what, detail=""):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)
        if detail:
            print("      " + detail.replace("\n", "\n      "))


def run(args, env=None, **kw):
    return subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **(env or {})), **kw)


def trace_lines(directory, rank=0):
    with open(os.path.join(directory, f"rank{rank}.jsonl")) as f:
        return [json.loads(line) for line in f]


def example(*extra):
    return f"{PYTHON} {EXAMPLE} --steps {STEPS} --record /dev/stdout " + " ".join(extra)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

# 1. The Recorder traces the step LOCKSTEP_TRACE_STEP names, the same bits twice.
traces = []
for i in range(2):
    d = os.path.join(WORK, f"trace{i}")
    r = run([PYTHON, EXAMPLE, "--steps", "3", "--record", os.path.join(WORK, f"r{i}.jsonl")],
            env={"LOCKSTEP_TRACE_STEP": "2", "LOCKSTEP_TRACE_DIR": d, "LOCKSTEP_TRACE_VALUES": "none"})
    check(r.returncode == 0, f"the example runs with a trace of step 2 ({i})", r.stderr[-2000:])
    traces.append(trace_lines(d))
t = traces[0]
check([(x["name"], x["digest"]) for x in t] == [(x["name"], x["digest"]) for x in traces[1]],
      "two runs trace the same tensors with the same digests")
phases = [x["phase"] for x in t]
check(phases == sorted(phases, key=["forward", "backward", "reduce", "update"].index),
      "phases in order: forward, backward, reduce, update")
names = {(x["phase"], x["name"]) for x in t}
expected = {("forward", "model.input"), ("forward", "layers.0.act"), ("forward", "model"),
            ("backward", "layers.0.act.grad_output"), ("backward", "layers.0.fc.weight.grad"),
            ("reduce", "layers.0.fc.weight.grad"), ("update", "layers.0.fc.weight"), ("update", "wte.weight")}
check(expected <= names, "module outputs, their gradients, parameter gradients and updates are named by path",
      str(sorted(expected - names)))
check(t[0]["name"] == "model.input" and t[0]["dtype"] == "int64", "the batch comes first, digested as int64")
check(all("offset" not in x for x in t), "values none: no values kept")
forward = [x["name"] for x in t if x["phase"] == "forward"]
check(forward.index("layers.0.fc") < forward.index("layers.0.act") < forward.index("layers.0.fcproj"),
      "forward outputs in call order")
update = [x for x in t if x["phase"] == "update"]
reduce_ = [x for x in t if x["phase"] == "reduce"]
check(len(update) == len(reduce_) > 0, "every parameter: its gradient (reduce) and its update")


# 2. In process: a module called twice gets #2; bf16 is digested as stored.
class Twice(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(torch.tanh(self.lin(x)))


torch.manual_seed(0)
model = Twice().to(torch.bfloat16)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
d = os.path.join(WORK, "twice")
own_step = opt.step
tr = lockstep.trace(model, opt, d, step=2)
for step in (1, 2, 3):
    loss = model(torch.ones(2, 4, dtype=torch.bfloat16)).float().pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 2:
        digest = _lockstep.Digest64()
        digest.update(model.lin.weight.detach().contiguous().view(torch.uint8).numpy())
        weight_digest = f"{digest.intdigest():016x}"
t = trace_lines(d)
fwd = [x["name"] for x in t if x["phase"] == "forward"]
check(fwd == ["model.input", "lin", "lin#2", "model"], "a module called twice: lin, then lin#2", str(fwd))
bwd = [x["name"] for x in t if x["phase"] == "backward"]
check("lin#2.grad_output" in bwd and "lin.grad_output" in bwd, "each call's output gradient", str(bwd))
w = [x for x in t if x["phase"] == "update" and x["name"] == "lin.weight"]
check(len(w) == 1 and w[0]["dtype"] == "bfloat16" and w[0]["digest"] == weight_digest,
      "a bf16 parameter is digested as stored (its bf16 bytes)", str(w))
check(tr.done and opt.step == own_step, "after its step the trace removes itself")

# 3. gelu-erf: the first block's activation is the first tensor that differs.
a, b = os.path.join(WORK, "a.jsonl"), os.path.join(WORK, "b.jsonl")
for path, extra in ((a, []), (b, ["--bug", "gelu-erf"])):
    r = run([PYTHON, EXAMPLE, "--steps", str(STEPS), "--record", path, *extra])
    check(r.returncode == 0, f"example {' '.join(extra) or 'plain'} records", r.stderr[-2000:])
out_json = os.path.join(WORK, "gelu.json")
r = run([LOCKSTEP, "bisect", "steps", a, b, "--command-a", example(), "--command-b", example("--bug gelu-erf"),
         "--work-dir", os.path.join(WORK, "gelu"), "--json", out_json])
check(r.returncode == 0, "bisect steps finds a first divergent tensor (exit 0)", r.stdout[-3000:] + r.stderr[-2000:])
if r.returncode == 0:
    res = json.load(open(out_json))
    first = res["first_tensor"]
    check(res["step"] == 1 and first["phase"] == "forward" and first["name"] == "layers.0.act",
          "gelu-erf: the first divergent tensor is layers.0.act's forward output at step 1", json.dumps(first))
    a_trace = trace_lines(os.path.join(WORK, "gelu", "a", "trace-digests"))
    before = [x["name"] for x in a_trace].index("layers.0.act")
    check(res["identical_before"] == before and f"the {before} tensors before it" in r.stdout,
          f"and says the {before} tensors before it are bit-identical", r.stdout[-1500:])
    check(first["differing"] > 0 and first["max_abs_diff"] > 0, "with its element differences")

# 4. data-order: the batch of step 3 differs; no tensor hunt.
c = os.path.join(WORK, "c.jsonl")
r = run([PYTHON, EXAMPLE, "--steps", str(STEPS), "--record", c, "--bug", "data-order"])
check(r.returncode == 0, "example --bug data-order records", r.stderr[-2000:])
out_json = os.path.join(WORK, "order.json")
r = run([LOCKSTEP, "bisect", "steps", a, c, "--command-a", example(), "--command-b", example("--bug data-order"),
         "--work-dir", os.path.join(WORK, "order"), "--json", out_json])
res = json.load(open(out_json)) if os.path.exists(out_json) else {}
check(r.returncode == 0 and res.get("step") == 3 and res.get("batch_differs") is True,
      "data-order: step 3, the batch differs", r.stdout + r.stderr)
check("re-running" not in r.stdout and "batch of step 3 differs" in r.stdout and
      not os.path.exists(os.path.join(WORK, "order")), "and nothing is re-run", r.stdout)

# 5. torch.distributed (2 processes, gloo): readable, compared with 1 process by name and phase.
d2 = os.path.join(WORK, "dist")
r = run([PYTHON, EXAMPLE, "--nproc", "2", "--steps", "2"],
        env={"LOCKSTEP_TRACE_STEP": "1", "LOCKSTEP_TRACE_DIR": d2, "LOCKSTEP_TRACE_VALUES": "none"})
check(r.returncode == 0, "2 processes trace step 1", r.stderr[-2000:])
if r.returncode == 0:
    r0, r1 = trace_lines(d2, 0), trace_lines(d2, 1)
    check({x["mb"] for x in r0 if x["phase"] == "forward"} == {0} and
          {x["mb"] for x in r1 if x["phase"] == "forward"} == {1}, "rank r's forward is micro-batch r")
    one = traces[0]
    step_wide = lambda tr: [(x["phase"], x["name"], x["count"]) for x in tr if x["mb"] < 0]
    check(step_wide(r0) == step_wide(r1) == step_wide(one),
          "reduce and update: the same tensors, names and sizes as one process's trace")
    reduced = [x["digest"] for x in r0 if x["phase"] == "reduce"]
    check(reduced == [x["digest"] for x in r1 if x["phase"] == "reduce"],
          "the all-reduced gradients are the same bits on both ranks")
    a2, b2 = os.path.join(WORK, "one.jsonl"), os.path.join(WORK, "two.jsonl")
    run([PYTHON, EXAMPLE, "--steps", "2", "--record", a2])
    run([PYTHON, EXAMPLE, "--nproc", "2", "--steps", "2", "--record", b2])
    out_json = os.path.join(WORK, "dist.json")
    r = run([LOCKSTEP, "bisect", "steps", a2, b2, "--command-a", f"{PYTHON} {EXAMPLE} --steps 2",
             "--command-b", f"{PYTHON} {EXAMPLE} --steps 2 --nproc 2", "--work-dir",
             os.path.join(WORK, "dist-bisect"), "--json", out_json])
    res = json.load(open(out_json)) if os.path.exists(out_json) else {}
    if res.get("step") is None:
        check(r.returncode == 1, "1 and 2 processes agree: nothing to compare", r.stdout)
    else:
        first = res.get("first_tensor", {})
        check(r.returncode == 0 and first.get("name") == "model.input" and first.get("shape_differs"),
              "1 vs 2 processes: the batch is cut differently (model.input's shape), found by name and phase",
              r.stdout + r.stderr)

# 6. Misuse says what to do.
r = run([LOCKSTEP, "bisect", "steps", a, b])
check(r.returncode == 2 and "--command-a" in r.stderr, "a PyTorch record without a command: exit 2 naming --command-a",
      r.stderr)
r = run([PYTHON, EXAMPLE, "--steps", "2"], env={"LOCKSTEP_TRACE_STEP": "x", "LOCKSTEP_TRACE_DIR": WORK})
check(r.returncode != 0 and "LOCKSTEP_TRACE_STEP='x'" in r.stderr, "a bad LOCKSTEP_TRACE_STEP is refused", r.stderr[-500:])

if failures:
    print(f"\n{len(failures)} check(s) failed")
    sys.exit(1)
print("\nall checks passed")
