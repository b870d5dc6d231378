#!/usr/bin/env python3
"""The lockstep GPT in PyTorch, for two jobs.

check: load the initial weights and batches that `lockstep train --export DIR`
       wrote, train the same steps with the same optimizer, and print each
       step's loss as JSON. tests/torch_reference_test.sh compares them with
       lockstep's record stream (within 1e-3 relative).
bench: time training steps of a config on random weights and tokens and
       print tokens per second as JSON (bench/compare_torch.py uses it).

The model mirrors trainer/gpt.h: weights stored [in, out], tied head, pre-norm
blocks, tanh GELU, LayerNorm or RMSNorm with eps 1e-5, AdamW with decoupled
weight decay on matrices and embeddings, global-norm clipping, linear warmup
and cosine decay.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F


def layout(cfg, seq_len):
    """(name, shape, decay) in lockstep's flat parameter order."""
    m = cfg["model"]
    V, C, L = m["vocab_size"], m["n_embd"], m["n_layer"]
    bias_c = C if m["norm"] == "layernorm" else 0
    out = [("wte", (V, C), True), ("wpe", (seq_len, C), True)]
    for l in range(L):
        p = f"h.{l}."
        out += [(p + "ln1w", (C,), False), (p + "ln1b", (bias_c,), False),
                (p + "qkvw", (C, 3 * C), True), (p + "qkvb", (3 * C,), False),
                (p + "attprojw", (C, C), True), (p + "attprojb", (C,), False),
                (p + "ln2w", (C,), False), (p + "ln2b", (bias_c,), False),
                (p + "fcw", (C, 4 * C), True), (p + "fcb", (4 * C,), False),
                (p + "fcprojw", (4 * C, C), True), (p + "fcprojb", (C,), False)]
    out += [("lnfw", (C,), False), ("lnfb", (bias_c,), False)]
    return out


def norm(x, w, b, kind):
    if kind == "layernorm":
        return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def forward(P, cfg, idx, targets):
    m = cfg["model"]
    L, C, NH, kind = m["n_layer"], m["n_embd"], m["n_head"], m["norm"]
    B, T = idx.shape
    hs = C // NH
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    x = P["wte"][idx] + P["wpe"][:T]
    for l in range(L):
        p = f"h.{l}."
        h = norm(x, P[p + "ln1w"], P.get(p + "ln1b"), kind)
        q, k, v = (h @ P[p + "qkvw"] + P[p + "qkvb"]).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ P[p + "attprojw"] + P[p + "attprojb"]
        h = norm(x, P[p + "ln2w"], P.get(p + "ln2b"), kind)
        h = F.gelu(h @ P[p + "fcw"] + P[p + "fcb"], approximate="tanh")
        x = x + h @ P[p + "fcprojw"] + P[p + "fcprojb"]
    x = norm(x, P["lnfw"], P.get("lnfb"), kind)
    logits = x @ P["wte"].t()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def learning_rate(t, step):
    if t["warmup_steps"] > 0 and step <= t["warmup_steps"]:
        return t["lr"] * step / t["warmup_steps"]
    decay = t["steps"] - t["warmup_steps"]
    if decay <= 0:
        return t["lr"]
    progress = (step - t["warmup_steps"]) / decay
    return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1 + math.cos(math.pi * progress))


def make_params(cfg, seq_len, flat=None):
    P, decay, no_decay = {}, [], []
    offset = 0
    for name, shape, wd in layout(cfg, seq_len):
        size = math.prod(shape)
        if size == 0:
            continue
        if flat is not None:
            data = flat[offset:offset + size].view(shape).clone()
        else:  # bench: any weights will do
            data = torch.randn(shape) * 0.02 if wd else (torch.ones(shape) if name.endswith("w") else torch.zeros(shape))
        offset += size
        P[name] = data.requires_grad_(True)
        (decay if wd else no_decay).append(P[name])
    return P, decay, no_decay


def optimizer(cfg, decay, no_decay):
    t = cfg["train"]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": t["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["eps"])


def train_step(P, cfg, opt, params, step, idx, targets):
    t = cfg["train"]
    for g in opt.param_groups:
        g["lr"] = learning_rate(t, step)
    opt.zero_grad(set_to_none=True)
    loss = forward(P, cfg, idx, targets)
    loss.backward()
    if t["grad_clip"] > 0:
        torch.nn.utils.clip_grad_norm_(params, t["grad_clip"])
    opt.step()
    return loss.item()


def check(args):
    index = json.load(open(os.path.join(args.export, "tensors.json")))
    cfg, T = index["config"], index["seq_len"]
    raw = open(os.path.join(args.export, "params.bin"), "rb").read()
    flat = torch.frombuffer(bytearray(raw), dtype=torch.float32)
    P, decay, no_decay = make_params(cfg, T, flat)
    opt = optimizer(cfg, decay, no_decay)
    B = cfg["train"]["global_batch"]
    batches = torch.frombuffer(bytearray(open(os.path.join(args.export, "batches.bin"), "rb").read()),
                               dtype=torch.int32).view(-1, B, T + 1).long()
    steps = min(args.steps, batches.shape[0])
    losses = []
    for s in range(steps):
        batch = batches[s]
        losses.append(train_step(P, cfg, opt, decay + no_decay, s + 1, batch[:, :T], batch[:, 1:]))
    json.dump({"losses": losses, "torch": torch.__version__}, sys.stdout)
    print()


def bench(args):
    cfg = json.load(open(args.config_json))
    T, B = args.seq_len, cfg["train"]["global_batch"]
    P, decay, no_decay = make_params(cfg, T)
    opt = optimizer(cfg, decay, no_decay)
    V = cfg["model"]["vocab_size"]
    g = torch.Generator().manual_seed(0)
    times = []
    for s in range(args.steps):
        batch = torch.randint(0, min(V, 257), (B, T + 1), generator=g)
        start = time.perf_counter()
        train_step(P, cfg, opt, decay + no_decay, s + 1, batch[:, :T], batch[:, 1:])
        times.append(time.perf_counter() - start)
    times = sorted(times[1:]) if len(times) > 1 else times  # the first step warms up
    median = times[len(times) // 2]
    json.dump({"tokens_per_s": B * T / median, "median_step_ms": median * 1e3,
               "threads": torch.get_num_threads(), "torch": torch.__version__}, sys.stdout)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("check", help="replay lockstep's exported run")
    c.add_argument("--export", required=True, help="the directory of lockstep train --export")
    c.add_argument("--steps", type=int, default=10)
    b = sub.add_parser("bench", help="time training steps")
    b.add_argument("--config-json", required=True, help="a resolved config (the record header's config)")
    b.add_argument("--seq-len", type=int, required=True)
    b.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    check(args) if args.mode == "check" else bench(args)


if __name__ == "__main__":
    main()
