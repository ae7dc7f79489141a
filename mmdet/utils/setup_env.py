"""Process-level settings read from the config before training or testing."""

import os
import platform
import warnings

import cv2
import torch
import torch.multiprocessing as mp


def setup_multi_processes(cfg):
    """Set the multiprocessing start method and thread counts from ``cfg``.

    Keys (all optional): ``mp_start_method`` ('fork' by default on Linux),
    ``opencv_num_threads`` (0: OpenCV stays single-threaded inside data
    workers), ``torch_num_threads`` (intra-op threads of this process; an
    ``OMP_NUM_THREADS`` set in the environment wins). On a small CPU one
    thread can beat several: every parallel op waits for its slowest
    thread, and with another process on the cores that wait is a scheduler
    time slice (measured: 0.45 s per quick-start iteration on one thread,
    6 s on two while a second process ran).

    As in MMDetection 2.28: the start method is set to the config's (a
    different one already set is replaced, with a warning), and with more
    than one data worker per GPU, ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``
    default to 1 (when not set in the environment) so that the workers do
    not oversubscribe the cores.
    """
    if platform.system() != 'Windows':
        method = cfg.get('mp_start_method', 'fork')
        current = mp.get_start_method(allow_none=True)
        if current is not None and current != method:
            warnings.warn(
                f'Multi-processing start method {method!r} (from '
                f'the config) replaces the one already set '
                f'({current!r}).'
            )
        mp.set_start_method(method, force=True)

    cv2.setNumThreads(cfg.get('opencv_num_threads', 0))
    threads = cfg.get('torch_num_threads')
    if threads is not None and 'OMP_NUM_THREADS' not in os.environ:
        torch.set_num_threads(threads)

    workers = cfg.get('data', {}).get('workers_per_gpu', 1)
    if 'train_dataloader' in cfg.get('data', {}):
        workers = max(
            workers, cfg.data.train_dataloader.get('workers_per_gpu', 1)
        )
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        if var not in os.environ and workers > 1:
            warnings.warn(
                f'Setting {var}=1 for each process by default (more '
                'than one data worker per GPU); set it in the '
                'environment to tune performance.'
            )
            os.environ[var] = '1'
