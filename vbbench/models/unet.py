"""The seed paper's compact U-Net for portrait matting (PyTorch).

Encoder blocks run parallel depthwise 3×3 convolutions with different dilation rates on the same
input, concatenate them and project with a 1×1 convolution to fewer channels with no activation
after it (a MobileNetV2-style linear bottleneck). Decoder blocks upsample ×2, concatenate the
encoder's skip connection and apply a depthwise-separable convolution. The head predicts one
channel; ``forward`` returns alpha in [0, 1] through a sigmoid, ``logits`` the values before it.

The total stride is ``2 ** (len(widths))`` = 16 by default, so inputs whose sides are multiples of
16 work, in particular 256×256 and the 16:9 input 256×144 (W×H).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["UNetConfig", "CompactUNet", "count_parameters", "count_macs"]


@dataclass(frozen=True)
class UNetConfig:
    """Width and depth of the network.

    Attributes
    ----------
    stem : int
        Channels of the first (stride-2) convolution.
    widths : tuple of int
        Output channels of each encoder block; each block halves the resolution.
    dilations : tuple of int
        Dilation rates of the parallel depthwise convolutions in an encoder block.
    """

    stem: int = 16
    widths: tuple[int, ...] = (24, 48, 96)
    dilations: tuple[int, ...] = (1, 2, 4)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.widths) + 1)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv_bn(
    cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, dilation: int = 1, activation: bool = True
) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, padding, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if activation:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class EncoderBlock(nn.Module):
    """Parallel dilated depthwise 3×3 convolutions (stride 2), concatenated, then a linear 1×1
    bottleneck projection."""

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...]):
        super().__init__()
        self.branches = nn.ModuleList(_conv_bn(cin, cin, 3, stride=2, groups=cin, dilation=d) for d in dilations)
        self.project = _conv_bn(cin * len(dilations), cout, 1, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


class DecoderBlock(nn.Module):
    """×2 upsampling, concatenation with the skip connection, depthwise-separable convolution."""

    def __init__(self, cin: int, skip: int, cout: int):
        super().__init__()
        # scale_factor, not size=: exports to ONNX and Core ML without shape arithmetic.
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.depthwise = _conv_bn(cin + skip, cin + skip, 3, groups=cin + skip)
        self.pointwise = _conv_bn(cin + skip, cout, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(torch.cat([self.upsample(x), skip], dim=1)))


class CompactUNet(nn.Module):
    """The reference model. Input: RGB in [0, 1], shape (N, 3, H, W) with H, W multiples of
    ``config.stride``. Output: alpha in [0, 1], shape (N, 1, H, W)."""

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        self.stem = _conv_bn(3, config.stem, 3, stride=2)
        channels = [config.stem, *config.widths]
        self.encoder = nn.ModuleList(
            EncoderBlock(cin, cout, config.dilations) for cin, cout in zip(channels[:-1], channels[1:])
        )
        self.decoder = nn.ModuleList(
            DecoderBlock(channels[i + 1], channels[i], channels[i]) for i in reversed(range(len(config.widths)))
        )
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        # Depthwise-separable too: a full 3×3 convolution at full resolution cost 60 % of the MACs.
        self.head = nn.Sequential(
            _conv_bn(config.stem + 3, config.stem + 3, 3, groups=config.stem + 3),
            _conv_bn(config.stem + 3, 8, 1),
            nn.Conv2d(8, 1, 1),
        )

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        if height % self.config.stride or width % self.config.stride:
            raise ValueError(f"input {width}×{height} (W×H): both sides must be multiples of {self.config.stride}")
        skips = [self.stem(image)]
        for block in self.encoder:
            skips.append(block(skips[-1]))
        x = skips.pop()
        for block in self.decoder:
            x = block(x, skips.pop())
        # The head sees the full-resolution image again, for sharp hair edges.
        return self.head(torch.cat([self.upsample(x), image], dim=1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(image))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, width: int, height: int) -> int:
    """Multiply-accumulates of one forward pass at W×H, counted on every convolution:
    out_h·out_w·out_channels·(in_channels / groups)·k_h·k_w (BatchNorm, activations and
    upsampling are not counted)."""
    total = 0

    def hook(module: nn.Conv2d, _inputs, output):
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() // output.shape[0] * (module.in_channels // module.groups) * kernel

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, height, width))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    return total
