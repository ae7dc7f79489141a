"""Faster R-CNN's box deltas ``(dx, dy, dw, dh)``.

For a reference box with centre ``(px, py)`` and size ``(pw, ph)``
(``pw = x2 - x1``, no +1) and a target box ``(gx, gy, gw, gh)``::

    dx = (gx - px) / pw        dy = (gy - py) / ph
    dw = log(gw / pw)          dh = log(gh / ph)

normalized as ``(d - mean) / std``. Decoding inverts this, clamping
``dw, dh`` to ``|log(wh_ratio_clip)|`` (so a box grows or shrinks at most
62.5 times) and clipping the boxes to the image.
"""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_CODERS
from ..transforms import clip_bboxes
from .base_bbox_coder import BaseBBoxCoder


@BBOX_CODERS.register_module()
class DeltaXYWHBBoxCoder(BaseBBoxCoder):
    """Encode boxes as normalized ``(dx, dy, dw, dh)`` deltas.

    Args:
        target_means (Sequence[float]): means of the deltas.
        target_stds (Sequence[float]): standard deviations of the deltas.
        clip_border (bool): clip decoded boxes to ``max_shape``.
        add_ctr_clamp (bool): when decoding, clamp the centre shift to
            ``ctr_clamp`` pixels each way and ``dw, dh`` only from above
            (YOLOF's decoding).
        ctr_clamp (int): the bound of the centre shift, in pixels.
    """

    def __init__(
        self,
        target_means=(0.0, 0.0, 0.0, 0.0),
        target_stds=(1.0, 1.0, 1.0, 1.0),
        clip_border=True,
        add_ctr_clamp=False,
        ctr_clamp=32,
    ):
        super().__init__()
        if len(target_means) != 4 or len(target_stds) != 4:
            raise InvalidArgumentError(
                'target_means and target_stds need 4 values, '
                f'got {target_means} and {target_stds}'
            )
        self.means = target_means
        self.stds = target_stds
        self.clip_border = clip_border
        self.add_ctr_clamp = add_ctr_clamp
        self.ctr_clamp = ctr_clamp

    def encode(self, bboxes, gt_bboxes):
        """Deltas that turn ``bboxes`` into ``gt_bboxes``.

        Args:
            bboxes (Tensor): (..., 4) reference boxes (anchors, proposals).
            gt_bboxes (Tensor): (..., 4) target boxes, the same shape.

        Returns:
            Tensor: (..., 4) float deltas.
        """
        if bboxes.size(0) != gt_bboxes.size(0):
            raise InvalidArgumentError(
                f'{bboxes.size(0)} boxes but {gt_bboxes.size(0)} targets'
            )
        if bboxes.size(-1) != 4 or gt_bboxes.size(-1) != 4:
            raise InvalidArgumentError(
                'boxes must be (..., 4), got '
                f'{tuple(bboxes.shape)} and '
                f'{tuple(gt_bboxes.shape)}'
            )
        return bbox2delta(bboxes, gt_bboxes, self.means, self.stds)

    def decode(
        self, bboxes, pred_bboxes, max_shape=None, wh_ratio_clip=16 / 1000
    ):
        """Boxes from reference boxes and predicted deltas.

        Args:
            bboxes (Tensor): (N, 4) or (B, N, 4) reference boxes.
            pred_bboxes (Tensor): (N, 4 * k) or (B, N, 4 * k) deltas, ``k``
                boxes per reference box (e.g. one per class).
            max_shape (tuple | list[tuple] | Tensor, optional): the image
                ``(H, W[, C])`` to clip to; for batched input one shape
                for all images or one per image.
            wh_ratio_clip (float): ``dw, dh`` are clamped to
                ``|log(wh_ratio_clip)|``.

        Returns:
            Tensor: boxes shaped like ``pred_bboxes``.
        """
        if pred_bboxes.size(0) != bboxes.size(0):
            raise InvalidArgumentError(
                f'{pred_bboxes.size(0)} predictions for {bboxes.size(0)} boxes'
            )
        if pred_bboxes.dim() == 3 and pred_bboxes.size(1) != bboxes.size(1):
            raise InvalidArgumentError(
                f'{pred_bboxes.size(1)} predictions per image '
                f'for {bboxes.size(1)} boxes'
            )
        return delta2bbox(
            bboxes,
            pred_bboxes,
            self.means,
            self.stds,
            max_shape,
            wh_ratio_clip,
            self.clip_border,
            self.add_ctr_clamp,
            self.ctr_clamp,
        )


