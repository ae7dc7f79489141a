"""Small tensor helpers shared by the heads."""

from functools import partial

import numpy as np
import torch

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)


def multi_apply(func, *args, **kwargs):
    """Call ``func`` on each position of the ``args`` lists (``kwargs``
    shared) and regroup its tuple results.

    Returns:
        tuple[list]: one list per element of ``func``'s result, e.g.
        ``([cls_0, cls_1, ...], [reg_0, reg_1, ...])``.
    """
    call = partial(func, **kwargs) if kwargs else func
    return tuple(map(list, zip(*map(call, *args))))


def unmap(data, count, inds, fill=0):
    """Scatter ``data`` back into a tensor of ``count`` rows.

    Args:
        data (Tensor): (k, ...) values of the selected rows.
        count (int): rows of the result.
        inds (Tensor): (count,) bool (or 0/1) mask with k True entries.
        fill (number): value of the other rows.

    Returns:
        Tensor: (count, ...).
    """
    ret = data.new_full((count,) + tuple(data.shape[1:]), fill)
    ret[inds.bool()] = data
    return ret


def select_single_mlvl(mlvl_tensors, batch_id, detach=True):
    """The maps of image ``batch_id`` from per-level (B, ...) tensors.

    Args:
        mlvl_tensors (list[Tensor] | tuple[Tensor]): one tensor per level.
        batch_id (int): the image.
        detach (bool): detach the selected maps from the graph.

    Returns:
        list[Tensor]: per level the image's (...) map.
    """
    if not isinstance(mlvl_tensors, (list, tuple)):
        raise InvalidArgumentTypeError(
            f'mlvl_tensors must be a list or tuple, got {type(mlvl_tensors)}'
        )
    if detach:
        return [level[batch_id].detach() for level in mlvl_tensors]
    return [level[batch_id] for level in mlvl_tensors]


def sort_descending(values, max_num=-1):
    """(n,) ``values`` sorted descending and their indices, the first
    ``max_num`` only (``max_num <= 0``: all).

    While ``torch.onnx.export`` traces, the count stays a traced value
    (``TopK`` of ``min(n, max_num)``), so that the graph keeps "at most
    ``max_num``" for any ``n``; a Python ``min`` would freeze the traced
    example's count into the graph.
    """
    if torch.onnx.is_in_onnx_export():
        num = torch._shape_as_tensor(values)[0]
        return values.topk(num if max_num <= 0 else num.clamp(max=max_num))
    values, order = values.sort(descending=True)
    if 0 < max_num < len(order):
        values, order = values[:max_num], order[:max_num]
    return values, order


def filter_scores_and_topk(scores, score_thr, topk, results=None):
    """Keep the ``topk`` best (box, class) scores above ``score_thr``.

    Args:
        scores (Tensor): (N, C) scores.
        score_thr (float): the scores must exceed it.
        topk (int): keep at most this many pairs.
        results (dict | list | Tensor, optional): (N, ...) per-box data
            to select with the kept boxes.

    Returns:
        tuple: ``scores`` (k,) descending, ``labels`` (k,), ``keep_idxs``
        (k,) the boxes, and ``results`` selected like them (or None).
    """
    valid_mask = scores > score_thr
    valid_scores = scores[valid_mask]
    valid_idxs = torch.nonzero(valid_mask, as_tuple=False)
    if torch.onnx.is_in_onnx_export():
        # a count taken from the traced shape, so that the exported graph
        # keeps "at most topk" for any input (a Python min would freeze
        # the traced image's count into the graph)
        num_valid = torch._shape_as_tensor(valid_idxs)[0]
        scores, order = valid_scores.topk(torch.clamp(num_valid, max=topk))
    else:
        num_topk = min(topk, valid_idxs.size(0))
        valid_scores, order = valid_scores.sort(descending=True)
        scores, order = valid_scores[:num_topk], order[:num_topk]
    keep_idxs, labels = valid_idxs[order].unbind(dim=1)

    filtered = None
    if isinstance(results, dict):
        filtered = {k: v[keep_idxs] for k, v in results.items()}
    elif isinstance(results, list):
        filtered = [result[keep_idxs] for result in results]
    elif isinstance(results, torch.Tensor):
        filtered = results[keep_idxs]
    elif results is not None:
        # MMDetection raises NotImplementedError here
        raise NotImplementedError(
            f'results of type {type(results)} are not '
            'supported; use a dict, list or Tensor'
        )
    return scores, labels, keep_idxs, filtered


def mask2ndarray(mask):
    """``mask`` as an (N, H, W) ndarray.

    Args:
        mask (BitmapMasks | PolygonMasks | Tensor | ndarray): instance
            masks.

    Returns:
        ndarray: the masks (a Tensor is detached and moved to the CPU).
    """
    from mmdet.core.mask.structures import BaseInstanceMasks

    if isinstance(mask, BaseInstanceMasks):
        return mask.to_ndarray()
    if isinstance(mask, torch.Tensor):
        return mask.detach().cpu().numpy()
    if isinstance(mask, np.ndarray):
        return mask
    raise TypeError(
        'mask2ndarray takes BitmapMasks, PolygonMasks, a Tensor or an '
        f'ndarray, got {type(mask)}'
    )


def flip_tensor(src_tensor, flip_direction):
    """(N, C, H, W) ``src_tensor`` flipped 'horizontal' (W), 'vertical'
    (H) or 'diagonal' (both)."""
    if src_tensor.ndim != 4:
        raise InvalidArgumentError(
            f'flip_tensor takes (N, C, H, W), got {tuple(src_tensor.shape)}'
        )
    dims = {'horizontal': [3], 'vertical': [2], 'diagonal': [2, 3]}
    if flip_direction not in dims:
        raise InvalidArgumentError(
            f'flip_direction must be one of {list(dims)}, got '
            f'{flip_direction!r}'
        )
    return torch.flip(src_tensor, dims[flip_direction])


def center_of_mass(mask, esp=1e-6):
    """Centre ``(row, column)`` of an (H, W) mask (weights allowed), in
    pixel indices; (0, 0) for an empty mask."""
    height, width = mask.shape
    total = mask.sum().float().clamp(min=esp)
    rows = torch.arange(height, device=mask.device)[:, None]
    cols = torch.arange(width, device=mask.device)
    return (mask * rows).sum() / total, (mask * cols).sum() / total


def generate_coordinate(featmap_sizes, device='cuda'):
    """(N, 2, H, W) coordinates in [-1, 1] for ``featmap_sizes`` (N, C,
    H, W): channel 0 the x (column), channel 1 the y (row)."""
    n, height, width = featmap_sizes[0], featmap_sizes[-2], featmap_sizes[-1]
    xs = torch.linspace(-1, 1, width, device=device)
    ys = torch.linspace(-1, 1, height, device=device)
    grid_x = xs.view(1, 1, 1, width).expand(n, 1, height, width)
    grid_y = ys.view(1, 1, height, 1).expand(n, 1, height, width)
    return torch.cat([grid_x, grid_y], dim=1)
