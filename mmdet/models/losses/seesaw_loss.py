"""Seesaw loss (Wang et al., CVPR 2021) for long-tailed classification.

The classifier emits ``num_classes + 2`` logits: the classes, then an
objectness pair (foreground, background). Foreground RoIs get a softmax
cross entropy over the classes whose negative logits are shifted by
``log S_ij``; every RoI gets a plain cross entropy on objectness.
"""

import torch
import torch.nn.functional as F

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .accuracy import accuracy
from .cross_entropy_loss import cross_entropy
from .utils import weight_reduce_loss


def _mitigation(cum_samples, labels, p):
    """(N, C) factor ``(n_j / n_i) ** p`` where class j is rarer than the
    label i, else 1."""
    counts = cum_samples.clamp(min=1)
    ratio = counts[None, :] / counts[:, None]
    factor = torch.where(ratio < 1.0, ratio.pow(p), torch.ones_like(ratio))
    return factor[labels]


def _compensation(cls_score, labels, q, eps):
    """(N, C) factor ``(s_j / s_i) ** q`` where class j scores above the
    label i (softmax, no gradient), else 1."""
    scores = F.softmax(cls_score.detach(), dim=1)
    own = scores.gather(1, labels[:, None]).clamp(min=eps)
    ratio = scores / own
    return torch.where(ratio > 1.0, ratio.pow(q), torch.ones_like(ratio))


def seesaw_ce_loss(
    cls_score,
    labels,
    label_weights,
    cum_samples,
    num_classes,
    p,
    q,
    eps,
    reduction='mean',
    avg_factor=None,
):
    """Seesaw cross entropy of (N, C) class logits against (N,) labels in
    ``[0, C)``; ``cum_samples`` (C,) counts the labels seen so far."""
    if cls_score.size(-1) != num_classes or len(cum_samples) != num_classes:
        raise InvalidArgumentError(
            f'seesaw_ce_loss expects {num_classes} classes, got scores '
            f'{tuple(cls_score.shape)} and {len(cum_samples)} counts'
        )
    labels = labels.long()
    weights = cls_score.new_ones(cls_score.shape)
    if p > 0:
        weights = weights * _mitigation(cum_samples, labels, p)
    if q > 0:
        weights = weights * _compensation(cls_score, labels, q, eps)
    onehot = F.one_hot(labels, num_classes)
    # the label's own logit keeps weight 1 (log 1 = 0)
    shifted = cls_score + weights.log() * (1 - onehot)
    loss = F.cross_entropy(shifted, labels, reduction='none')
    if label_weights is not None:
        label_weights = label_weights.float()
    return weight_reduce_loss(loss, label_weights, reduction, avg_factor)


@LOSSES.register_module()
class SeesawLoss(WeightedLoss):
    """Seesaw loss with an objectness branch.

    Args:
        use_sigmoid (bool): must be False (softmax only).
        p (float): exponent of the mitigation factor.
        q (float): exponent of the compensation factor.
        num_classes (int): foreground classes (1203 for LVIS v1).
        eps (float): floor of the label's score in the compensation ratio.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies both terms.
        return_dict (bool): return ``loss_cls_objectness`` and
            ``loss_cls_classes`` separately instead of their sum.

    The ``cum_samples`` buffer (num_classes + 1,) counts every label seen in
    training (background last); it is part of the state dict.
    """

    def __init__(
        self,
        use_sigmoid=False,
        p=0.8,
        q=2.0,
        num_classes=1203,
        eps=1e-2,
        reduction='mean',
        loss_weight=1.0,
        return_dict=True,
    ):
        super().__init__(reduction, loss_weight)
        if use_sigmoid:
            raise InvalidArgumentError('SeesawLoss supports softmax only')
        self.use_sigmoid = False
        self.p = p
        self.q = q
        self.num_classes = num_classes
        self.eps = eps
        self.return_dict = return_dict
        self.cls_criterion = seesaw_ce_loss
        self.register_buffer(
            'cum_samples', torch.zeros(num_classes + 1, dtype=torch.float)
        )
        # read by BBoxHead: C + 2 outputs, own activation and accuracy
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def get_cls_channels(self, num_classes):
        """Classifier outputs: the classes and the objectness pair."""
        if num_classes != self.num_classes:
            raise InvalidArgumentError(
                f'SeesawLoss was built for {self.num_classes} classes, '
                f'the head has {num_classes}'
            )
        return num_classes + 2

    def _split_cls_score(self, cls_score):
        """(..., C + 2) -> class logits (..., C), objectness (..., 2)."""
        if cls_score.size(-1) != self.num_classes + 2:
            raise InvalidArgumentError(
                f'SeesawLoss expects {self.num_classes + 2} logits, '
                f'got {cls_score.size(-1)}'
            )
        return cls_score[..., :-2], cls_score[..., -2:]

    def get_activation(self, cls_score):
        """(..., C + 2) logits -> (..., C + 1) scores: class softmax times
        the foreground probability, then the background probability."""
        classes, objectness = self._split_cls_score(cls_score)
        class_prob = F.softmax(classes, dim=-1)
        obj_prob = F.softmax(objectness, dim=-1)
        fg, bg = obj_prob[..., :1], obj_prob[..., 1:]
        return torch.cat([class_prob * fg, bg], dim=-1)

    def get_accuracy(self, cls_score, labels):
        """Objectness accuracy over all RoIs, class accuracy over the
        foreground ones (percent)."""
        pos = labels < self.num_classes
        obj_labels = (labels == self.num_classes).long()
        classes, objectness = self._split_cls_score(cls_score)
        return dict(
            acc_objectness=accuracy(objectness, obj_labels),
            acc_classes=accuracy(classes[pos], labels[pos]),
        )

    def _count(self, labels):
        self.cum_samples += torch.bincount(
            labels.long(), minlength=self.num_classes + 1
        ).to(self.cum_samples)

    def forward(
        self,
        cls_score,
        labels,
        label_weights=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of (N, C + 2) logits against (N,) labels in ``[0, C]``
        (C = background); updates ``cum_samples`` first."""
        reduction = self._reduction(reduction_override)
        classes, objectness = self._split_cls_score(cls_score)
        self._count(labels)
        if label_weights is None:
            label_weights = labels.new_ones(labels.shape, dtype=torch.float)
        label_weights = label_weights.float()
        pos = labels < self.num_classes
        if pos.any():
            loss_classes = self.loss_weight * self.cls_criterion(
                classes[pos],
                labels[pos],
                label_weights[pos],
                self.cum_samples[: self.num_classes],
                self.num_classes,
                self.p,
                self.q,
                self.eps,
                reduction,
                avg_factor,
            )
        else:
            loss_classes = classes[pos].sum()
        obj_labels = (labels == self.num_classes).long()
        loss_objectness = self.loss_weight * cross_entropy(
            objectness, obj_labels, label_weights, reduction, avg_factor
        )
        if not self.return_dict:
            return loss_classes + loss_objectness
        return dict(
            loss_cls_objectness=loss_objectness,
            loss_cls_classes=loss_classes,
        )
