"""Speed of the built-in dataset generator: clips per second, per class and overall (no cache)."""
import time

import numpy as np
import torch

from intermask_lite.data import synthetic


def main(n_clips: int = 2000, seed: int = 0):
    torch.set_num_threads(1)
    per_class = {label: [] for label in synthetic.CLASSES}
    start = time.perf_counter()
    for i in range(n_clips):
        label = synthetic.CLASSES[i % len(synthetic.CLASSES)]
        t0 = time.perf_counter()
        synthetic.make_clip(label, np.random.default_rng([seed, i]))
        per_class[label].append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    print(f"{'class':14s} {'ms/clip':>8s}")
    for label, times in per_class.items():
        print(f"{label:14s} {1000 * np.mean(times):8.2f}")
    print(f"{'all':14s} {1000 * total / n_clips:8.2f}   ->  {n_clips / total:.0f} clips/s, "
          f"{n_clips} clips in {total:.1f} s (one process, one thread)")


if __name__ == "__main__":
    main()