def bbox2delta(
    proposals, gt, means=(0.0, 0.0, 0.0, 0.0), stds=(1.0, 1.0, 1.0, 1.0)
):
    """Normalized deltas from ``proposals`` to ``gt``.

    Args:
        proposals (Tensor): (..., 4) reference boxes.
        gt (Tensor): (..., 4) target boxes.
        means, stds (Sequence[float]): normalization of the deltas.

    Returns:
        Tensor: (..., 4) float deltas ``dx, dy, dw, dh``.
    """
    if proposals.size() != gt.size():
        raise InvalidArgumentError(
            f'proposals {tuple(proposals.shape)} and gt '
            f'{tuple(gt.shape)} differ in shape'
        )
    proposals = proposals.float()
    gt = gt.float()
    pxy = (proposals[..., :2] + proposals[..., 2:]) * 0.5
    pwh = proposals[..., 2:] - proposals[..., :2]
    gxy = (gt[..., :2] + gt[..., 2:]) * 0.5
    gwh = gt[..., 2:] - gt[..., :2]
    deltas = torch.cat([(gxy - pxy) / pwh, torch.log(gwh / pwh)], dim=-1)
    means = deltas.new_tensor(means)
    stds = deltas.new_tensor(stds)
    return (deltas - means) / stds


def delta2bbox(
    rois,
    deltas,
    means=(0.0, 0.0, 0.0, 0.0),
    stds=(1.0, 1.0, 1.0, 1.0),
    max_shape=None,
    wh_ratio_clip=16 / 1000,
    clip_border=True,
    add_ctr_clamp=False,
    ctr_clamp=32,
):
    """Apply normalized deltas to reference boxes.

    Args:
        rois (Tensor): (..., N, 4) reference boxes.
        deltas (Tensor): (..., N, 4 * k) deltas, k boxes per reference box.
        means, stds (Sequence[float]): normalization of the deltas.
        max_shape (tuple | list[tuple] | Tensor, optional): image
            ``(H, W[, C])`` to clip to, or one per image of a batch.
        wh_ratio_clip (float): bound of the size change, see module doc.
        clip_border (bool): clip to ``max_shape`` when it is given.
        add_ctr_clamp (bool): clamp the centre shift ``pw * dx, ph * dy``
            to ``[-ctr_clamp, ctr_clamp]`` pixels, and ``dw, dh`` only
            from above.
        ctr_clamp (float): that bound, in pixels.

    Returns:
        Tensor: (..., N, 4 * k) boxes ``x1, y1, x2, y2``.
    """
    if deltas.numel() == 0:
        return deltas
    if deltas.size(-1) % 4 != 0:
        raise InvalidArgumentError(
            f'deltas must have 4 * k columns, got {tuple(deltas.shape)}'
        )
    out_shape = deltas.shape
    # (..., N, k, 4) deltas against (..., N, 1, 4) boxes; k a constant in
    # an exported graph (ONNX Runtime turns a computed k into -1, which
    # N = 0 boxes cannot resolve)
    deltas = deltas.reshape(*out_shape[:-1], int(out_shape[-1]) // 4, 4)
    rois = rois[..., None, :].to(deltas.dtype)
    denorm = deltas * deltas.new_tensor(stds) + deltas.new_tensor(means)
    dxy, dwh = denorm[..., :2], denorm[..., 2:]

    pxy = (rois[..., :2] + rois[..., 2:]) * 0.5
    pwh = rois[..., 2:] - rois[..., :2]
    dxy_wh = pwh * dxy
    max_ratio = float(np.abs(np.log(wh_ratio_clip)))
    if add_ctr_clamp:
        dxy_wh = dxy_wh.clamp(min=-ctr_clamp, max=ctr_clamp)
        dwh = dwh.clamp(max=max_ratio)
    else:
        dwh = dwh.clamp(min=-max_ratio, max=max_ratio)
    gxy = pxy + dxy_wh
    gwh = pwh * dwh.exp()
    bboxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)

    bboxes = bboxes.reshape(out_shape)
    if clip_border and max_shape is not None:
        bboxes = clip_bboxes(bboxes, max_shape)
    return bboxes
