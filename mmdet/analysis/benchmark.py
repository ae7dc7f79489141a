"""Inference speed of a detector on its test data (images per second).

The model runs image by image over ``data.test`` as in evaluation (data
loading excluded from the timing), after a few warm-up images that are not
timed. On a GPU the timing waits for the device to finish.
"""

import time

import numpy as np
import torch

from mmdet.apis.builders import (
    build_test_dataset,
    build_test_detector,
    build_test_loader,
    load_config,
)
from mmdet.utils import build_dp, compat_cfg, get_device, init_dist

NUM_WARMUP = 5


def _synchronize(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def build_benchmark_model(cfg, checkpoint, fuse_conv_bn=False):
    """The test-mode detector of ``cfg`` with ``checkpoint`` loaded, wrapped
    for ``cfg.device``."""
    model, _ = build_test_detector(cfg, checkpoint, fuse_conv_bn)
    device_ids = (
        [torch.cuda.current_device()] if cfg.device == 'cuda' else None
    )
    model = build_dp(model, cfg.device, device_ids=device_ids)
    return model.eval()


def measure_fps(
    model, data_loader, device, max_iter=2000, log_interval=50, log=print
):
    """Images per second over up to ``max_iter`` images (warm-up included
    in the count, not in the timing).

    Returns:
        float: the FPS over the timed images.
    """
    timed, elapsed_total = 0, 0.0
    for i, data in enumerate(data_loader):
        _synchronize(device)
        start = time.perf_counter()
        with torch.no_grad():
            model(return_loss=False, rescale=True, **data)
        _synchronize(device)
        elapsed = time.perf_counter() - start
        if i >= NUM_WARMUP:
            timed += 1
            elapsed_total += elapsed
            if (i + 1) % log_interval == 0:
                fps = timed / elapsed_total
                log(
                    f'Done image [{i + 1:<3}/ {max_iter}], fps: {fps:.1f} '
                    f'img / s, times per image: {1000 / fps:.1f} ms / img'
                )
        if i + 1 == max_iter:
            break
    if not timed:
        raise ValueError(
            f'only {i + 1} test images: at least {NUM_WARMUP + 1} are needed '
            f'({NUM_WARMUP} warm-up images are not timed)'
        )
    fps = timed / elapsed_total
    log(
        f'Overall fps: {fps:.1f} img / s, times per image: '
        f'{1000 / fps:.1f} ms / img ({timed} images timed)'
    )
    return fps


def benchmark(
    config,
    checkpoint,
    max_iter=2000,
    log_interval=50,
    fuse_conv_bn=False,
    repeat_num=1,
    cfg_options=None,
    launcher='none',
    log=print,
):
    """Measure the FPS of ``config`` with ``checkpoint`` ``repeat_num``
    times (under a launcher, every process measures its own).

    Returns:
        list[float]: the FPS of each repetition.
    """
    cfg = compat_cfg(load_config(config, cfg_options))
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    if launcher != 'none':
        init_dist(launcher, **cfg.get('dist_params', {}))
    cfg.device = get_device()
    model = build_benchmark_model(cfg, checkpoint, fuse_conv_bn)
    workers = cfg.data.get('test_dataloader', {}).get('workers_per_gpu', 0)
    data_loader = build_test_loader(
        cfg,
        build_test_dataset(cfg),
        samples_per_gpu=1,
        workers_per_gpu=workers,
    )
    fps_list = []
    for _ in range(repeat_num):
        fps_list.append(
            measure_fps(
                model, data_loader, cfg.device, max_iter, log_interval, log
            )
        )
    if repeat_num > 1:
        mean = float(np.mean(fps_list))
        log(
            f'Overall fps over {repeat_num} runs: '
            f'{[round(f, 1) for f in fps_list]} img / s; mean {mean:.1f} '
            f'img / s, {1000 / mean:.1f} ms / img'
        )
    return fps_list
