"""``norm_cfg=dict(type='MMSyncBN')`` (mmcv-full's synchronised BatchNorm)
on torch's ``SyncBatchNorm``."""

import torch.nn as nn
from mmcv.cnn import NORM_LAYERS

from mmdet.utils.arg_errors import check_arg


class MMSyncBatchNorm(nn.SyncBatchNorm):
    """mmcv-full's ``MMSyncBN`` arguments on torch's ``SyncBatchNorm``:
    batch statistics over all processes of ``group`` while training in a
    distributed run, plain BatchNorm otherwise (one process, CPU, eval).
    State-dict keys as BatchNorm's.

    Torch weights each process's statistics by its batch size, which is
    mmcv's ``stats_mode='N'``; mmcv's ``'default'`` averages the processes
    equally, the same numbers when every process has the same batch size
    (the usual case). (B, C, ...) -> (B, C, ...).
    """

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        group=None,
        stats_mode='default',
    ):
        check_arg(
            stats_mode in ('default', 'N'),
            'MMSyncBN',
            f"stats_mode must be 'default' or 'N', got {stats_mode!r}",
        )
        super().__init__(
            num_features,
            eps=eps,
            momentum=momentum,
            affine=affine,
            track_running_stats=track_running_stats,
            process_group=group,
        )
        self.stats_mode = stats_mode


if 'MMSyncBN' not in NORM_LAYERS.module_dict:
    NORM_LAYERS.register_module('MMSyncBN', module=MMSyncBatchNorm)
