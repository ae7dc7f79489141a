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
# MMDetection's HTC writes its own R-CNN training stages, leaving
# MaxIoUAssigner's match_low_quality at its default (True), unlike the
# Cascade Mask R-CNN base; and it tests with score_thr=0.001
_rcnn_stage = dict(
    assigner=dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.5,
        neg_iou_thr=0.5,
        min_pos_iou=0.5,
        ignore_iof_thr=-1,
    ),
    sampler=dict(
        type='RandomSampler',
        num=512,
        pos_fraction=0.25,
        neg_pos_ub=-1,
        add_gt_as_proposals=True,
    ),
    mask_size=28,
    pos_weight=-1,
    debug=False,
)
model.update(
    train_cfg=dict(
        rcnn=[
            dict(
                _rcnn_stage,
                assigner=dict(
                    _rcnn_stage['assigner'],
                    pos_iou_thr=iou,
                    neg_iou_thr=iou,
                    min_pos_iou=iou,
                ),
            )
            for iou in (0.5, 0.6, 0.7)
        ]
    ),
    test_cfg=dict(rcnn=dict(score_thr=0.001)),
)
