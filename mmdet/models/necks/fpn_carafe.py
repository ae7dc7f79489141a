"""FPN with a choice of top-down upsampler (CARAFE by default; Wang et al.,
2019) with MMDetection 2.x names.

Unlike FPN, the extra levels are made before the top-down pass (strided
3x3 convs in ``lateral_convs``) and take part in it; every level has an
upsampler (``upsample_modules.i``) into the next finer one and a 3x3
``fpn_convs.i``.
"""

from mmcv.cnn import ConvModule, build_upsample_layer, xavier_init
from mmcv.runner import BaseModule, ModuleList
from torch import nn

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import NECKS
from ..utils.carafe import CARAFEPack
from ._levels import backbone_end_level

_UPSAMPLERS = ('nearest', 'bilinear', 'deconv', 'pixel_shuffle', 'carafe')
_ORDERS = (('conv', 'norm', 'act'), ('act', 'conv', 'norm'))


@NECKS.register_module()
class FPN_CARAFE(BaseModule):
    """FPN_CARAFE neck.

    Args:
        in_channels (list[int]): channels of each backbone output.
        out_channels (int): channels of every level.
        num_outs (int): output levels.
        start_level, end_level (int): used backbone outputs (as FPN).
        norm_cfg, act_cfg (dict): of every ConvModule (bias only without
            norm).
        order (tuple): ConvModule layer order.
        upsample_cfg (dict): the upsampler: type 'carafe' (CARAFEPack
            arguments), 'nearest', 'bilinear', or 'deconv'/'pixel_shuffle'
            with ``upsample_kernel``.
        init_cfg: must be None (the initialisation is fixed).

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: ``num_outs``
    tensors (B, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=0,
        end_level=-1,
        norm_cfg=None,
        act_cfg=None,
        order=('conv', 'norm', 'act'),
        upsample_cfg=dict(
            type='carafe',
            up_kernel=5,
            up_group=1,
            encoder_kernel=3,
            encoder_dilation=1,
        ),
        init_cfg=None,
    ):
        check_arg(
            init_cfg is None,
            'FPN_CARAFE',
            'init_cfg must be None (the initialisation is fixed)',
        )
        super().__init__(init_cfg)
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'FPN_CARAFE: in_channels must be a list, got {in_channels!r}'
            )
        check_arg(
            tuple(order) in _ORDERS,
            'FPN_CARAFE',
            f'order must be one of {_ORDERS}, got {order!r}',
        )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.with_bias = norm_cfg is None
        self.upsample_cfg = dict(upsample_cfg)
        self.upsample = self.upsample_cfg.get('type')
        self.relu = nn.ReLU(inplace=False)
        self.order = order
        check_arg(
            self.upsample in _UPSAMPLERS + (None,),
            'FPN_CARAFE',
            f'upsample_cfg type must be one of {_UPSAMPLERS} or None, got '
            f'{self.upsample!r}',
        )
        if self.upsample in ('deconv', 'pixel_shuffle'):
            check_arg(
                self.upsample_cfg.get('upsample_kernel', 0) > 0,
                'FPN_CARAFE',
                f'{self.upsample} needs upsample_kernel > 0 in upsample_cfg',
            )
            self.upsample_kernel = self.upsample_cfg.pop('upsample_kernel')
        self.backbone_end_level = backbone_end_level(
            'FPN_CARAFE', self.num_ins, num_outs, start_level, end_level
        )
        self.start_level = start_level
        self.end_level = end_level
        self._build_layers()

    def _conv(self, in_ch, kernel, stride=1):
        return ConvModule(
            in_ch,
            self.out_channels,
            kernel,
            stride=stride,
            padding=(kernel - 1) // 2,
            norm_cfg=self.norm_cfg,
            bias=self.with_bias,
            act_cfg=self.act_cfg,
            inplace=False,
            order=self.order,
        )

    def _upsampler(self):
        ch, cfg = self.out_channels, dict(self.upsample_cfg)
        if self.upsample == 'carafe':
            cfg.update(channels=ch, scale_factor=2)
        elif self.upsample == 'deconv':
            pad = (self.upsample_kernel - 1) // 2
            cfg.update(
                in_channels=ch,
                out_channels=ch,
                kernel_size=self.upsample_kernel,
                stride=2,
                padding=pad,
                output_padding=pad,
            )
        elif self.upsample == 'pixel_shuffle':
            cfg.update(
                in_channels=ch,
                out_channels=ch,
                scale_factor=2,
                upsample_kernel=self.upsample_kernel,
            )
        else:
            cfg.update(
                scale_factor=2,
                mode=self.upsample,
                align_corners=None if self.upsample == 'nearest' else False,
            )
        return build_upsample_layer(cfg)

    def _build_layers(self):
        self.lateral_convs = ModuleList()
        self.fpn_convs = ModuleList()
        self.upsample_modules = ModuleList()
        end = self.backbone_end_level
        for i in range(self.start_level, end):
            self.lateral_convs.append(self._conv(self.in_channels[i], 1))
            self.fpn_convs.append(self._conv(self.out_channels, 3))
            if i != end - 1 and self.upsample is not None:
                self.upsample_modules.append(self._upsampler())
        for i in range(self.num_outs - end + self.start_level):
            in_ch = self.in_channels[end - 1] if i == 0 else self.out_channels
            self.lateral_convs.append(self._conv(in_ch, 3, stride=2))
            if self.upsample is not None:
                self.upsample_modules.append(self._upsampler())
            self.fpn_convs.append(self._conv(self.out_channels, 3))

    def init_weights(self):
        super().init_weights()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                xavier_init(m, distribution='uniform')
        for m in self.modules():
            if isinstance(m, CARAFEPack):
                m.init_weights()

    @staticmethod
    def tensor_add(a, b):
        """a + b cropped to a's size (upsampling can overshoot odd sizes)."""
        return a + b[:, :, : a.size(2), : a.size(3)]

    def forward(self, inputs):
        check_arg(
            len(inputs) == len(self.in_channels),
            'FPN_CARAFE',
            f'expects {len(self.in_channels)} inputs, got {len(inputs)}',
        )
        laterals = []
        used = self.backbone_end_level - self.start_level
        for i, conv in enumerate(self.lateral_convs):
            if i <= used:
                x = inputs[min(i + self.start_level, len(inputs) - 1)]
            else:
                x = laterals[-1]
            laterals.append(conv(x))
        for i in range(len(laterals) - 1, 0, -1):
            up = laterals[i]
            if self.upsample is not None:
                up = self.upsample_modules[i - 1](up)
            laterals[i - 1] = self.tensor_add(laterals[i - 1], up)
        return tuple(conv(x) for conv, x in zip(self.fpn_convs, laterals))
