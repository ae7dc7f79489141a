"""The mask head of Hybrid Task Cascade (Chen et al., 2019)."""

from mmcv.cnn import ConvModule

from mmdet.models.builder import HEADS
from mmdet.utils.arg_errors import InvalidArgumentError
from .fcn_mask_head import FCNMaskHead


@HEADS.register_module()
class HTCMaskHead(FCNMaskHead):
    """:class:`FCNMaskHead` that can add the previous stage's mask features
    (through a 1x1 ``conv_res``) to its input: HTC's mask information flow.

    Args:
        with_conv_res (bool): build ``conv_res`` (False for the first stage,
            which has no previous stage).
        *args, **kwargs: :class:`FCNMaskHead`'s arguments.
    """

    def __init__(self, with_conv_res=True, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_conv_res = with_conv_res
        if with_conv_res:
            self.conv_res = ConvModule(
                self.conv_out_channels,
                self.conv_out_channels,
                1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
            )

    def forward(self, x, res_feat=None, return_logits=True, return_feat=True):
        """(K, C, 14, 14) RoI features (plus the previous stage's (K, C', 14,
        14) ``res_feat``) -> mask logits (K, num_classes, 28, 28) and/or
        this stage's features before upsampling (K, C', 14, 14); a pair
        when both are asked for."""
        if res_feat is not None:
            if not self.with_conv_res:
                raise InvalidArgumentError(
                    'HTCMaskHead got res_feat but was built with '
                    'with_conv_res=False'
                )
            x = x + self.conv_res(res_feat)
        for conv in self.convs:
            x = conv(x)
        feat = x
        outs = []
        if return_logits:
            if self.upsample is not None:
                x = self.upsample(x)
                if self.upsample_method == 'deconv':
                    x = self.relu(x)
            outs.append(self.conv_logits(x))
        if return_feat:
            outs.append(feat)
        return tuple(outs) if len(outs) > 1 else outs[0]
