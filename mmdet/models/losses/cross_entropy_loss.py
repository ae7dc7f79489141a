"""Cross-entropy losses: softmax over classes, per-class sigmoid, and the
per-pixel sigmoid of Mask R-CNN's mask head."""

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from .utils import weight_reduce_loss

# PyTorch's default ``ignore_index`` of F.cross_entropy
DEFAULT_IGNORE_INDEX = -100


def cross_entropy(
    pred,
    label,
    weight=None,
    reduction='mean',
    avg_factor=None,
    class_weight=None,
    ignore_index=-100,
    avg_non_ignore=False,
):
    """Softmax cross entropy.

    Args:
        pred (Tensor): (N, C) logits.
        label (Tensor): (N,) class indices in ``[0, C)``.
        weight (Tensor, optional): (N,) per-sample weights.
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): divides the summed loss ('mean').
        class_weight (Tensor, optional): (C,) per-class weights.
        ignore_index (int | None): label that contributes nothing.
        avg_non_ignore (bool): with 'mean' and no ``avg_factor``, average
            over the labels that are not ignored only.
    """
    if ignore_index is None:
        ignore_index = DEFAULT_IGNORE_INDEX
    loss = F.cross_entropy(
        pred,
        label,
        weight=class_weight,
        reduction='none',
        ignore_index=ignore_index,
    )
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = label.numel() - (label == ignore_index).sum().item()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def _expand_onehot_labels(labels, label_weights, num_channels, ignore_index):
    """Class indices (N,) -> one-hot targets (N, C) and their weights.

    Labels outside ``[0, C)`` (e.g. the background index ``C``) give an
    all-zero row; ignored labels give a zero weight row.
    """
    valid = (labels >= 0) & (labels != ignore_index)
    onehot = labels.new_zeros(labels.size(0), num_channels)
    rows = torch.nonzero(valid & (labels < num_channels), as_tuple=True)[0]
    onehot[rows, labels[rows]] = 1
    valid_mask = valid.view(-1, 1).expand(-1, num_channels).float()
    if label_weights is None:
        weights = valid_mask
    else:
        weights = label_weights.view(-1, 1).expand(-1, num_channels)
        weights = weights * valid_mask
    return onehot, weights, valid_mask


def binary_cross_entropy(
    pred,
    label,
    weight=None,
    reduction='mean',
    avg_factor=None,
    class_weight=None,
    ignore_index=-100,
    avg_non_ignore=False,
):
    """Sigmoid (binary) cross entropy per class.

    Args:
        pred (Tensor): (N, C) logits, or any shape equal to ``label``'s.
        label (Tensor): (N,) class indices (expanded to one-hot, index
            ``C`` meaning background) or binary targets shaped like
            ``pred``.
        weight (Tensor, optional): (N,) per-sample or ``pred``-shaped
            weights.
        class_weight (Tensor, optional): ``pos_weight`` of
            ``F.binary_cross_entropy_with_logits``.
        Others as in :func:`cross_entropy`.
    """
    if ignore_index is None:
        ignore_index = DEFAULT_IGNORE_INDEX
    if pred.dim() != label.dim():
        label, weight, valid_mask = _expand_onehot_labels(
            label, weight, pred.size(-1), ignore_index
        )
    else:
        valid_mask = ((label >= 0) & (label != ignore_index)).float()
        weight = valid_mask if weight is None else weight * valid_mask
    if avg_non_ignore and avg_factor is None and reduction == 'mean':
        avg_factor = valid_mask.sum().item()
    loss = F.binary_cross_entropy_with_logits(
        pred, label.float(), pos_weight=class_weight, reduction='none'
    )
    return weight_reduce_loss(loss, weight.float(), reduction, avg_factor)


def mask_cross_entropy(
    pred,
    target,
    label,
    reduction='mean',
    avg_factor=None,
    class_weight=None,
    ignore_index=None,
    avg_non_ignore=False,
):
    """Per-pixel sigmoid cross entropy of each RoI's own class channel.

    Args:
        pred (Tensor): (R, C, h, w) mask logits (C = 1 if class agnostic).
        target (Tensor): (R, h, w) binary mask targets.
        label (Tensor): (R,) the class of each RoI, picks its channel.
        class_weight (Tensor, optional): per-pixel ``weight`` of the BCE.

    Returns:
        Tensor: shape (1,), the mean over every pixel of every RoI.
        (``reduction`` and ``avg_factor`` are accepted for a common
        interface; like MMDetection this loss is always a plain mean.)
    """
    assert ignore_index is None, 'ignore_index is not supported for masks'
    rois = torch.arange(pred.size(0), dtype=torch.long, device=pred.device)
    pred_slice = pred[rois, label]
    return F.binary_cross_entropy_with_logits(
        pred_slice, target, weight=class_weight, reduction='mean'
    )[None]


@LOSSES.register_module()
class CrossEntropyLoss(nn.Module):
    """Cross-entropy loss, softmax (default), sigmoid or per-pixel mask.

    Args:
        use_sigmoid (bool): per-class sigmoid instead of softmax.
        use_mask (bool): the mask head's loss (:func:`mask_cross_entropy`).
        reduction (str): 'none', 'mean' or 'sum'.
        class_weight (list[float], optional): weight of each class.
        ignore_index (int, optional): label to ignore.
        loss_weight (float): multiplies the loss.
        avg_non_ignore (bool): average over non-ignored labels only.
    """

    def __init__(
        self,
        use_sigmoid=False,
        use_mask=False,
        reduction='mean',
        class_weight=None,
        ignore_index=None,
        loss_weight=1.0,
        avg_non_ignore=False,
    ):
        super().__init__()
        if use_sigmoid and use_mask:
            raise InvalidArgumentError(
                'use_sigmoid and use_mask are exclusive'
            )
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        if (
            ignore_index is not None
            and not avg_non_ignore
            and reduction == 'mean'
        ):
            warnings.warn(
                'avg_non_ignore is False: the mean counts the '
                'ignored labels too; set avg_non_ignore=True to '
                'average over the others only.'
            )
        if use_sigmoid:
            self.cls_criterion = binary_cross_entropy
        elif use_mask:
            self.cls_criterion = mask_cross_entropy
        else:
            self.cls_criterion = cross_entropy

    def extra_repr(self):
        return f'avg_non_ignore={self.avg_non_ignore}'

    def forward(
        self,
        cls_score,
        label,
        weight=None,
        avg_factor=None,
        reduction_override=None,
        ignore_index=None,
    ):
        """Loss of ``cls_score`` against ``label``.

        Shapes: softmax: (N, C+1) logits, (N,) labels; sigmoid: (N, C)
        logits with (N,) labels (C meaning background) or (N, C) binary
        targets; mask: (R, C, h, w) logits, (R, h, w) targets, and the
        (R,) RoI labels in the third place (``loss(pred, targets,
        labels)``, as MMDetection's mask head calls it).
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = (
            reduction_override if reduction_override else self.reduction
        )
        if ignore_index is None:
            ignore_index = self.ignore_index
        class_weight = (
            None
            if self.class_weight is None
            else cls_score.new_tensor(self.class_weight)
        )
        loss = self.cls_criterion(
            cls_score,
            label,
            weight,
            class_weight=class_weight,
            reduction=reduction,
            avg_factor=avg_factor,
            ignore_index=ignore_index,
            avg_non_ignore=self.avg_non_ignore,
        )
        return self.loss_weight * loss
