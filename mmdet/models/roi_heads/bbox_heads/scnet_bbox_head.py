"""SCNet's box head: a ConvFC head that can also return its shared
features (relayed to the mask branch)."""

from mmdet.models.builder import HEADS
from .convfc_bbox_head import ConvFCBBoxHead


@HEADS.register_module()
class SCNetBBoxHead(ConvFCBBoxHead):
    """:class:`ConvFCBBoxHead` whose ``forward(x, return_shared_feat=True)``
    appends the (K, fc_out_channels) shared features to its outputs."""

    def forward(self, x, return_shared_feat=False):
        shared = self._run_branch(x, self.shared_convs, self.shared_fcs, False)
        cls_score = bbox_pred = None
        if self.with_cls:
            cls_score = self.fc_cls(
                self._run_branch(shared, self.cls_convs, self.cls_fcs, True)
            )
        if self.with_reg:
            bbox_pred = self.fc_reg(
                self._run_branch(shared, self.reg_convs, self.reg_fcs, True)
            )
        if return_shared_feat:
            return cls_score, bbox_pred, shared
        return cls_score, bbox_pred
