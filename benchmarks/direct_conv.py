"""Stride-1 sparse convolution: the direct product on the padded input against the patch path
and torch's dense convolution, same weights, interleaved in one process (medians, load printed).

Layers of the real networks' shapes (VGG16-BN / CRAFT and the ocr-crnn recognizer), 3 x 3,
padding 1, 90 % unstructured (CSR), float32; outputs checked against torch first.

    PYTHONPATH=src python benchmarks/direct_conv.py [--sparsity 0.9] [--rounds 9]
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F

from sparsegrain.core.timing import interleaved_ms
from sparsegrain.kernels.build import kernel_for
from sparsegrain.kernels.conv import conv2d, patch_product
from sparsegrain.patterns import pattern, to_matrix

#: (C_in, C_out, N, H, W): CRAFT's first VGG block and a middle one on 160 x 256 pages,
#: ocr-crnn's 256-channel layer on 16 word crops, a late VGG layer
LAYERS = ((64, 64, 4, 160, 256), (128, 128, 4, 80, 128), (256, 256, 16, 8, 48),
          (512, 512, 4, 20, 32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(0)
    print(f"torch threads {torch.get_num_threads()}, {args.sparsity:.0%} unstructured; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| C_in -> C_out | input | dense ms | patches ms | direct ms | direct vs patches "
          "| direct vs dense |")
    print("|---|---|---|---|---|---|---|")
    for c_in, c_out, n, h, w in LAYERS:
        ms = time_layer(c_in, c_out, (n, h, w), args, gen)
        print(f"| {c_in} -> {c_out} | {n} x {h} x {w} | {ms['dense']:.2f} | {ms['patches']:.2f} "
              f"| {ms['direct']:.2f} | {ms['patches'] / ms['direct']:.2f}x "
              f"| {ms['dense'] / ms['direct']:.2f}x |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def time_layer(c_in: int, c_out: int, size: tuple[int, int, int], args: argparse.Namespace,
               gen: torch.Generator) -> dict[str, float]:
    """Milliseconds of dense, patches and direct for one 3 x 3 layer on n x h x w inputs."""
    n, h, w = size
    weight = torch.randn(c_out, c_in, 3, 3, generator=gen)
    m = to_matrix(weight) * pattern("unstructured").mask(to_matrix(weight), args.sparsity)
    weight = m.reshape(c_out, 3, 3, c_in).permute(0, 3, 1, 2).contiguous()
    kernel = kernel_for(m, "csr")
    x = torch.randn(n, c_in, h, w, generator=gen)
    torch.testing.assert_close(conv2d(kernel, x, (3, 3), (1, 1), (1, 1)),
                               F.conv2d(x, weight, padding=1), rtol=1e-4, atol=1e-3)
    return interleaved_ms({
        "dense": lambda: F.conv2d(x, weight, padding=1),
        "patches": lambda: patch_product(kernel, x, (3, 3), (1, 1), (1, 1), (1, 1), (h, w)),
        "direct": lambda: conv2d(kernel, x, (3, 3), (1, 1), (1, 1)),
    }, rounds=args.rounds, min_sample_s=0.05)


if __name__ == "__main__":
    main()
