"""HRNet (Wang et al., 2019) with MMDetection 2.x's arguments and checkpoint
layout: stem ``conv1``/``bn1``/``conv2``/``bn2``, ``layer1`` (stage 1),
then ``transition{k}`` and ``stage{k+1}`` (``HRModule``s with ``branches``
and ``fuse_layers``) for k = 1..3."""

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.res_layer import ResLayer
from .base_backbone import ClassificationBackbone
from .resnet import BasicBlock, Bottleneck, _ResBlock


def conv_norm(conv_cfg, norm_cfg, in_ch, out_ch, kernel, stride, relu):
    """conv (bias-free, 'same' padding) + norm [+ ReLU] as a Sequential."""
    layers = [
        build_conv_layer(
            conv_cfg,
            in_ch,
            out_ch,
            kernel,
            stride=stride,
            padding=kernel // 2,
            bias=False,
        ),
        build_norm_layer(norm_cfg, out_ch)[1],
    ]
    if relu:
        layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


class HRModule(BaseModule):
    """Parallel branches of residual blocks, then every output branch i sums
    all branches brought to its resolution and width (j > i: 1x1 conv +
    norm + nearest upsampling by 2**(j-i); j < i: i-j stride-2 3x3 convs)
    and applies ReLU. With ``multiscale_output=False`` only branch 0 is
    fused and returned."""

    def __init__(
        self,
        num_branches,
        blocks,
        num_blocks,
        in_channels,
        num_channels,
        multiscale_output=True,
        with_cp=False,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        block_init_cfg=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        for name, values in (
            ('num_blocks', num_blocks),
            ('num_channels', num_channels),
            ('in_channels', in_channels),
        ):
            check_arg(
                len(values) == num_branches,
                'HRModule',
                f'{name} {tuple(values)} needs one entry per branch '
                f'(num_branches={num_branches})',
            )
        self.num_branches = num_branches
        self.multiscale_output = multiscale_output
        self.with_cp = with_cp
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.branches = nn.ModuleList(
            ResLayer(
                blocks,
                in_channels[i],
                num_channels[i],
                num_blocks[i],
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                with_cp=with_cp,
            )
            for i in range(num_branches)
        )
        self.in_channels = [c * blocks.expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers()
        self.relu = nn.ReLU(inplace=False)

    def _make_fuse_layers(self):
        if self.num_branches == 1:
            return None
        num_out = self.num_branches if self.multiscale_output else 1
        return nn.ModuleList(
            nn.ModuleList(self._fuse(j, i) for j in range(self.num_branches))
            for i in range(num_out)
        )

    def _fuse(self, j, i):
        """The path from branch j to output branch i (None when i == j)."""
        ch = self.in_channels
        if j == i:
            return None
        if j > i:
            return nn.Sequential(
                build_conv_layer(
                    self.conv_cfg, ch[j], ch[i], 1, stride=1, bias=False
                ),
                build_norm_layer(self.norm_cfg, ch[i])[1],
                nn.Upsample(scale_factor=2 ** (j - i), mode='nearest'),
            )
        steps = [
            conv_norm(self.conv_cfg, self.norm_cfg, ch[j], ch[j], 3, 2, True)
            for _ in range(i - j - 1)
        ]
        steps.append(
            conv_norm(self.conv_cfg, self.norm_cfg, ch[j], ch[i], 3, 2, False)
        )
        return nn.Sequential(*steps)

    def forward(self, x):
        """list of (B, C_k, H / 2**k, W / 2**k) -> list of the same form."""
        x = [branch(x_k) for branch, x_k in zip(self.branches, x)]
        if self.num_branches == 1:
            return x
        fused = []
        for paths in self.fuse_layers:
            y = 0
            for x_j, path in zip(x, paths):
                y = y + (x_j if path is None else path(x_j))
            fused.append(self.relu(y))
        return fused


@BACKBONES.register_module()
class HRNet(ClassificationBackbone):
    """HRNet backbone returning the four branches of stage 4 (strides 4, 8,
    16, 32; channels ``extra['stage4']['num_channels']`` times the block
    expansion), or only the first with ``multiscale_output=False``.

    Args (MMDetection 2.x's, same defaults):
        extra (dict): ``stage1``..``stage4``, each with ``num_modules``,
            ``num_branches``, ``block`` ('BASIC' or 'BOTTLENECK'),
            ``num_blocks`` and ``num_channels`` (one entry per branch).
        in_channels (int): input image channels.
        conv_cfg, norm_cfg: mmcv layer configs.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        with_cp (bool): activation checkpointing in each block.
        zero_init_residual (bool): zero the last norm of every block at
            random initialisation.
        multiscale_output (bool): fuse and return all four branches.
        pretrained, init_cfg: as ``ResNet``'s.
    """

    blocks_dict = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}

    def __init__(
        self,
        extra,
        in_channels=3,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        norm_eval=True,
        with_cp=False,
        zero_init_residual=False,
        multiscale_output=True,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(-1, norm_eval, pretrained, init_cfg)
        self._check_extra(extra)
        self.extra = extra
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual
        self._make_stem(in_channels)
        cfg1 = extra['stage1']
        block = self.blocks_dict[cfg1['block']]
        self.layer1 = ResLayer(
            block,
            64,
            cfg1['num_channels'][0],
            cfg1['num_blocks'][0],
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            with_cp=with_cp,
        )
        channels = [cfg1['num_channels'][0] * block.expansion]
        for k in (2, 3, 4):
            channels = self._add_stage(k, channels, multiscale_output or k < 4)
        self.out_channels = channels
        self._post_init()

    def _check_extra(self, extra):
        for k in (1, 2, 3, 4):
            cfg = extra.get(f'stage{k}') if isinstance(extra, dict) else None
            check_arg(
                isinstance(cfg, dict),
                'HRNet',
                f'extra needs a dict stage{k}, got {cfg!r}',
            )
            n = cfg['num_branches']
            check_arg(
                len(cfg['num_blocks']) == n and len(cfg['num_channels']) == n,
                'HRNet',
                f'stage{k}: num_blocks and num_channels need num_branches '
                f'({n}) entries',
            )
            check_arg(
                cfg['block'] in self.blocks_dict,
                'HRNet',
                f"stage{k}: block must be 'BASIC' or 'BOTTLENECK', got "
                f'{cfg["block"]!r}',
            )

    def _make_stem(self, in_channels):
        for i, c_in in ((1, in_channels), (2, 64)):
            setattr(
                self,
                f'conv{i}',
                build_conv_layer(
                    self.conv_cfg, c_in, 64, 3, stride=2, padding=1, bias=False
                ),
            )
            name, norm = build_norm_layer(self.norm_cfg, 64, postfix=i)
            setattr(self, f'norm{i}_name', name)
            self.add_module(name, norm)
        self.relu = nn.ReLU(inplace=True)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    def _add_stage(self, k, pre_channels, multiscale_output):
        """``transition{k-1}`` and ``stage{k}``; returns its channels."""
        cfg = self.extra[f'stage{k}']
        setattr(self, f'stage{k}_cfg', cfg)
        block = self.blocks_dict[cfg['block']]
        channels = [c * block.expansion for c in cfg['num_channels']]
        self.add_module(
            f'transition{k - 1}', self._transition(pre_channels, channels)
        )
        modules = [
            HRModule(
                cfg['num_branches'],
                block,
                cfg['num_blocks'],
                channels,
                cfg['num_channels'],
                multiscale_output or m < cfg['num_modules'] - 1,
                with_cp=self.with_cp,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
            )
            for m in range(cfg['num_modules'])
        ]
        self.add_module(f'stage{k}', nn.Sequential(*modules))
        return channels

    def _transition(self, pre, cur):
        """Per new branch i: None (same width), a 3x3 conv changing the
        width, or (new branches) stride-2 3x3 convs from the last one."""
        cfg = (self.conv_cfg, self.norm_cfg)
        layers = []
        for i, c_out in enumerate(cur):
            if i < len(pre):
                layers.append(
                    None
                    if c_out == pre[i]
                    else conv_norm(*cfg, pre[i], c_out, 3, 1, True)
                )
                continue
            steps = i + 1 - len(pre)
            layers.append(
                nn.Sequential(
                    *(
                        conv_norm(
                            *cfg,
                            pre[-1],
                            c_out if s == steps - 1 else pre[-1],
                            3,
                            2,
                            True,
                        )
                        for s in range(steps)
                    )
                )
            )
        return nn.ModuleList(layers)

    def _frozen_modules(self):
        return []

    # the classification head of the ImageNet HRNet checkpoints
    IMAGENET_HEAD = (
        'incre_modules.',
        'downsamp_modules.',
        'final_layer.',
        'classifier.',
    )

    def unused_checkpoint_key(self, key):
        return key.startswith(self.IMAGENET_HEAD)

    def _random_init(self):
        super()._random_init()
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _ResBlock):
                    nn.init.zeros_(m.last_norm().weight)

    def forward(self, x):
        """(B, in_channels, H, W) -> list of the stage-4 branches."""
        x = self.relu(self.norm1(self.conv1(x)))
        x = self.relu(self.norm2(self.conv2(x)))
        branches = [self.layer1(x)]
        for k in (2, 3, 4):
            transition = getattr(self, f'transition{k - 1}')
            inputs = []
            for i, t in enumerate(transition):
                source = branches[min(i, len(branches) - 1)]
                inputs.append(source if t is None else t(source))
            branches = getattr(self, f'stage{k}')(inputs)
        return branches
