"""Batch gather from a uint8 dataset on the CPU: `x[idx]` against `x.index_select(0, idx)`, the choice behind
`data.sampler.BatchSampler` (ganhelpers/TUNING.md). Prints both times and their ratio for 3 index draws.

    python tests/benchmarks/bench_gather.py
"""
import platform
import time

import torch


def per_call(fn, n: int = 2000) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    torch.set_num_threads(1)
    x = torch.randint(0, 256, (50000, 3, 32, 32), dtype=torch.uint8)  # a CIFAR-10-sized uint8 set
    for repeat in range(3):
        idx = torch.randint(0, len(x), (64,), generator=torch.Generator().manual_seed(repeat))  # one batch
        fancy, gather = per_call(lambda: x[idx]), per_call(lambda: x.index_select(0, idx))
        print(f"repeat {repeat}: x[idx] {fancy * 1e6:.1f} us, x.index_select(0, idx) {gather * 1e6:.1f} us, "
              f"ratio {fancy / gather:.1f}x")
    print(f"torch {torch.__version__}, 1 thread, {platform.machine()}")


if __name__ == "__main__":
    main()
