# HTC without the semantic branch: Cascade Mask R-CNN's model with HTC's
# RoI head (interleaved box/mask stages, mask information flow).
_base_ = './cascade_mask_rcnn_r50_fpn.py'
_htc_mask_head = dict(
    type='HTCMaskHead',
    num_convs=4,
    in_channels=256,
    conv_out_channels=256,
    num_classes=80,
    loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
)
model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='HybridTaskCascadeRoIHead',
        interleaved=True,
        mask_info_flow=True,
        mask_head=[
            dict(_htc_mask_head, with_conv_res=False),
            _htc_mask_head,
            _htc_mask_head,
        ],
    ),
)
