"""lockstep's data for PyTorch: the manifest, the blend schedule and the
sampler of lockstep's trainer, so a PyTorch loop trains on the very batches
`lockstep train` trains on (the same batch digests).

A step's global batch holds `global_batch` rows of `seq_len + 1` token ids
(inputs are row[:-1], targets row[1:]). Under data parallelism rank r of N
takes the contiguous rows [r * B // N, (r + 1) * B // N): in rank order they
are the global batch, so the ranks' shares gathered in rank order digest to
the global batch's digest.
"""
import numpy as np

from . import _lockstep


class Data:
    """The batches of lockstep's data for any step, verified before use.

    manifest: "embedded" (the three synthetic corpora compiled into lockstep)
    or the path of a manifest.toml. seq_len: 0 keeps the manifest's.
    Steps are numbered from 1, as lockstep's trainer numbers them.
    """

    def __init__(self, manifest="embedded", global_batch=8, seq_len=0):
        if not isinstance(global_batch, int) or global_batch < 1:
            raise ValueError(f"global_batch must be an integer >= 1, got {global_batch!r}")
        if not isinstance(seq_len, int) or seq_len < 0:
            raise ValueError(f"seq_len must be an integer >= 0, got {seq_len!r}")
        self._data = _lockstep.Data(str(manifest), global_batch, seq_len)

    @property
    def seq_len(self):
        return self._data.seq_len

    @property
    def vocab_size(self):
        return self._data.vocab_size

    @property
    def global_batch(self):
        return self._data.global_batch

    def batch(self, step, first_slot=0, slots=None):
        """(slots, seq_len + 1) token ids of `step`, as an int64 numpy array."""
        _check_step(step)
        if slots is None:
            slots = self.global_batch - first_slot
        return self._data.batch(step, first_slot, slots).astype(np.int64)

    def rank_slots(self, rank, world_size):
        """The slots [begin, end) of the global batch that `rank` of `world_size` trains on."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        if world_size > self.global_batch:
            raise ValueError(f"{world_size} ranks for {self.global_batch} rows: at most one rank per row")
        return rank * self.global_batch // world_size, (rank + 1) * self.global_batch // world_size

    def rank_batch(self, step, rank, world_size):
        """This rank's rows of `step` (see rank_slots)."""
        begin, end = self.rank_slots(rank, world_size)
        return self.batch(step, begin, end - begin)

    def batch_digest(self, step):
        """XXH3-64 of `step`'s global batch, as lockstep's trainer records it (16 hex digits)."""
        _check_step(step)
        return f"{self._data.batch_digest(step):016x}"

    def header(self):
        """What a record header says about this data: manifest and per-corpus digests."""
        return {"manifest_digest": self._data.manifest_digest, "corpora": dict(self._data.corpora)}


def _check_step(step):
    if not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be an integer >= 1 (lockstep numbers steps from 1), got {step!r}")
