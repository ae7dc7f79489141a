"""Test loops: run a detector over a data loader and collect its results.

Results are per image, in data set order: a list of ``num_classes`` arrays of
shape (n, 5) for box detectors, ``(bbox_results, segm_results)`` for mask
detectors with the masks already RLE-encoded (``encode_mask_results``), so
that gathering them across processes moves little data.
"""

import os.path as osp
import shutil
import tempfile
import time

import mmcv
import torch
import torch.distributed as dist
from mmcv.image import tensor2imgs
from mmcv.runner import get_dist_info

from mmdet.core import encode_mask_results
from mmdet.utils.safe_pickle import safe_load


def _encode_masks(result):
    """RLE-encode the masks of a batch of results (no-op for boxes): of
    ``(bbox_results, segm_results)`` tuples, or of the 'ins_results' of
    panoptic result dicts."""
    if result and isinstance(result[0], tuple):
        return [(bbox, encode_mask_results(masks)) for bbox, masks in result]
    if result and isinstance(result[0], dict):
        return [
            dict(r, ins_results=_encode_masks([r['ins_results']])[0])
            if 'ins_results' in r
            else r
            for r in result
        ]
    return result


def _unwrap_data(data, key):
    """``data[key][0]`` as a plain object: a DataContainer's payload or the
    tensor itself (batch 1 test loaders may hold plain tensors)."""
    item = data[key][0]
    return (
        item.data[0]
        if hasattr(item, 'data') and not isinstance(item, torch.Tensor)
        else item
    )


def show_batch(
    model, data, result, out_dir=None, show=False, score_thr=0.3, palette=None
):
    """Draw ``result`` on the de-normalised input images of ``data``.

    Images are cropped to ``img_shape`` (padding off) and resized back to
    ``ori_shape``; drawn files go to ``out_dir/<ori_filename>``.
    """
    img_tensor = _unwrap_data(data, 'img')
    img_metas = _unwrap_data(data, 'img_metas')
    imgs = tensor2imgs(img_tensor, **img_metas[0]['img_norm_cfg'])
    detector = getattr(model, 'module', model)
    for img, meta, res in zip(imgs, img_metas, result):
        h, w = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        img_show = mmcv.imresize(img[:h, :w, :], (ori_w, ori_h))
        out_file = osp.join(out_dir, meta['ori_filename']) if out_dir else None
        detector.show_result(
            img_show,
            res,
            bbox_color=palette,
            text_color=palette,
            mask_color=palette,
            show=show,
            out_file=out_file,
            score_thr=score_thr,
        )


def single_gpu_test(
    model, data_loader, show=False, out_dir=None, show_score_thr=0.3
):
    """Test ``model`` (wrapped in MMDataParallel) in one process.

    Shows a progress bar; with ``show``/``out_dir`` draws each result.
    Returns the list of per-image results in data set order.
    """
    model.eval()
    dataset = data_loader.dataset
    palette = getattr(dataset, 'PALETTE', None)
    results = []
    prog_bar = mmcv.ProgressBar(len(dataset))
    for data in data_loader:
        with torch.no_grad():
            result = model(return_loss=False, rescale=True, **data)
        if show or out_dir:
            show_batch(
                model, data, result, out_dir, show, show_score_thr, palette
            )
        results.extend(_encode_masks(result))
        for _ in range(len(result)):
            prog_bar.update()
    return results


def multi_gpu_test(model, data_loader, tmpdir=None, gpu_collect=False):
    """Test ``model`` in every process and gather the results on rank 0.

    Each rank tests the indices its (non-shuffled) DistributedSampler gives
    it: rank r gets r, r + world_size, ... The parts are gathered either
    through files in ``tmpdir`` (``gpu_collect=False``, works everywhere) or
    through collectives (``gpu_collect=True``; over NCCL on GPUs, Gloo on
    the CPU). Returns the results in data set order on rank 0, None on the
    other ranks.
    """
    model.eval()
    dataset = data_loader.dataset
    rank, world_size = get_dist_info()
    results = []
    if rank == 0:
        prog_bar = mmcv.ProgressBar(len(dataset))
    time.sleep(2)  # let every rank start before the progress bar moves
    for data in data_loader:
        with torch.no_grad():
            result = model(return_loss=False, rescale=True, **data)
        results.extend(_encode_masks(result))
        if rank == 0:
            for _ in range(len(result) * world_size):
                prog_bar.update()
    if gpu_collect:
        return collect_results_gpu(results, len(dataset))
    return collect_results_cpu(results, len(dataset), tmpdir)


def _interleave(parts, size):
    """Undo DistributedSampler's split: part r holds indices r, r+n, ...;
    the sampler pads the last round, so cut at ``size``."""
    ordered = []
    for round_results in zip(*parts):
        ordered.extend(round_results)
    return ordered[:size]


def collect_results_cpu(result_part, size, tmpdir=None):
    """Gather every rank's ``result_part`` on rank 0 through pickle files.

    ``tmpdir`` (created if needed, removed afterwards) must be visible to
    every rank; by default rank 0 makes one and tells the others its name.
    """
    rank, world_size = get_dist_info()
    if tmpdir is None:
        name = [tempfile.mkdtemp(prefix='.dist_test_') if rank == 0 else None]
        dist.broadcast_object_list(name, src=0)
        tmpdir = name[0]
    else:
        mmcv.mkdir_or_exist(tmpdir)
    mmcv.dump(result_part, osp.join(tmpdir, f'part_{rank}.pkl'))
    dist.barrier()
    parts = None
    if rank == 0:
        parts = [
            safe_load(
                osp.join(tmpdir, f'part_{i}.pkl'),
                'distributed test results part',
                'Check that no other process writes into --tmpdir.',
            )
            for i in range(world_size)
        ]
    dist.barrier()  # nobody writes into tmpdir again before it is removed
    if rank != 0:
        return None
    shutil.rmtree(tmpdir)
    return _interleave(parts, size)


def collect_results_gpu(result_part, size):
    """Gather every rank's ``result_part`` on rank 0 with ``all_gather``."""
    rank, world_size = get_dist_info()
    parts = [None] * world_size
    dist.all_gather_object(parts, result_part)
    if rank != 0:
        return None
    return _interleave(parts, size)
