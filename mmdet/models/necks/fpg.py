"""Feature Pyramid Grids (Chen et al., 2020) with MMDetection 2.x names.

``stack_times`` pathways over ``num_outs`` levels; each node sums the
transitions from the previous node of its pathway (``same_up`` /
``same_down``), from the same level of the previous pathway
(``across_lateral``), its neighbours there (``across_up`` /
``across_down``) and the first pathway (``across_skip``). Every level's
output is ``output_transition.i`` of all its pathway values.
Transition types (FPG.transition_types, not a registry): 'conv'
(ConvModule), 'interpolation_conv' (UpInterpolationConv), 'last_conv'
(LastConv).
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    check_arg,
)
from ..builder import NECKS
from ._levels import backbone_end_level


class Transition(BaseModule):
    """Base of FPG's transitions: records the channels."""

    def __init__(self, in_channels, out_channels, init_cfg=None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels


class UpInterpolationConv(Transition):
    """Interpolate by ``scale_factor``, then a ConvModule (``conv``;
    ``kwargs`` go to it). (B, in, H, W) -> (B, out, H*s, W*s)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        scale_factor=2,
        mode='nearest',
        align_corners=None,
        kernel_size=3,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(in_channels, out_channels, init_cfg)
        self.mode = mode
        self.scale_factor = scale_factor
        self.align_corners = align_corners
        self.conv = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            **kwargs,
        )

    def forward(self, x):
        x = F.interpolate(
            x,
            scale_factor=self.scale_factor,
            mode=self.mode,
            align_corners=self.align_corners,
        )
        return self.conv(x)


class LastConv(Transition):
    """ConvModule (``conv_out``) on the last of ``num_inputs`` maps."""

    def __init__(
        self,
        in_channels,
        out_channels,
        num_inputs,
        kernel_size=3,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(in_channels, out_channels, init_cfg)
        self.num_inputs = num_inputs
        self.conv_out = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            **kwargs,
        )

    def forward(self, inputs):
        check_arg(
            len(inputs) == self.num_inputs,
            'LastConv',
            f'expects {self.num_inputs} inputs, got {len(inputs)}',
        )
        return self.conv_out(inputs[-1])


_BN_LIKE = ['_BatchNorm', '_InstanceNorm', 'GroupNorm', 'LayerNorm']


@NECKS.register_module()
class FPG(BaseModule):
    """FPG neck.

    Args:
        in_channels (list[int]): channels of each backbone output.
        out_channels (int): channels of every output.
        num_outs (int): levels.
        stack_times (int): pathways.
        paths (list[str]): 'bu' (bottom-up) or 'td' (top-down) per pathway.
        inter_channels (int | list[int] | None): channels of each level
            inside the grid (default out_channels).
        same_down_trans, same_up_trans, across_lateral_trans,
        across_down_trans, across_up_trans, across_skip_trans,
        output_trans (dict | None): transition configs (type plus the
            transition's arguments); None leaves that edge out.
        start_level, end_level (int): used backbone outputs (as FPN).
        add_extra_convs (bool): extra levels by strided 3x3 convs instead of
            max pooling.
        norm_cfg (dict): kept for config compatibility (transitions take
            their own).
        skip_inds (list[tuple[int]]): per level, the pathways it skips
            (None: none).

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: list of
    ``num_outs`` tensors (B, out_channels, H_i, W_i).
    """

    transition_types = {
        'conv': ConvModule,
        'interpolation_conv': UpInterpolationConv,
        'last_conv': LastConv,
    }

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        stack_times,
        paths,
        inter_channels=None,
        same_down_trans=None,
        same_up_trans=dict(type='conv', kernel_size=3, stride=2, padding=1),
        across_lateral_trans=dict(type='conv', kernel_size=1),
        across_down_trans=dict(type='conv', kernel_size=3),
        across_up_trans=None,
        across_skip_trans=dict(type='identity'),
        output_trans=dict(type='last_conv', kernel_size=3),
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        norm_cfg=None,
        skip_inds=None,
        init_cfg=[
            dict(type='Caffe2Xavier', layer='Conv2d'),
            dict(type='Constant', layer=_BN_LIKE, val=1.0),
        ],
    ):
        super().__init__(init_cfg)
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'FPG: in_channels must be a list, got {in_channels!r}'
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.inter_channels = self._inter_channels(inter_channels)
        check_arg(
            isinstance(paths, list)
            and len(paths) == stack_times
            and all(p in ('bu', 'td') for p in paths),
            'FPG',
            f"paths must list 'bu' or 'td' for each of the {stack_times} "
            f'stacks, got {paths!r}',
        )
        self.stack_times = stack_times
        self.paths = paths
        self.same_down_trans = same_down_trans
        self.same_up_trans = same_up_trans
        self.across_lateral_trans = across_lateral_trans
        self.across_down_trans = across_down_trans
        self.across_up_trans = across_up_trans
        self.output_trans = output_trans
        self.across_skip_trans = across_skip_trans
        self.with_bias = norm_cfg is None
        self.skip_inds = skip_inds or [()] * num_outs
        self.backbone_end_level = backbone_end_level(
            'FPG', self.num_ins, num_outs, start_level, end_level
        )
        self.start_level = start_level
        self.end_level = end_level
        self.add_extra_convs = add_extra_convs
        self._build_inputs()
        self.fpn_transitions = nn.ModuleList(
            self._stage(s) for s in range(stack_times)
        )
        self.output_transition = nn.ModuleList(
            self.build_trans(
                output_trans, ch, out_channels, num_inputs=stack_times + 1
            )
            for ch in self.inter_channels
        )
        self.relu = nn.ReLU(inplace=True)

    def _inter_channels(self, inter_channels):
        if inter_channels is None:
            return [self.out_channels] * self.num_outs
        if isinstance(inter_channels, int):
            return [inter_channels] * self.num_outs
        check_arg(
            isinstance(inter_channels, list)
            and len(inter_channels) == self.num_outs,
            'FPG',
            f'inter_channels must be an int or a list of {self.num_outs}',
        )
        return inter_channels

    def _build_inputs(self):
        ch = self.inter_channels
        self.lateral_convs = nn.ModuleList(
            nn.Conv2d(self.in_channels[i], ch[i - self.start_level], 1)
            for i in range(self.start_level, self.backbone_end_level)
        )
        first = self.backbone_end_level - self.start_level
        self.extra_downsamples = nn.ModuleList()
        for idx in range(first, self.num_outs):
            if self.add_extra_convs:
                layer = nn.Conv2d(ch[idx - 1], ch[idx], 3, stride=2, padding=1)
            else:
                layer = nn.MaxPool2d(1, stride=2)
            self.extra_downsamples.append(layer)

    def _stage(self, s):
        """Transitions of pathway ``s``: one ModuleDict per level."""
        ch, last = self.inter_channels, self.num_outs - 1
        stage = nn.ModuleList()
        for i in range(self.num_outs):
            trans = nn.ModuleDict()
            stage.append(trans)
            if s in self.skip_inds[i]:
                continue
            below = (i > 0, ch[i - 1])  # (exists, channels of level i-1)
            above = (i < last, ch[min(i + 1, last)])
            edges = (
                ('same_up', self.same_up_trans, below),
                ('same_down', self.same_down_trans, above),
                ('across_lateral', self.across_lateral_trans, (True, ch[i])),
                ('across_down', self.across_down_trans, above),
                ('across_up', self.across_up_trans, below),
                ('across_skip', self.across_skip_trans, (True, ch[i - 1])),
            )
            for name, cfg, (exists, in_ch) in edges:
                trans[name] = (
                    self.build_trans(cfg, in_ch, ch[i])
                    if exists and cfg is not None
                    else None
                )
        return stage

    def build_trans(self, cfg, in_channels, out_channels, **extra_args):
        cfg = dict(cfg)
        trans_type = cfg.pop('type')
        if trans_type not in self.transition_types:
            raise InvalidArgumentError(
                f'FPG: transition type {trans_type!r} is not one of '
                f'{sorted(self.transition_types)}'
            )
        trans_cls = self.transition_types[trans_type]
        return trans_cls(in_channels, out_channels, **cfg, **extra_args)

    @staticmethod
    def fuse(fuse_dict):
        """Sum of the non-None values."""
        items = [x for x in fuse_dict.values() if x is not None]
        return sum(items[1:], items[0]) if items else None

    def _node(self, trans, direction, lvl, prev_node, current, first):
        same = trans['same_down' if direction == 'td' else 'same_up']
        to_fuse = {}
        if same is not None:
            to_fuse['same'] = same(prev_node)
        if trans['across_lateral'] is not None:
            to_fuse['lateral'] = trans['across_lateral'](current[lvl])
        if lvl > 0 and trans['across_up'] is not None:
            to_fuse['across_up'] = trans['across_up'](current[lvl - 1])
        if lvl < self.num_outs - 1 and trans['across_down'] is not None:
            to_fuse['across_down'] = trans['across_down'](current[lvl + 1])
        if trans['across_skip'] is not None:
            to_fuse['across_skip'] = trans['across_skip'](first[lvl])
        return self.fuse(to_fuse)

    def forward(self, inputs):
        check_arg(
            len(inputs) == len(self.in_channels),
            'FPG',
            f'expects {len(self.in_channels)} inputs, got {len(inputs)}',
        )
        feats = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for down in self.extra_downsamples:
            feats.append(down(feats[-1]))
        outs = [feats]
        for s, direction in enumerate(self.paths):
            current = outs[-1]
            order = range(self.num_outs)
            if direction == 'td':
                order = reversed(order)
            nodes = {}
            prev_node = None
            for lvl in order:
                if s in self.skip_inds[lvl]:
                    node = current[lvl]
                else:
                    node = self._node(
                        self.fpn_transitions[s][lvl],
                        direction,
                        lvl,
                        prev_node,
                        current,
                        outs[0],
                    )
                nodes[lvl] = prev_node = node
            outs.append([nodes[lvl] for lvl in range(self.num_outs)])
        return [
            trans([stage[i] for stage in outs])
            for i, trans in enumerate(self.output_transition)
        ]
