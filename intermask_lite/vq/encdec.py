"""Convolutional encoders and decoders of the tokenizer.

One Encoder and one Decoder; `dims` picks the convolutions, the layers are the same:

dims=2 (the paper's tokenizer): convolutions over (joints, time) on the (12, 22, T) feature grid. Two stride-2
stages with 4x4 kernels take joints 22 -> 11 -> 5 and time T -> T/4; each stage is followed by residual
blocks of dilated 3x3 convolutions. The decoder mirrors it: residual blocks, then nearest-neighbour
upsampling to an explicit size (joints 5 -> 11 -> 22, time x2) and a 3x3 convolution.

dims=1 (ablation): the same design with 1D convolutions over time only (kernels 4 and 3 instead of 4x4 and
3x3); all 12 * 22 channels enter at once and each time step of the latent is one token.

The 2D networks take their inputs channels-last (a memory layout only: the same computation, up to float
rounding); with oneDNN convolutions a CPU training step runs about 13 % faster that way.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn


JOINT_SIZES = (22, 11, 5)  # joint axis length at the input, after stage 1, after stage 2


LAYOUTS = {"channels_last": torch.channels_last, "standard": torch.contiguous_format}


def conv_layout(x: torch.Tensor) -> torch.memory_format:
    """The memory layout of the 2D convolutions' inputs: $INTERMASK_CONV_LAYOUT, "channels_last" by default.

    Both layouts compute the same numbers; which is faster depends on the processor. `python
    benchmarks/bench_conv_layout.py` times a training step in each: on the kit's 2-core AVX2 machine (float32)
    channels-last was 7-10 % faster with 1 and with 2 threads, and on CPUs with native bf16 under bf16 autocast, but
    another AVX2 CPU measured it about 10 % slower; there set INTERMASK_CONV_LAYOUT=standard."""
    name = os.environ.get("INTERMASK_CONV_LAYOUT", "channels_last")
    if name not in LAYOUTS:
        raise ValueError(f"INTERMASK_CONV_LAYOUT={name!r}; expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def conv_class(dims: int) -> type[nn.Module]:
    """nn.Conv2d for dims=2 (joints x time), nn.Conv1d for dims=1 (time)."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims!r}")
    return nn.Conv2d if dims == 2 else nn.Conv1d


def to_layout(x: torch.Tensor, dims: int) -> torch.Tensor:
    """A 2D network's input in the chosen memory layout (conv_layout); 1D inputs as they are."""
    return x.contiguous(memory_format=conv_layout(x)) if dims == 2 else x


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3_dilated(relu(x)))), in 1D or 2D."""

    def __init__(self, width: int, dilation: int, dims: int):
        super().__init__()
        conv = conv_class(dims)
        self.conv1 = conv(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = conv(width, width, 1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def res_stack(width: int, depth: int, growth: int, dims: int, reverse: bool = False) -> nn.Sequential:
    """`depth` residual blocks with dilations 1, growth, growth^2, ... (reversed in the decoder)."""
    dilations = [growth ** i for i in range(depth)]
    if reverse:
        dilations = dilations[::-1]
    return nn.Sequential(*[ResBlock(width, d, dims) for d in dilations])


class Encoder(nn.Module):
    """dims=2: (B, C_in, 22, T) -> (B, code_dim, 5, T/4); dims=1: (B, C_in, T) -> (B, code_dim, T/4)."""

    def __init__(self, in_ch: int, width: int, code_dim: int, depth: int, growth: int, dims: int = 2):
        super().__init__()
        conv, self.dims = conv_class(dims), dims
        layers = [conv(in_ch, width, 3, padding=1), nn.ReLU()]
        for _ in range(2):                                             # joints 22 -> 11 -> 5 (2D), time / 2 each
            layers += [conv(width, width, 4, stride=2, padding=1), res_stack(width, depth, growth, dims)]
        layers.append(conv(width, code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(to_layout(x, self.dims))                       # (B, code_dim, [5,] T/4)


class UpStage(nn.Module):
    """Residual blocks, nearest upsampling to an explicit size, then a 3x3 (or 3) convolution."""

    def __init__(self, width: int, depth: int, growth: int, dims: int, n_joints_out: int | None):
        super().__init__()
        self.res = res_stack(width, depth, growth, dims, reverse=True)
        self.conv = conv_class(dims)(width, width, 3, padding=1)
        self.n_joints_out = n_joints_out

    def forward(self, x):
        x = self.res(x)
        if self.n_joints_out is None:
            size = (x.shape[-1] * 2,)                       # time x2
        else:
            size = (self.n_joints_out, x.shape[-1] * 2)     # joints to the next size, time x2
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Decoder(nn.Module):
    """dims=2: (B, code_dim, 5, T/4) -> (B, C_out, 22, T); dims=1: (B, code_dim, T/4) -> (B, C_out, T)."""

    def __init__(self, out_ch: int, width: int, code_dim: int, depth: int, growth: int, dims: int = 2):
        super().__init__()
        conv, self.dims = conv_class(dims), dims
        joints = (JOINT_SIZES[1], JOINT_SIZES[0]) if dims == 2 else (None, None)  # 5 -> 11 -> 22; 1D: none
        self.net = nn.Sequential(
            conv(code_dim, width, 3, padding=1), nn.ReLU(),
            UpStage(width, depth, growth, dims, joints[0]),
            UpStage(width, depth, growth, dims, joints[1]),
            conv(width, width, 3, padding=1), nn.ReLU(),
            conv(width, out_ch, 3, padding=1),
        )

    def forward(self, z):
        return self.net(to_layout(z, self.dims))                       # (B, C_out, [22,] T)
