"""Tensor traces of one PyTorch training step, for `lockstep bisect steps`.

    lockstep.trace(model, optimizer, "out/trace", step=7)
    ... the training loop, unchanged ...

or with no code at all: a Recorder given model= and optimizer= traces the
step LOCKSTEP_TRACE_STEP names into LOCKSTEP_TRACE_DIR (keeping the values
LOCKSTEP_TRACE_VALUES names: all, none or a comma-separated list), which is
how `lockstep bisect steps --case` re-runs a trainer.

The trace is written by lockstep's own C++ writer, in the format
`lockstep train --trace-step` writes (trainer/tensor_trace.h), so `bisect
steps` reads both alike. Each tensor's digest is XXH3-64 of its bytes as
stored (bf16 as bf16, int64 as int64); its statistics (L2 norm in double,
in index order, and max |x|) and kept values are over its elements
converted to float32. The step, in order:

  forward   the root module's input (`model.input`), then every module's
            output as its forward returns, children before parents, named
            by module path (`layers.0.act`; the root is `model`)
  backward  the gradient of every traced output (`layers.0.act.grad_output`)
            and of every parameter (`layers.0.fc.weight.grad`), in the order
            autograd computes them
  reduce    every parameter's .grad as optimizer.step() receives it: after
            the data-parallel all-reduce and clipping
  update    every parameter after optimizer.step()

A module called twice in a step gets `#2` on its second output. Forward and
backward belong to a micro-batch: the k-th call of the root module on rank r
of W ranks is micro-batch k * W + r. Which step is which: optimizer.step()
calls counted from `first_step`; a Recorder sets the count from the step
numbers it records.
"""
import atexit
import os
import sys

import torch

from . import _lockstep

_ENV_STEP, _ENV_DIR, _ENV_VALUES = "LOCKSTEP_TRACE_STEP", "LOCKSTEP_TRACE_DIR", "LOCKSTEP_TRACE_VALUES"


def rank_and_world():
    """(rank, world size): under torch.distributed, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _tensors(name, value):
    """(name, tensor) for a module's output: a tensor, or the tensors in a
    tuple, list or dict (`name[0]`, `name[key]`)."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _tensors(f"{name}[{i}]", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(f"{name}[{k}]", v)


