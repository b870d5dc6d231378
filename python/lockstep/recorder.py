"""The Recorder: lockstep's record stream for a PyTorch training loop.

Every line is written and flushed by lockstep's C++ writer (the code
`lockstep train --record` uses), so floats are exact hex of the value as
computed (float32 stays float32, float64 stays float64), and digests are
XXH3-64 with lockstep's definitions:

- batch_digest: the step's global batch of token ids as little-endian uint32,
  rows in sample order. Under torch.distributed every rank passes its own
  rows; rank 0 gathers them in rank order (lockstep.data's rank_batch gives
  contiguous blocks, so that is the global batch) and digests them.
- param_digest: every parameter's bytes as stored (bf16 as bf16), in
  model.named_parameters() order, after the update; GPU tensors are copied to
  the host. Under data parallelism the replicas are equal: rank 0's.

Only rank 0 writes (one file); every rank must call step() (the batch is
gathered). Given model= and optimizer=, the Recorder also traces the step
LOCKSTEP_TRACE_STEP names when `lockstep bisect steps` re-runs the trainer
(lockstep/trace.py). A non-finite loss is recorded with status "nonfinite" (the gate
reports a crash, exit 3); later steps are refused.
"""
import json
import math
import os
import resource
import time

import numpy as np
import torch

from . import _lockstep
from . import trace as _trace


def environment():
    """The Python side's environment fingerprint: what could change the bits."""
    cfg = torch.__config__.show() if hasattr(torch, "__config__") else ""
    blas = [line.strip() for line in cfg.splitlines() if "BLAS" in line or "LAPACK" in line]
    env = {
        "torch": torch.__version__,
        "torch_blas": "; ".join(blas)[:200],
        "python": ".".join(map(str, __import__("sys").version_info[:3])),
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "device": "cuda" if torch.cuda.is_available() and torch.cuda.device_count() > 0 else "cpu",
        "world_size": _trace.rank_and_world()[1],
    }
    if env["device"] == "cuda":
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cudnn_deterministic"] = torch.backends.cudnn.deterministic
    return env


def _float(name, value):
    """(value as a Python float, is float32) for a tensor or a number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{name}: a tensor of one element, got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name}: a floating-point tensor, got {value.dtype}")
        return float(value.detach().cpu().item()), value.dtype != torch.float64
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: a float or a one-element tensor, got {type(value).__name__}")
    return float(value), False


def _raw_bytes(tensor):
    """A tensor's bytes as stored, as a numpy uint8 array (bf16 included)."""
    t = tensor.detach().cpu().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy()


