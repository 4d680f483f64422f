"""FID feature extraction: speed and memory of ganhelpers' streaming pipeline against pytorch-fid's own.

    python tests/benchmarks/bench_fid.py [--n 1000] [--batch-size 100] [--device auto] [--skip-reference]

Both sides run the same Inception-v3 (pytorch-fid's FID architecture; RANDOM weights, since the real
ones cannot be downloaded here: the compute is identical, the numbers mean nothing) on the same N
generated 32x32 images and finish with mean and covariance:

- reference: pytorch-fid's `calculate_activation_statistics` on a folder of PNG files (its protocol:
  a DataLoader of PIL images, `ToTensor` per image), all N activations kept in one array;
- ganhelpers: `eval.statistics.compute_statistics` drawing images straight from a DCGAN generator in batches,
  uint8-rounded as if saved to PNG, and streaming the features into running sums (memory O(F^2),
  whatever N).

It prints images/s of each and their ratio, and the peak resident memory each adds (sampled every
10 ms), the latter also for ganhelpers at N/4 to show that its memory does not grow with N.
On a CPU Inception-v3 at 299x299 is slow (a few images/s): --skip-reference times ganhelpers alone.
"""
from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import torch
from PIL import Image

from ganhelpers.core import get_device, seed_everything
from ganhelpers.data import to_uint8
from ganhelpers.eval import distances, extractors, statistics
from ganhelpers.models.dcgan import DCGANGenerator


class PeakRSS:
    """Peak resident set size (MB) above the level at entry, sampled every 10 ms from /proc."""

    def __enter__(self):
        self.base = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())
        self.added = self.peak - self.base


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the lifetime peak is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference(G, net, args, device):
    """pytorch-fid's own statistics of the same images, saved as PNG files first (not timed)."""
    from pytorch_fid import fid_score, inception as pf_inception
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, (x, _) in enumerate(statistics.batches(G, args.n, args.batch_size, device)):
            for j, img in enumerate(to_uint8(x).cpu()):  # (3, 32, 32) uint8
                path = Path(tmp) / f"{i * args.batch_size + j:06d}.png"
                Image.fromarray(img.permute(1, 2, 0).numpy()).save(path)
                files.append(path)
        with mock.patch.object(pf_inception, "fid_inception_v3", lambda: net):
            model = pf_inception.InceptionV3([3]).to(device)
            with PeakRSS() as mem:
                start = time.perf_counter()
                mu, sigma = fid_score.calculate_activation_statistics(files, model, args.batch_size, 2048, device,
                                                                      num_workers=0)
                seconds = time.perf_counter() - start
    return seconds, mu, sigma, mem


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="generated images (default 1000; 10000 on a GPU)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-reference", action="store_true", help="time ganhelpers only (no PNG/pytorch-fid pass)")
    p.add_argument("--record", help="write every number to this record (JSON), with the command and the machine")
    args = p.parse_args()
    started = time.time()
    device = get_device(args.device)
    seed_everything(0)
    G = DCGANGenerator(100, (3, 32, 32)).to(device).eval()
    extractor = extractors.InceptionExtractor(device, weights="random")
    net = None if args.skip_reference else extractors._fid_inception("random").to(device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"Inception-v3 (random weights), {args.n} generated 3x32x32 images, batch {args.batch_size}")

    ref_time = mu_ref = None
    if not args.skip_reference:
        ref_time, mu_ref, sigma_ref, ref_mem = reference(G, net, args, device)
    with PeakRSS() as our_mem:
        start = time.perf_counter()
        stats = statistics.compute_statistics(extractor, G, args.n, args.batch_size, device, kid_max=0)
        our_time = time.perf_counter() - start
    with PeakRSS() as small_mem:
        statistics.compute_statistics(extractor, G, max(2, args.n // 4), args.batch_size, device, kid_max=0)
    ratio = ""
    if ref_time is not None:
        print(f"pytorch-fid (PNG folder, all activations):  {args.n / ref_time:8.1f} images/s  "
              f"({ref_time:6.1f} s, +{ref_mem.added:6.0f} MB peak)")
        ratio = f"   ratio {ref_time / our_time:5.2f}x"
    print(f"ganhelpers (streamed from G, running sums):  {args.n / our_time:8.1f} images/s  "
          f"({our_time:6.1f} s, +{our_mem.added:6.0f} MB peak){ratio}")
    print(f"ganhelpers at N/4 = {max(2, args.n // 4)}:{'':<22}+{small_mem.added:6.0f} MB peak "
          f"(memory does not grow with N when the N line is not above this one)")
    if ref_time is not None:
        fd = distances.frechet_distance(stats.mean, stats.cov, mu_ref, sigma_ref)
        print(f"agreement: Fréchet distance between the two pipelines' statistics of the same images = {fd:.3g}")
    if device.type == "cuda":
        print(f"GPU peak allocated: {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")
    if args.record:
        from ganhelpers.records import save_record
        results = {"ganhelpers": {"images_per_s": args.n / our_time, "seconds": our_time, "peak_mb": our_mem.added},
                   "ganhelpers_quarter": {"n": max(2, args.n // 4), "peak_mb": small_mem.added}}
        if ref_time is not None:
            results["pytorch_fid"] = {"images_per_s": args.n / ref_time, "seconds": ref_time, "peak_mb": ref_mem.added}
            results["ratio"], results["agreement_fd"] = ref_time / our_time, float(fd)
        save_record(args.record, "python tests/benchmarks/bench_fid.py " + shlex.join(sys.argv[1:]), vars(args),
                    results, device=device, started=started, benchmark="bench_fid")


if __name__ == "__main__":
    main()