class Trace:
    """Traces step `step` of `model` trained by `optimizer` into `directory`
    (rank<R>.jsonl and rank<R>.bin per rank). values: "all", "none" or
    comma-separated tensor names whose values are kept."""

    def __init__(self, model, optimizer, directory, step, values="all", first_step=1):
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ValueError(f"step: the step to trace, an integer >= 1, got {step!r}")
        if not isinstance(first_step, int) or isinstance(first_step, bool) or first_step < 1:
            raise ValueError(f"first_step: an integer >= 1, got {first_step!r}")
        self.directory = os.fspath(directory)
        self.step = step
        self.values = values
        self.done = False
        self._model = model
        self._optimizer = optimizer
        self._current = first_step  # the step the next optimizer.step() completes
        self._writer = None
        self._phase = None
        self._forwards = 0  # root module calls in the traced step
        self._calls = {}  # name -> times traced in this phase
        self._names = {id(m): name for name, m in model.named_modules()}
        self._params = list(model.named_parameters())
        self._handles = [model.register_forward_pre_hook(self._on_root_input)]
        for module in model.modules():
            self._handles.append(module.register_forward_hook(self._on_output))
        for name, p in self._params:
            if p.requires_grad:
                self._handles.append(p.register_hook(self._param_grad_hook(name)))
        self._step = optimizer.step
        optimizer.step = self._optimizer_step
        atexit.register(self._check_reached)

    # -- which step is traced -------------------------------------------------
    def sync(self, next_step):
        """The next optimizer.step() completes step `next_step`."""
        if self._writer is None:
            self._current = next_step

    def _active(self):
        return not self.done and self._current == self.step

    # -- writing --------------------------------------------------------------
    def _begin(self, phase, micro_batch):
        if self._writer is None:
            rank, _ = rank_and_world()
            self._writer = _lockstep.TensorTrace(self.directory, rank, self.values)
        if self._phase != (phase, micro_batch):
            self._phase = (phase, micro_batch)
            self._calls = {}
            self._writer.begin(phase, micro_batch)

    def _add(self, name, tensor):
        n = self._calls.get(name, 0) + 1
        self._calls[name] = n
        if n > 1:
            name = f"{name}#{n}"
        t = tensor.detach()
        if t.is_complex():
            raise TypeError(f"lockstep.trace: {name} is complex ({t.dtype}); not traceable")
        t = t.cpu().contiguous().reshape(-1)
        stored = t.view(torch.uint8).numpy() if t.numel() else t.to(torch.uint8).numpy()
        values = t.to(torch.float32).numpy()
        self._writer.add(name, str(t.dtype).replace("torch.", ""), stored, values)
        return name

    def add(self, name, tensor, phase="forward"):
        """Adds a tensor of your own (the loss, say) to the traced step, in
        `phase` ("forward" or "reduce") of the current micro-batch."""
        if not self._active():
            return
        if phase not in ("forward", "reduce"):
            raise ValueError(f"phase: forward or reduce, got {phase!r}")
        self._begin(phase, self._micro_batch() if phase == "forward" else -1)
        self._add(name, tensor)

    def _micro_batch(self):
        rank, world = rank_and_world()
        return max(self._forwards - 1, 0) * world + rank

    # -- hooks ----------------------------------------------------------------
    def _on_root_input(self, module, inputs):
        if not self._active():
            return
        self._forwards += 1
        self._begin("forward", self._micro_batch())
        for name, t in _tensors("model.input", inputs[0] if len(inputs) == 1 else inputs):
            self._add(name, t)

    def _on_output(self, module, inputs, output):
        if not self._active():
            return
        base = self._names.get(id(module)) or "model"
        self._begin("forward", self._micro_batch())
        for name, t in _tensors(base, output):
            traced_as = self._add(name, t)
            if t.requires_grad:
                t.register_hook(self._grad_hook(traced_as))

    def _grad_hook(self, name):
        micro_batch = self._micro_batch()

        def hook(grad):
            if self._active():
                self._begin("backward", micro_batch)
                self._add(name + ".grad_output", grad)

        return hook

    def _param_grad_hook(self, name):
        def hook(grad):
            if self._active():
                self._begin("backward", self._micro_batch())
                self._add(name + ".grad", grad)

        return hook

    def _optimizer_step(self, *args, **kwargs):
        active = self._active()
        if active:
            self._begin("reduce", -1)
            for name, p in self._params:
                if p.grad is not None:
                    self._add(name + ".grad", p.grad)
        result = self._step(*args, **kwargs)
        if active:
            self._begin("update", -1)
            for name, p in self._params:
                self._add(name, p)
            self._writer.close()
            self._writer = None
            self.done = True
            self.remove()
        self._current += 1
        return result

    def remove(self):
        """Removes the hooks and gives the optimizer its own step() back."""
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._optimizer.step == self._optimizer_step:
            self._optimizer.step = self._step

    def _check_reached(self):
        if not self.done:
            print(f"lockstep.trace: step {self.step} was never completed (the run ended before its "
                  f"optimizer.step()); no trace in {self.directory}", file=sys.stderr)


def trace(model, optimizer, directory=None, step=None, values=None, first_step=1):
    """Traces one step of a PyTorch training loop (see this module's doc).
    Without `directory` and `step`, they come from LOCKSTEP_TRACE_DIR and
    LOCKSTEP_TRACE_STEP, and the result is None when those are not set."""
    if directory is None and step is None:
        env = from_environment()
        if env is None:
            return None
        directory, step, env_values = env
        values = values if values is not None else env_values
    if directory is None or step is None:
        raise ValueError("lockstep.trace: give both directory and step (or neither, to take them "
                         f"from {_ENV_DIR} and {_ENV_STEP})")
    return Trace(model, optimizer, directory, step, values or "all", first_step)


def from_environment():
    """(directory, step, values) from LOCKSTEP_TRACE_*; None when unset."""
    step_text = os.environ.get(_ENV_STEP, "")
    directory = os.environ.get(_ENV_DIR, "")
    if not step_text and not directory:
        return None
    if not step_text or not directory:
        missing = _ENV_STEP if not step_text else _ENV_DIR
        raise ValueError(f"{missing} is not set but {_ENV_DIR if missing == _ENV_STEP else _ENV_STEP} "
                         "is: set both (the step to trace and where) or neither")
    if not step_text.isdigit() or int(step_text) < 1:
        raise ValueError(f"{_ENV_STEP}={step_text!r}: the step to trace, an integer >= 1")
    return directory, int(step_text), os.environ.get(_ENV_VALUES, "all")
