"""The seed paper's training loss: L = L1 + BCE + gradient loss.

The gradient term is the L1 form of the seed's Sobel-like operator,
½·mean(|S∗A − S∗A_gt| + |Sᵀ∗A − Sᵀ∗A_gt|), with S = ``vbbench.metrics.SOBEL_KERNEL`` (defined once,
shared with the ``sobel_l1`` metric), true convolution and replicated borders, so on a single
image it equals :func:`vbbench.metrics.sobel_l1` exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vbbench.metrics import SOBEL_KERNEL

__all__ = ["sobel_l1_loss", "matting_loss"]


def _sobel_weights(device, dtype) -> torch.Tensor:
    kernel = torch.as_tensor(SOBEL_KERNEL, dtype=dtype, device=device)
    # conv2d correlates; flipping the kernel makes it the true convolution the metric uses.
    return torch.stack([kernel.flip(0, 1), kernel.T.flip(0, 1)]).unsqueeze(1)  # (2, 1, 3, 3)


def sobel_l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """½·mean(|dx(p) − dx(g)| + |dy(p) − dy(g)|) over the batch; inputs (N, 1, H, W) in [0, 1]."""
    weights = _sobel_weights(pred.device, pred.dtype)
    difference = F.pad(pred - target, (1, 1, 1, 1), mode="replicate")  # linear: ∇p − ∇g = ∇(p − g)
    gradients = F.conv2d(difference, weights)
    return 0.5 * gradients.abs().sum(dim=1).mean()


def matting_loss(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 + BCE + Sobel gradient loss, from the network's logits.

    Returns
    -------
    (loss, parts) : the total (a tensor to backpropagate) and each term as a float.
    """
    alpha = torch.sigmoid(logits)
    l1 = (alpha - target).abs().mean()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    gradient = sobel_l1_loss(alpha, target)
    total = l1 + bce + gradient
    parts = {
        name: float(value.detach())
        for name, value in (("l1", l1), ("bce", bce), ("gradient", gradient), ("total", total))
    }
    return total, parts
