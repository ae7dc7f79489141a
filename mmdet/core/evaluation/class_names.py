"""Class names of the common detection data sets, by data set name.

``get_classes`` knows MMDetection 2.x's names and aliases. Only the small
vocabularies are held here (VOC, COCO, Cityscapes, WIDER FACE); the large
ones (ImageNet DET/VID, Open Images, Objects365) raise
``NotImplementedError``.
"""

import mmcv

# data set name -> the names that select it
dataset_aliases = {
    'voc': ['voc', 'pascal_voc', 'voc07', 'voc12'],
    'imagenet_det': ['det', 'imagenet_det', 'ilsvrc_det'],
    'imagenet_vid': ['vid', 'imagenet_vid', 'ilsvrc_vid'],
    'coco': ['coco', 'mscoco', 'ms_coco'],
    'wider_face': ['WIDERFaceDataset', 'wider_face', 'WIDERFace'],
    'cityscapes': ['cityscapes'],
    'oid_challenge': ['oid_challenge', 'openimages_challenge'],
    'oid_v6': ['oid_v6', 'openimages_v6'],
    'objects365v1': ['objects365v1', 'obj365v1'],
    'objects365v2': ['objects365v2', 'obj365v2'],
}


def voc_classes():
    """The 20 PASCAL VOC class names (list[str], label order)."""
    return (
        'aeroplane bicycle bird boat bottle bus car cat chair cow '
        'diningtable dog horse motorbike person pottedplant sheep sofa '
        'train tvmonitor'
    ).split()


def coco_classes():
    """The 80 COCO class names (list[str], label order), words joined by
    '_' ('traffic_light') as MMDetection 2.x's evaluation names them;
    ``CocoDataset.CLASSES`` holds the same names with spaces (the layer
    rule keeps ``core`` from importing ``datasets``, so the test suite
    checks that the two lists agree)."""
    return (
        'person bicycle car motorcycle airplane bus train truck boat '
        'traffic_light fire_hydrant stop_sign parking_meter bench bird cat '
        'dog horse sheep cow elephant bear zebra giraffe backpack umbrella '
        'handbag tie suitcase frisbee skis snowboard sports_ball kite '
        'baseball_bat baseball_glove skateboard surfboard tennis_racket '
        'bottle wine_glass cup fork knife spoon bowl banana apple sandwich '
        'orange broccoli carrot hot_dog pizza donut cake chair couch '
        'potted_plant bed dining_table toilet tv laptop mouse remote '
        'keyboard cell_phone microwave oven toaster sink refrigerator book '
        'clock vase scissors teddy_bear hair_drier toothbrush'
    ).split()


def cityscapes_classes():
    """The 8 Cityscapes instance class names (list[str])."""
    return 'person rider car truck bus train motorcycle bicycle'.split()


def wider_face_classes():
    """The single WIDER FACE class (list[str])."""
    return ['face']


_CLASS_LISTS = dict(
    voc=voc_classes,
    coco=coco_classes,
    cityscapes=cityscapes_classes,
    wider_face=wider_face_classes,
)


def get_classes(dataset):
    """Class names of a data set given by name or alias (see
    ``dataset_aliases``), e.g. 'coco', 'voc07'.

    Args:
        dataset (str): the name.

    Returns:
        list[str]: the class names in label order.

    Raises:
        TypeError: ``dataset`` is not a str.
        ValueError: an unknown name.
        NotImplementedError: a known data set whose (large) class list is
            not included here.
    """
    if not mmcv.is_str(dataset):
        raise TypeError(f'dataset must be a str, but got {type(dataset)}')
    for name, aliases in dataset_aliases.items():
        if dataset in aliases:
            if name not in _CLASS_LISTS:
                raise NotImplementedError(
                    f'the class names of {name!r} are not included; '
                    f'get_classes knows {sorted(_CLASS_LISTS)}'
                )
            return _CLASS_LISTS[name]()
    raise ValueError(f'Unrecognized dataset: {dataset}')
