"""lockstep for PyTorch training loops.

The record stream lockstep's own trainer writes (exact loss, gradient norm
and learning rate; batch and parameter digests; peak memory), written by the
same C++ code, so `lockstep smoke`, `lockstep golden` and the health checks
read a PyTorch run at full precision:

    rec = lockstep.Recorder("out/run.jsonl", config=cfg)
    for step in range(1, steps + 1):
        ...
        rec.step(step, loss=loss, grad_norm=gn, lr=lr, batch=rows, model=model)

and lockstep's pinned, blended data, whose batch at any step is a pure
function of the step (resuming needs only the step number):

    data = lockstep.data.Data("embedded", global_batch=8)
    rows = data.batch(step)            # (8, seq_len + 1) token ids
    mine = data.rank_batch(step, rank, world_size)

and tensor traces of one step, for `lockstep bisect steps`:

    lockstep.trace(model, optimizer, "out/trace", step=7)
"""
from . import data
from .recorder import Recorder, environment
from .trace import Trace, trace

__all__ = ["Recorder", "Trace", "data", "environment", "trace"]
