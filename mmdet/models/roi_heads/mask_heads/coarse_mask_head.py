"""PointRend's coarse mask head: RoI features are downsampled and read by
fully connected layers into a low-resolution mask per class."""

from mmcv.cnn import ConvModule, Linear
from mmcv.runner import BaseModule, ModuleList, auto_fp16

from mmdet.models.builder import HEADS
from mmdet.utils.arg_errors import check_arg
from .fcn_mask_head import FCNMaskHead


@HEADS.register_module()
class CoarseMaskHead(FCNMaskHead):
    """(K, C, S, S) -> (K, num_classes, S/f, S/f) mask logits.

    ``num_convs`` 3x3 convs, an f x f stride-f conv (``downsample_conv``,
    f = ``downsample_factor`` > 1), ``num_fcs`` ReLU linear layers, then
    ``fc_logits``. The other arguments are :class:`FCNMaskHead`'s (no
    upsampling, no ``conv_logits``).
    """

    def __init__(
        self,
        num_convs=0,
        num_fcs=2,
        fc_out_channels=1024,
        downsample_factor=2,
        init_cfg=dict(
            type='Xavier',
            override=[
                dict(name='fcs'),
                dict(type='Constant', val=0.001, name='fc_logits'),
            ],
        ),
        *arg,
        **kwarg,
    ):
        super().__init__(
            *arg,
            num_convs=num_convs,
            upsample_cfg=dict(type=None),
            init_cfg=None,
            **kwarg,
        )
        self.init_cfg = init_cfg
        check_arg(num_fcs > 0, 'CoarseMaskHead', 'num_fcs must be > 0')
        check_arg(
            downsample_factor >= 1,
            'CoarseMaskHead',
            'downsample_factor must be >= 1',
        )
        self.num_fcs = num_fcs
        self.fc_out_channels = fc_out_channels
        self.downsample_factor = downsample_factor
        del self.conv_logits
        in_channels = self.conv_out_channels if num_convs else self.in_channels
        self.downsample_conv = None
        if downsample_factor > 1:
            self.downsample_conv = ConvModule(
                in_channels,
                self.conv_out_channels,
                kernel_size=downsample_factor,
                stride=downsample_factor,
                padding=0,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
            )
        self.output_size = tuple(
            s // downsample_factor for s in self.roi_feat_size
        )
        self.output_area = self.output_size[0] * self.output_size[1]
        dims = [self.conv_out_channels * self.output_area]
        dims += [fc_out_channels] * num_fcs
        self.fcs = ModuleList(
            Linear(dims[i], dims[i + 1]) for i in range(num_fcs)
        )
        self.fc_logits = Linear(dims[-1], self.num_classes * self.output_area)

    def init_weights(self):
        # init_cfg only (FCNMaskHead's own initialization is skipped)
        BaseModule.init_weights(self)

    @auto_fp16()
    def forward(self, x):
        for conv in self.convs:
            x = conv(x)
        if self.downsample_conv is not None:
            x = self.downsample_conv(x)
        x = x.flatten(1)
        for fc in self.fcs:
            x = self.relu(fc(x))
        return self.fc_logits(x).view(
            x.size(0), self.num_classes, *self.output_size
        )