class Recorder:
    """Writes lockstep's record stream for a PyTorch training loop.

    path: the record stream (JSON Lines), truncated. config: a JSON-able dict
    of what defines the run (its digest is the config digest the gate
    compares). data: a lockstep.data.Data whose manifest the header names.
    track_params: keep a copy of the parameters to record, per tensor, how
    many elements each update changed (params_changed, params_unchanged: the
    gate's frozen check) and the gradient's exact zeros (grad_zeros); pass
    the model here so that step 1's update is seen too. optimizer: with
    model, lets `lockstep bisect steps` trace a step of this run (through
    LOCKSTEP_TRACE_STEP and LOCKSTEP_TRACE_DIR; nothing happens without them).
    """

    def __init__(self, path, config=None, data=None, track_params=False, model=None, optimizer=None):
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise TypeError(f"config: a dict, got {type(config).__name__}")
        try:
            config_text = json.dumps(config, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"config: not JSON ({e}); give numbers, strings, lists and dicts") from None
        self._rank, self._world = _trace.rank_and_world()
        self._track = track_params
        self._previous = None
        self._step_started = time.perf_counter()
        self._record = None
        if track_params and model is not None:
            self._previous = [p.detach().clone() for _, p in model.named_parameters()]
        if self._rank == 0:
            header = data.header() if data is not None else {}
            self._record = _lockstep.ExternalRecord(os.fspath(path), config_text, json.dumps(environment()),
                                                    json.dumps(header))
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._trace = None
        if model is not None and optimizer is not None:
            self._trace = _trace.trace(model, optimizer)
        elif _trace.from_environment() is not None:
            raise ValueError(f"{_trace._ENV_STEP} is set (lockstep bisect steps is re-running this "
                             "trainer to trace a step): pass model= and optimizer= to the Recorder")

    def step(self, step, loss, grad_norm=None, lr=None, batch=None, model=None, tokens=None):
        """Records one optimizer step, after optimizer.step().

        loss, grad_norm, lr: floats or one-element tensors, recorded exactly.
        batch: this rank's (rows, seq_len + 1) token ids of the step (int tensor
        or array). model: its parameters give param_digest (and, with
        track_params, params_changed and grad_zeros from .grad).
        """
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ValueError(f"step: an integer >= 1, got {step!r}")
        if self._trace is not None:
            self._trace.sync(step + 1)
        loss_value, loss_single = _float("loss", loss)
        gn = _float("grad_norm", grad_norm) if grad_norm is not None else (None, True)
        lr_value = _float("lr", lr) if lr is not None else (None, False)
        batch_digest = None
        if batch is not None:
            rows = self._global_batch(batch)
            batch_digest = _lockstep.token_digest(rows.reshape(-1))
            if tokens is None:  # every row: seq_len inputs and one more target
                tokens = rows.shape[0] * (rows.shape[1] - 1)
        fields = {}
        if model is not None:
            fields.update(self._model_fields(model))
        mem_peak = None
        if torch.cuda.is_available() and model is not None and next(model.parameters()).is_cuda:
            mem_peak = int(torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()
        now = time.perf_counter()
        step_ms = (now - self._step_started) * 1000.0
        self._step_started = now
        if self._record is None:
            return
        self._record.step(
            step=step, loss=loss_value, loss_single=loss_single, grad_norm=gn[0], grad_norm_single=gn[1],
            lr=lr_value[0], lr_single=lr_value[1], tokens=tokens, batch_digest=batch_digest,
            param_digest=fields.get("param_digest"), mem_peak_bytes=mem_peak,
            rss_peak_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, step_ms=step_ms,
            grad_zeros=fields.get("grad_zeros"), params_unchanged=fields.get("params_unchanged"),
            params_changed=json.dumps(fields.get("params_changed", {})))

    def _global_batch(self, batch):
        """The step's global batch as C-contiguous int64 rows: this rank's rows,
        or under torch.distributed every rank's, gathered in rank order."""
        if isinstance(batch, torch.Tensor):
            if batch.is_floating_point() or batch.is_complex() or batch.dtype == torch.bool:
                raise TypeError(f"batch: integer token ids, got a tensor of {batch.dtype}")
            rows = batch.detach().cpu().to(torch.int64).numpy()
        else:
            rows = np.asarray(batch)
            if rows.dtype.kind not in "iu":
                raise TypeError(f"batch: integer token ids, got an array of {rows.dtype}")
            rows = rows.astype(np.int64)
        if rows.ndim != 2:
            raise ValueError(f"batch: (rows, seq_len + 1) token ids, got shape {rows.shape}")
        if self._world > 1:
            gathered = [None] * self._world
            torch.distributed.all_gather_object(gathered, rows)
            rows = np.concatenate(gathered, axis=0)
        return np.ascontiguousarray(rows)

    def _model_fields(self, model):
        digest = _lockstep.Digest64()
        named = list(model.named_parameters())
        for _, p in named:
            digest.update(_raw_bytes(p))
        fields = {"param_digest": digest.intdigest()}
        if self._track:
            grads = [p.grad for _, p in named if p.grad is not None]
            if grads:
                fields["grad_zeros"] = int(sum(int((g == 0).sum()) for g in grads))
            current = [p.detach().clone() for _, p in named]
            if self._previous is not None:
                changed, unchanged = {}, []
                for (name, _), now, before in zip(named, current, self._previous):
                    n = int((now != before).sum())
                    changed[name] = n
                    if n == 0:
                        unchanged.append(name)
                fields["params_changed"] = changed
                fields["params_unchanged"] = " ".join(unchanged)
            self._previous = current
        return fields
