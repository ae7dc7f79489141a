"""Associative embedding loss (Newell et al., 2017) of CornerNet: pulls
the embeddings of an object's two corners together and pushes the means
of different objects at least 1 apart."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..builder import LOSSES


def ae_loss_per_image(tl_preds, br_preds, match):
    """Pull and push losses of one image.

    Args:
        tl_preds, br_preds (Tensor): (D, H, W) corner embeddings.
        match (list): per gt ``[[tl_y, tl_x], [br_y, br_x]]`` on the map.

    Returns:
        tuple[Tensor, Tensor]: pull = mean over objects of the squared
        distances of both corners to their mean; push = mean over ordered
        pairs of distinct objects of ``relu(1 - |sum(e_i - e_j)|)``.
    """
    if len(match) == 0:
        zero = tl_preds.sum() * 0.0
        return zero, zero
    tl = torch.stack([tl_preds[:, ty, tx] for (ty, tx), _ in match])
    br = torch.stack([br_preds[:, by, bx] for _, (by, bx) in match])
    # (N, D) -> (N*D, 1) rows, as the reference counts N = objects * D
    tl, br = tl.reshape(-1, 1), br.reshape(-1, 1)
    mean = (tl + br) / 2.0
    n = tl.size(0)
    pull = ((tl - mean).pow(2) + (br - mean).pow(2)).sum() / n
    if n == 1:
        return pull, tl_preds.sum() * 0.0
    diff = (mean[:, None, :] - mean[None, :, :]).sum(-1).abs()
    off_diag = 1 - torch.eye(n).type_as(mean)
    push = F.relu(off_diag * (1 - diff)).sum() / (n * (n - 1))
    return pull, push


@LOSSES.register_module()
class AssociativeEmbeddingLoss(nn.Module):
    """Summed over images: ``pull_weight * pull`` and
    ``push_weight * push`` (see :func:`ae_loss_per_image`).

    Args:
        pull_weight (float): weight of the pull loss.
        push_weight (float): weight of the push loss.
    """

    def __init__(self, pull_weight=0.25, push_weight=0.25):
        super().__init__()
        self.pull_weight = pull_weight
        self.push_weight = push_weight

    def forward(self, pred, target, match):
        """pred, target: (B, D, H, W) top-left / bottom-right embeddings;
        match: per image the corner pairs -> (pull, push)."""
        pull_all, push_all = 0.0, 0.0
        for i in range(pred.size(0)):
            pull, push = ae_loss_per_image(pred[i], target[i], match[i])
            pull_all += self.pull_weight * pull
            push_all += self.push_weight * push
        return pull_all, push_all
