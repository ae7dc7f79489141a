# SCNet (Vu et al., AAAI 2021), R-50-FPN, COCO 1x: HTC's detector with a
# three-stage box cascade whose RoI features get the semantic and global
# context features, and one residual mask head after the last stage fed
# with that stage's box features (feature relay).
_base_ = '../htc/htc_r50_fpn_1x_coco.py'


def _bbox_head(stds):
    return dict(
        type='SCNetBBoxHead',
        num_shared_fcs=2,
        in_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=stds,
        ),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    )


def _extractor(size, strides):
    return dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=size, sampling_ratio=0),
        out_channels=256,
        featmap_strides=strides,
    )


model = dict(
    type='SCNet',
    roi_head=dict(
        _delete_=True,
        type='SCNetRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=_extractor(7, [4, 8, 16, 32]),
        bbox_head=[
            _bbox_head([0.1, 0.1, 0.2, 0.2]),
            _bbox_head([0.05, 0.05, 0.1, 0.1]),
            _bbox_head([0.033, 0.033, 0.067, 0.067]),
        ],
        mask_roi_extractor=_extractor(14, [4, 8, 16, 32]),
        mask_head=dict(
            type='SCNetMaskHead',
            num_convs=12,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            conv_to_res=True,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        ),
        semantic_roi_extractor=_extractor(14, [8]),
        semantic_head=dict(
            type='SCNetSemanticHead',
            num_ins=5,
            fusion_level=1,
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=183,
            loss_seg=dict(
                type='CrossEntropyLoss', ignore_index=255, loss_weight=0.2
            ),
            conv_to_res=True,
        ),
        glbctx_head=dict(
            type='GlobalContextHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            loss_weight=3.0,
            conv_to_res=True,
        ),
        feat_relay_head=dict(
            type='FeatureRelayHead',
            in_channels=1024,
            out_conv_channels=256,
            roi_feat_size=7,
            scale_factor=2,
        ),
    ),
)
# MMDetection's HTC settings the repo's htc base does not carry (its stage
# assigners use match_low_quality's default, True; score_thr 0.001);
# the list replaces the base's stages
model['train_cfg'] = dict(
    rcnn=[
        dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=iou,
                neg_iou_thr=iou,
                min_pos_iou=iou,
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
        for iou in (0.5, 0.6, 0.7)
    ]
)
model['test_cfg'] = dict(rcnn=dict(score_thr=0.001))
