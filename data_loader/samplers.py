"""The training sampler: which samples an epoch visits, in what order, with which augmentation seed.

Everything is a function of (seed, epoch), drawn in the main process: the sampler yields
(index, augmentation seed) pairs, and the dataset seeds its augmentation per sample. So a batch
looks the same whatever the number of DataLoader workers, whether they persist, and whether the
epoch was started fresh or resumed in the middle (`start`).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler):
    """Shuffled (or, with `weights`, drawn with replacement in proportion to them) indices of
    `size` samples, each paired with an augmentation seed. With `share` below 1 an epoch draws
    only that share of them: shorter, more frequent epochs. Without weights the epochs walk a
    stream of permutations in chunks, so every stretch of ceil(1 / share) epochs (a pass) sees
    every sample; with weights each epoch draws anew in proportion to them.

    Under DDP every rank makes the same draw (same seed, same weights) and takes its own
    positions of it: `num_replicas` / `rank` shard one epoch's draw between processes; every rank sees
    `ceil(size / num_replicas)` samples, the draw padded by repeating its start, as torch's
    DistributedSampler does. `start` skips the first samples of this rank's share.
    """

    def __init__(self, size: int, seed: int, weights: torch.Tensor | None = None,
                 num_replicas: int = 1, rank: int = 0, share: float = 1.0):
        self.size, self.seed, self.weights = size, seed, weights
        self.draws = max(1, round(size * share))  # samples one epoch draws
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return -(-self.draws // self.num_replicas) - self.start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.weights is None and self.draws >= self.size:
            order = torch.randperm(self.size, generator=g)
        elif self.weights is None:
            order = self._chunk()
        else:
            order = torch.multinomial(self.weights, self.draws, replacement=True, generator=g)
        seeds = torch.randint(0, 2**31 - 1, (self.draws,), generator=g)
        total = -(-self.draws // self.num_replicas) * self.num_replicas
        pad = torch.arange(total - self.draws) % self.draws
        order, seeds = torch.cat([order, order[pad]]), torch.cat([seeds, seeds[pad]])
        mine = slice(self.rank, total, self.num_replicas)
        yield from zip(order[mine].tolist()[self.start:], seeds[mine].tolist()[self.start:], strict=True)


    def _chunk(self) -> torch.Tensor:
        """This epoch's `draws` samples (share below 1): the next stretch of one stream of
        permutations (a new one each time the last is used up), so the epochs of a pass see every
        sample once and no sample comes back before the others had their turn."""
        start = max(self.epoch - 1, 0) * self.draws  # epochs count from 1
        first = start // self.size
        perms = [torch.randperm(self.size, generator=torch.Generator().manual_seed(
            (self.seed * 1_000_003 + p) * 7_919 + 104_729)) for p in (first, first + 1)]
        offset = start - first * self.size
        return torch.cat(perms)[offset:offset + self.draws]


def inverse_frequency(labels: np.ndarray) -> torch.Tensor:
    """Per-sample weights 1 / (count of its label): every label is drawn equally often."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return torch.as_tensor(1.0 / counts[inverse], dtype=torch.float64)
