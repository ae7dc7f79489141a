# Objects365 v2 (COCO-format json; the 365 class names come from it).
_base_ = './coco_detection.py'
dataset_type = 'Objects365V2Dataset'
data_root = 'data/Objects365/Obj365_v2/'
data = dict(
    train=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/zhiyuan_objv2_train.json',
        img_prefix=data_root + 'train/',
    ),
    val=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/zhiyuan_objv2_val.json',
        img_prefix=data_root + 'val/',
    ),
    test=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/zhiyuan_objv2_val.json',
        img_prefix=data_root + 'val/',
    ),
)
