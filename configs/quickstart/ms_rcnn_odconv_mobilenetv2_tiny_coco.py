# Quick start: Mask Scoring R-CNN with an ODConv (4x) MobileNetV2 (0.5x),
# trained FROM SCRATCH on the generated tiny COCO-format set (tools/misc/
# make_tiny_coco.py; 400 train / 100 val images of 128 px, 4 classes).
#
#   python tools/train.py configs/quickstart/ms_rcnn_odconv_mobilenetv2_tiny_coco.py
#
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py (its comments say why each
# setting) plus the MaskIoU head, which learns the IoU of each mask with its
# gt and rescales the mask scores by it. The MaskIoU head is as narrow as
# the others: 64-channel convs, 256-unit fc.
_base_ = './mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=64,
            conv_out_channels=64,
            fc_out_channels=256,
            num_classes=4,
        ),
    ),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)),
)
