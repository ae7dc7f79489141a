# Objects365 v1 (COCO-format json; the 365 class names come from it).
_base_ = './coco_detection.py'
dataset_type = 'Objects365V1Dataset'
data_root = 'data/Objects365/Obj365_v1/'
data = dict(
    train=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/objects365_train.json',
        img_prefix=data_root + 'train/',
    ),
    val=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/objects365_val.json',
        img_prefix=data_root + 'val/',
    ),
    test=dict(
        type=dataset_type,
        ann_file=data_root + 'annotations/objects365_val.json',
        img_prefix=data_root + 'val/',
    ),
)
