"""Small tensor helpers shared by the heads."""
from functools import partial

import numpy as np
import torch

FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')


def multi_apply(func, *args, **kwargs):
    """Apply ``func`` to every tuple of ``args`` items (as ``map``) and
    regroup the results.

    ``func`` returns a tuple of m values per call; the result is a tuple of
    m lists, list ``j`` holding value ``j`` of every call. Keyword
    arguments are passed to every call.

    Example:
        >>> multi_apply(lambda a, b: (a + b, a * b), [1, 2], [3, 4])
        ([4, 6], [3, 8])
    """
    pfunc = partial(func, **kwargs) if kwargs else func
    return tuple(map(list, zip(*map(pfunc, *args))))


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
    ret = data.new_full((count, ) + tuple(data.shape[1:]), fill)
    ret[inds.bool()] = data
    return ret


def mask2ndarray(mask):
    """Masks as a numpy array.

    Args:
        mask (BitmapMasks | PolygonMasks | Tensor | ndarray): masks; mask
            structures are converted with their ``to_ndarray()``.

    Returns:
        ndarray: (n, h, w) masks.
    """
    if hasattr(mask, 'to_ndarray'):
        return mask.to_ndarray()
    if isinstance(mask, torch.Tensor):
        return mask.detach().cpu().numpy()
    if isinstance(mask, np.ndarray):
        return mask
    raise TypeError(f'unsupported mask type {type(mask)}')


def flip_tensor(src_tensor, flip_direction):
    """Flip a (N, C, H, W) tensor 'horizontal'ly (W), 'vertical'ly (H) or
    'diagonal'ly (both)."""
    if src_tensor.dim() != 4:
        raise ValueError(f'expected a 4D tensor, got {src_tensor.dim()}D')
    if flip_direction not in FLIP_DIRECTIONS:
        raise ValueError(f'flip_direction must be one of {FLIP_DIRECTIONS},'
                         f' got {flip_direction!r}')
    dims = {'horizontal': [3], 'vertical': [2], 'diagonal': [2, 3]}
    return torch.flip(src_tensor, dims[flip_direction])


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
        raise TypeError('mlvl_tensors must be a list or tuple, got '
                        f'{type(mlvl_tensors)}')
    if detach:
        return [level[batch_id].detach() for level in mlvl_tensors]
    return [level[batch_id] for level in mlvl_tensors]


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
    num_topk = min(topk, valid_idxs.size(0))
    valid_scores, order = valid_scores.sort(descending=True)
    scores = valid_scores[:num_topk]
    keep_idxs, labels = valid_idxs[order[:num_topk]].unbind(dim=1)

    filtered = None
    if isinstance(results, dict):
        filtered = {k: v[keep_idxs] for k, v in results.items()}
    elif isinstance(results, list):
        filtered = [result[keep_idxs] for result in results]
    elif isinstance(results, torch.Tensor):
        filtered = results[keep_idxs]
    elif results is not None:
        raise TypeError(f'results of type {type(results)} are not '
                        'supported; use a dict, list or Tensor')
    return scores, labels, keep_idxs, filtered


def center_of_mass(mask, esp=1e-6):
    """The (row, column) centre of mass of a (h, w) mask, as tensors."""
    h, w = mask.shape
    grid_h = torch.arange(h, device=mask.device)[:, None]
    grid_w = torch.arange(w, device=mask.device)
    normalizer = mask.sum().float().clamp(min=esp)
    center_h = (mask * grid_h).sum() / normalizer
    center_w = (mask * grid_w).sum() / normalizer
    return center_h, center_w


def generate_coordinate(featmap_sizes, device='cuda'):
    """A (N, 2, H, W) map of normalized ``x, y`` coordinates in [-1, 1]
    for ``featmap_sizes`` ``(N, C, H, W)``."""
    n, _, h, w = featmap_sizes
    x_range = torch.linspace(-1, 1, w, device=device)
    y_range = torch.linspace(-1, 1, h, device=device)
    y, x = torch.meshgrid(y_range, x_range, indexing='ij')
    x = x.expand(n, 1, -1, -1)
    y = y.expand(n, 1, -1, -1)
    return torch.cat([x, y], 1)


def floordiv(dividend, divisor, rounding_mode='trunc'):
    """``torch.div`` with a rounding mode ('trunc' or 'floor')."""
    return torch.div(dividend, divisor, rounding_mode=rounding_mode)
