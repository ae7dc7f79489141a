"""Squeeze-and-excitation (Hu et al., 2018) as MMDetection 2.28's
``SELayer`` (``conv1.conv``, ``conv2.conv``, both with bias)."""

from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch.nn import functional as F

from mmdet.utils.arg_errors import check_arg


class SELayer(BaseModule):
    """x * act2(conv2(act1(conv1(mean_hw(x))))), squeezing to
    ``int(channels / ratio)`` channels.

    Args:
        channels (int): input and output channels.
        ratio (float): squeeze ratio.
        conv_cfg (dict, optional): conv layer config.
        act_cfg (dict | tuple[dict]): the two activations (one dict: both).

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        channels,
        ratio=16,
        conv_cfg=None,
        act_cfg=(dict(type='ReLU'), dict(type='Sigmoid')),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if isinstance(act_cfg, dict):
            act_cfg = (act_cfg, act_cfg)
        check_arg(
            len(act_cfg) == 2 and all(isinstance(a, dict) for a in act_cfg),
            'SELayer',
            f'act_cfg must be a dict or two dicts, got {act_cfg!r}',
        )
        squeezed = int(channels / ratio)
        self.conv1 = ConvModule(
            channels, squeezed, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[0]
        )
        self.conv2 = ConvModule(
            squeezed, channels, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[1]
        )

    def forward(self, x):
        weights = self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * weights
