"""Overlaps (IoU, IoF, GIoU) between sets of axis-aligned boxes."""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from .builder import IOU_CALCULATORS

MODES = ('iou', 'iof', 'giou')


def _area(bboxes):
    """(..., 4) boxes -> (...) areas (no +1: width is ``x2 - x1``)."""
    widths = bboxes[..., 2] - bboxes[..., 0]
    heights = bboxes[..., 3] - bboxes[..., 1]
    return widths * heights


def _clamped_wh(lt, rb):
    """Width and height between top-left ``lt`` and bottom-right ``rb``
    corners (..., 2), 0 where they do not overlap."""
    return (rb - lt).clamp(min=0)


def bbox_overlaps(bboxes1, bboxes2, mode='iou', is_aligned=False, eps=1e-6):
    """Overlaps between two sets of boxes ``x1, y1, x2, y2``.

    Args:
        bboxes1 (Tensor): (..., M, 4) boxes, or empty.
        bboxes2 (Tensor): (..., N, 4) boxes, or empty; the leading batch
            dims equal those of ``bboxes1``.
        mode (str): 'iou' (intersection over union), 'iof' (intersection
            over the area of ``bboxes1``, the foreground) or 'giou'
            (generalized IoU, in [-1, 1]).
        is_aligned (bool): compare ``bboxes1[i]`` with ``bboxes2[i]`` only
            (requires M == N) instead of every pair.
        eps (float): lower bound of the denominators, so degenerate boxes
            give 0 (or -1 for GIoU with no enclosing area) instead of NaN.

    Returns:
        Tensor: (..., M, N), or (..., M) when aligned.

    Example:
        >>> a = torch.FloatTensor([[0, 0, 10, 10], [10, 10, 20, 20]])
        >>> b = torch.FloatTensor([[0, 0, 10, 20]])
        >>> bbox_overlaps(a, b)
        tensor([[0.5000],
                [0.0000]])
    """
    if mode not in MODES:
        raise InvalidArgumentError(
            f'mode must be one of {MODES}, got {mode!r}'
        )
    for name, boxes in (('bboxes1', bboxes1), ('bboxes2', bboxes2)):
        if not (boxes.size(-1) == 4 or boxes.numel() == 0):
            raise InvalidArgumentError(
                f'{name} must be (..., 4) boxes, got shape '
                f'{tuple(boxes.shape)}'
            )
    if bboxes1.shape[:-2] != bboxes2.shape[:-2]:
        raise InvalidArgumentError(
            'bboxes1 and bboxes2 need the same batch dims, got '
            f'{tuple(bboxes1.shape)} and {tuple(bboxes2.shape)}'
        )
    batch_shape = bboxes1.shape[:-2]
    rows, cols = bboxes1.size(-2), bboxes2.size(-2)
    if is_aligned and rows != cols:
        raise InvalidArgumentError(
            f'aligned overlaps need as many boxes on both '
            f'sides, got {rows} and {cols}'
        )
    if rows * cols == 0:
        shape = (rows,) if is_aligned else (rows, cols)
        return bboxes1.new_zeros(batch_shape + shape)

    if not is_aligned:
        # (..., M, 1, 4) against (..., 1, N, 4)
        bboxes1 = bboxes1[..., :, None, :]
        bboxes2 = bboxes2[..., None, :, :]
    area1, area2 = _area(bboxes1), _area(bboxes2)
    lt = torch.max(bboxes1[..., :2], bboxes2[..., :2])
    rb = torch.min(bboxes1[..., 2:], bboxes2[..., 2:])
    wh = _clamped_wh(lt, rb)
    overlap = wh[..., 0] * wh[..., 1]

    union = (
        area1 + area2 - overlap
        if mode in ('iou', 'giou')
        else area1.expand_as(overlap)
    )
    eps = union.new_tensor([eps])
    union = torch.max(union, eps)
    ious = overlap / union
    if mode != 'giou':
        return ious

    enclose_lt = torch.min(bboxes1[..., :2], bboxes2[..., :2])
    enclose_rb = torch.max(bboxes1[..., 2:], bboxes2[..., 2:])
    enclose_wh = _clamped_wh(enclose_lt, enclose_rb)
    enclose_area = torch.max(enclose_wh[..., 0] * enclose_wh[..., 1], eps)
    return ious - (enclose_area - union) / enclose_area


@IOU_CALCULATORS.register_module()
class BboxOverlaps2D:
    """2D overlaps as a configurable object (see :func:`bbox_overlaps`).

    Args:
        scale (float): with ``dtype='fp16'`` the boxes are divided by it
            before the cast, to keep large coordinates in range.
        dtype (str, optional): 'fp16' computes in half precision to save
            memory; the result is float32 on the CPU.
    """

    def __init__(self, scale=1.0, dtype=None):
        if dtype not in (None, 'fp16'):
            raise InvalidArgumentError(
                f"dtype must be None or 'fp16', got {dtype!r}"
            )
        self.scale = scale
        self.dtype = dtype

    def __call__(self, bboxes1, bboxes2, mode='iou', is_aligned=False):
        """Overlaps of (..., M, 4|5) and (..., N, 4|5) boxes (a 5th column,
        a score, is ignored); see :func:`bbox_overlaps`."""
        for name, boxes in (('bboxes1', bboxes1), ('bboxes2', bboxes2)):
            if boxes.size(-1) not in (0, 4, 5):
                raise InvalidArgumentError(
                    f'{name} must have 4 or 5 columns, got '
                    f'shape {tuple(boxes.shape)}'
                )
        if bboxes1.size(-1) == 5:
            bboxes1 = bboxes1[..., :4]
        if bboxes2.size(-1) == 5:
            bboxes2 = bboxes2[..., :4]
        if self.dtype == 'fp16':
            bboxes1 = (bboxes1 / self.scale).half()
            bboxes2 = (bboxes2 / self.scale).half()
            overlaps = bbox_overlaps(bboxes1, bboxes2, mode, is_aligned)
            if not overlaps.is_cuda:
                overlaps = overlaps.float()
            return overlaps
        return bbox_overlaps(bboxes1, bboxes2, mode, is_aligned)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(scale={self.scale}, '
            f'dtype={self.dtype})'
        )
