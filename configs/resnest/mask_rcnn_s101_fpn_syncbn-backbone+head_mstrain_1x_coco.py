# Mask R-CNN, ResNeSt-101 + FPN (MMDetection 2.28's settings; the rest as
# the ResNeSt-50 config).
_base_ = './mask_rcnn_s50_fpn_syncbn-backbone+head_mstrain_1x_coco.py'
model = dict(
    backbone=dict(
        stem_channels=128,
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnest101'),
    )
)
