"""Training with several processes (torchrun): the process group, each process's share of the data, shutdown.

    torchrun --nproc_per_node=2 -m intermask_lite train transformer --preset paper

`init_from_env()` joins the process group that torchrun describes in its environment variables (NCCL on
GPUs, gloo on CPUs); `train_loader(dataset, tcfg)` gives each process its slice of every global batch;
`train.fit` wraps the model in DistributedDataParallel and lets rank 0 alone print and write; `shutdown()`
waits for every process and leaves the group.

Batch sizes: TrainConfig.batch_size is the global batch of one micro-step, summed over the processes; each
process loads batch_size / world of it (it must divide), and one optimiser step sees
batch_size * grad_accum samples whatever the number of processes.

Data order: each epoch one permutation of the whole dataset, drawn from torch's global RNG right after
train.fit seeds it from (seed, epoch), identically on every process and exactly as a shuffling DataLoader
draws it; the permutation is cut into global batches and process r takes the r-th slice of each. So the
samples of each global batch depend on the seed, the epoch and the global batch only: a run resumed with
another number of processes continues with the very batches the old one would have seen (see train.fit).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler


def rank_and_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless torch.distributed is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process prints and writes (rank 0, or the only process)."""
    return rank_and_world()[0] == 0


def env_world_size() -> int:
    """WORLD_SIZE from the environment (torchrun sets it), 1 when absent."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be an integer, got {text!r}") from None


def init_from_env(device: str = "auto") -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK).

    Does nothing with WORLD_SIZE absent or 1, or when a group already exists. The backend is NCCL when the
    processes train on CUDA (each on GPU LOCAL_RANK), gloo otherwise. Returns whether this call joined a group.
    """
    if env_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {missing} are not set: start several "
                         "processes with torchrun, e.g. torchrun --nproc_per_node=2 -m intermask_lite train ...")
    cuda = torch.cuda.is_available() and device in ("auto", "cuda") or str(device).startswith("cuda")
    if cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} but this machine has {torch.cuda.device_count()} GPUs: "
                             "ask torchrun for at most that many processes per node")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo", init_method="env://")
    return True


def shutdown(wait: bool = True) -> None:
    """Wait for every process (unless not `wait`: after an error), then leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (nothing without a process group)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


@contextmanager
def main_first():
    """Rank 0 runs the block first (e.g. writing a cache), the others after it, reading what it wrote."""
    rank, world = rank_and_world()
    if world > 1 and rank > 0:
        dist.barrier()
    try:
        yield
    finally:
        if world > 1 and rank == 0:
            dist.barrier()


def mean_over_processes(values: list[float], device) -> list[float]:
    """The mean of each value over the processes (the values themselves with one process)."""
    if rank_and_world()[1] == 1 or not values:
        return values
    t = torch.tensor(values, dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def per_process_batch(global_batch: int, world: int) -> int:
    """global_batch / world, with a clear error when it does not divide."""
    if global_batch < 1 or global_batch % world:
        raise ValueError(f"batch_size {global_batch} is the global batch of one micro-step and must divide among "
                         f"{world} processes; choose a multiple of {world} (each process then loads "
                         f"batch_size / {world})")
    return global_batch // world


class GlobalBatchSampler(Sampler[int]):
    """This process's share of a shuffled epoch, world-size independent (see the module docstring).

    Each epoch draws one seed from torch's global RNG, as DataLoader(shuffle=True) does, and permutes all
    n samples with it; global batch i is order[i * global_batch : (i + 1) * global_batch], of which process
    `rank` takes the slice [rank * b, (rank + 1) * b), b = global_batch / world. The last incomplete global
    batch is dropped (drop_last; required with several processes). With one process and drop_last=False this
    yields exactly the order of a shuffling DataLoader.
    """

    def __init__(self, n: int, global_batch: int, rank: int = 0, world: int = 1, drop_last: bool = True):
        if not 0 <= rank < world:
            raise ValueError(f"rank must lie in 0..{world - 1}, got {rank}")
        if world > 1 and not drop_last:
            raise ValueError("several processes need drop_last=True (an incomplete global batch cannot be shared)")
        self.n, self.global_batch, self.rank, self.world, self.drop_last = n, global_batch, rank, world, drop_last
        self.batch = per_process_batch(global_batch, world)

    def __len__(self) -> int:
        return self.n // self.global_batch * self.batch if self.drop_last else self.n

    def __iter__(self):
        seed = int(torch.empty((), dtype=torch.int64).random_().item())  # as RandomSampler draws it
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(seed)).tolist()
        if not self.drop_last:
            yield from order
            return
        for start in range(0, self.n // self.global_batch * self.global_batch, self.global_batch):
            first = start + self.rank * self.batch
            yield from order[first : first + self.batch]


def train_loader(dataset, tcfg, drop_last: bool = True, collate_fn=None) -> DataLoader:
    """The training DataLoader of a TrainConfig: this process's batch_size / world slice of each global batch.

    With one process it yields the batches of DataLoader(dataset, batch_size, shuffle=True, drop_last) exactly.
    """
    rank, world = rank_and_world()
    if world > 1 and len(dataset) < tcfg.batch_size:
        raise ValueError(f"the dataset has {len(dataset)} samples, fewer than one global batch of {tcfg.batch_size}")
    sampler = GlobalBatchSampler(len(dataset), tcfg.batch_size, rank, world, drop_last=drop_last or world > 1)
    return DataLoader(dataset, batch_size=sampler.batch, sampler=sampler, drop_last=drop_last or world > 1,
                      num_workers=tcfg.num_workers, collate_fn=collate_fn)


def is_sharded(loader) -> bool:
    """Whether a DataLoader gives each process its own share (a GlobalBatchSampler or a DistributedSampler)."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, GlobalBatchSampler):
        return sampler.world == rank_and_world()[1]
    return isinstance(sampler, torch.utils.data.DistributedSampler)
