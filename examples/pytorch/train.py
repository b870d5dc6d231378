#!/usr/bin/env python3
"""A small GPT trained with PyTorch on lockstep's data, recorded with
lockstep's recorder: the shape of a real training loop, gated bit for bit.

    PYTHONPATH=build/release/python python3 examples/pytorch/train.py --steps 20 --record out/run.jsonl
    PYTHONPATH=build/release/python python3 -m torch.distributed.run --nproc_per_node 2 \\
        examples/pytorch/train.py --record out/run2.jsonl
    PYTHONPATH=build/release/python python3 examples/pytorch/train.py --nproc 2 --record out/run2.jsonl

--nproc N starts the N processes itself with the env:// rendezvous that
torch.distributed.run sets up (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE):
Debian 12's torch 1.13 launcher fails under Python 3.11 ("'NoneType' object
has no attribute 'get'" in elastic's to_map), so the example does not need it.

Deterministic: a fixed seed, torch.use_deterministic_algorithms(True), the
batch of every step from lockstep.data (a pure function of the step), and
under torch.distributed (gloo on CPU) gradients summed by all_reduce.

--bug plants, on purpose, one of the bugs the gate exists for (a demo and a
test, never a default):
  data-order                  two samples of step 3 swapped
  loss-divided-by-world-size  the reported loss divided by the world size again
  bf16-master                 parameters kept in bfloat16: norm weights freeze
  gelu-erf                    the MLP's GELU in its erf form instead of tanh
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import lockstep

BUGS = ("data-order", "loss-divided-by-world-size", "bf16-master", "gelu-erf")


class Block(nn.Module):
    # x: (B, T, C) -> (B, T, C); pre-norm attention then MLP, both residual.
    def __init__(self, C, n_head, gelu):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.act = nn.GELU(approximate=gelu)
        self.fcproj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.fcproj(self.act(self.fc(self.ln2(x))))


class GPT(nn.Module):
    # idx: (B, T) token ids -> logits (B, T, V); the head is tied to wte.
    def __init__(self, vocab, seq_len, C, n_layer, n_head, gelu):
        super().__init__()
        self.wte = nn.Embedding(vocab, C)
        self.wpe = nn.Embedding(seq_len, C)
        self.layers = nn.ModuleList(Block(C, n_head, gelu) for _ in range(n_layer))
        self.lnf = nn.LayerNorm(C)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.layers:
            x = block(x)
        return self.lnf(x) @ self.wte.weight.t()


def learning_rate(args, step):
    if step <= args.warmup:
        return args.lr * step / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * 0.1 + 0.5 * (args.lr - args.lr * 0.1) * (1 + math.cos(math.pi * progress))


def launch(nproc):
    """Runs this script in `nproc` processes joined by torch.distributed's env://
    rendezvous on a free loopback port; returns the worst exit code."""
    import socket
    import subprocess
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(nproc):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc))
        procs.append(subprocess.Popen([sys.executable] + sys.argv, env=env))
    codes = [p.wait() for p in procs]
    return max(codes, key=abs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--record", help="the record stream to write (/dev/stdout for a smoke case); none: no recorder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--manifest", default="embedded", help="lockstep data: 'embedded' or a manifest.toml")
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=0, help="0: the manifest's")
    ap.add_argument("--vocab-size", type=int, default=0, help="0: the data's")
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--track-params", action="store_true", help="record params_changed (the frozen check)")
    ap.add_argument("--bug", choices=BUGS, help="plant a bug on purpose (demo and tests)")
    ap.add_argument("--nproc", type=int, default=1, help="start this many data-parallel processes (gloo)")
    ap.add_argument("--timing", action="store_true", help="print the median step time (ms, steps 2..) and every step's to stderr")
    args = ap.parse_args()
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        sys.exit(launch(args.nproc))

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    data = lockstep.data.Data(args.manifest, global_batch=args.global_batch, seq_len=args.seq_len)
    if args.vocab_size and args.vocab_size < data.vocab_size:
        ap.error(f"--vocab-size {args.vocab_size} is below the data's {data.vocab_size}")
    model = GPT(args.vocab_size or data.vocab_size, data.seq_len, args.n_embd, args.n_layer, args.n_head,
                "none" if args.bug == "gelu-erf" else "tanh")
    if args.bug == "bf16-master":
        model = model.to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    config = {k: v for k, v in vars(args).items()
              if k not in ("record", "threads", "bug", "track_params", "nproc", "timing")}
    rec = None
    if args.record:
        rec = lockstep.Recorder(args.record, config=config, data=data, track_params=args.track_params, model=model,
                                optimizer=opt)
    else:  # `lockstep bisect steps` can still trace a step (LOCKSTEP_TRACE_STEP)
        lockstep.trace(model, opt)

    step_ms, record_ms = [], []
    for step in range(1, args.steps + 1):
        started = time.perf_counter()
        rows = torch.from_numpy(data.rank_batch(step, rank, world))
        if args.bug == "data-order" and step == 3 and rows.shape[0] >= 2:
            rows = rows[[1, 0] + list(range(2, rows.shape[0]))]
        logits = model(rows[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        reported = loss.detach().clone()
        if world > 1:  # the mean over the global batch: every rank holds the same share
            for p in model.parameters():
                torch.distributed.all_reduce(p.grad)
                p.grad /= world
            torch.distributed.all_reduce(reported)
            reported /= world
        if args.bug == "loss-divided-by-world-size":
            reported /= world
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = learning_rate(args, step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        recording = time.perf_counter()
        if rec is not None:
            rec.step(step, loss=reported, grad_norm=grad_norm, lr=lr, batch=rows, model=model)
        record_ms.append((time.perf_counter() - recording) * 1000)
        step_ms.append((time.perf_counter() - started) * 1000)
        if rank == 0:
            print(f"step {step:4d}  loss {reported.item():.6f}", file=sys.stderr, flush=True)
    if args.timing and rank == 0 and len(step_ms) > 1:
        print(f"median_step_ms {statistics.median(step_ms[1:]):.3f} median_record_ms "
              f"{statistics.median(record_ms[1:]):.3f}", file=sys.stderr)
        print("step_ms " + " ".join(f"{ms:.3f}" for ms in step_ms), file=sys.stderr)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
