"""pycocotools' COCO with snake_case names (MMDetection's wrapper), reading
the annotation file with checks that name the file: JSON syntax errors with
their line and column, a file that is no COCO dictionary, duplicate image
or annotation ids (pycocotools would silently merge them)."""

from collections import Counter

from pycocotools.coco import COCO as _COCO
from pycocotools.cocoeval import COCOeval

from mmdet.utils.data_files import DataFileError, load_json


class AnnotationFileError(ValueError, AssertionError):
    """An annotation file with inconsistent content (duplicate ids, broken
    masks). An AssertionError too, as MMDetection 2.x asserted some of
    these."""


_IMAGE_KEYS = ('id', 'file_name', 'width', 'height')


def _repeated(ids, limit=10):
    """The values that occur more than once in ``ids`` (at most ``limit``)
    and how many such values there are."""
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    return repeated[:limit], len(repeated)


def check_coco_dict(dataset, path):
    """Raise if ``dataset`` (the parsed ``path``) is no COCO dictionary or
    repeats an image or annotation id."""
    if not isinstance(dataset, dict) or not isinstance(
        dataset.get('images'), list
    ):
        found = (
            sorted(dataset)
            if isinstance(dataset, dict)
            else type(dataset).__name__
        )
        raise DataFileError(
            f'{path!r} is not a COCO annotation file: expected a JSON '
            "object with an 'images' list (and 'annotations', "
            f"'categories'), found {found}"
        )
    for key in ('annotations', 'categories'):
        if not isinstance(dataset.get(key, []), list):
            raise DataFileError(f"{path!r}: '{key}' must be a list")
    images = dataset['images']
    missing = [
        i
        for i, img in enumerate(images)
        if not isinstance(img, dict)
        or not all(key in img for key in _IMAGE_KEYS)
    ]
    if missing:
        raise DataFileError(
            f"{path!r}: entries {missing[:10]} of 'images' (0-based "
            f'positions) lack one of {list(_IMAGE_KEYS)}'
        )
    for kind, items in (
        ('image', images),
        ('annotation', dataset.get('annotations', [])),
    ):
        try:
            ids = [item['id'] for item in items]
        except (KeyError, TypeError):
            raise DataFileError(
                f"{path!r}: an {kind} entry has no 'id' or is no dictionary"
            ) from None
        if len(set(ids)) == len(ids):
            continue
        repeated, count = _repeated(ids)
        raise AnnotationFileError(
            f'{kind} ids in {path!r} are not unique: {count} ids occur '
            f'more than once, e.g. {repeated}. Give every {kind} its own '
            "id (pycocotools would merge them, putting one image's objects "
            'on another).'
        )


def segmentation_problem(segm, img):
    """What is wrong with one COCO segmentation, or None when it is a
    well-formed mask (polygons of >= 3 points with an even number of
    coordinates, or an RLE of the image's size). Empty / missing
    segmentations are not judged here (see ``has_mask``).

    Args:
        segm: the annotation's ``segmentation`` value.
        img (dict | None): its image entry (``height``, ``width``).
    """
    if isinstance(segm, list):
        for part in segm:
            if not isinstance(part, (list, tuple)):
                return (
                    'a polygon that is no list of coordinates '
                    f'({type(part).__name__})'
                )
            if len(part) % 2:
                return (
                    'a polygon with an odd number of coordinates '
                    f'({len(part)})'
                )
            if len(part) < 6:
                return f'a polygon with fewer than 3 points ({len(part) // 2})'
        return None
    if isinstance(segm, dict):
        if 'size' not in segm or 'counts' not in segm:
            return f"an RLE without 'size' or 'counts' (keys {sorted(segm)})"
        if img is not None and list(segm['size']) != [
            img.get('height'),
            img.get('width'),
        ]:
            return (
                f"an RLE of size {list(segm['size'])} on an image of "
                f"height x width {img.get('height')} x "
                f"{img.get('width')}"
            )
        return None
    if segm is None:
        return None
    return f'a segmentation of type {type(segm).__name__}'


def has_mask(ann):
    """Whether an annotation carries a (non-empty) segmentation."""
    segm = ann.get('segmentation')
    return segm is not None and len(segm) > 0


class COCO(_COCO):
    """``pycocotools.coco.COCO`` plus ``get_ann_ids``, ``get_cat_ids``,
    ``get_img_ids``, ``load_anns``, ``load_cats``, ``load_imgs``; the file
    is checked (see the module doc) before it is indexed.

    Args:
        annotation_file (str | None): a COCO-format JSON file.
        prepare (callable | None): applied to the parsed dict before the
            check, e.g. to derive LVIS v1's missing ``file_name``.
    """

    def __init__(self, annotation_file=None, prepare=None):
        super().__init__()
        if annotation_file is not None:
            dataset = load_json(annotation_file)
            if prepare is not None:
                prepare(dataset)
            check_coco_dict(dataset, annotation_file)
            self.dataset = dataset
            self.createIndex()
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs

    def get_ann_ids(self, img_ids=[], cat_ids=[], area_rng=[], iscrowd=None):
        return self.getAnnIds(img_ids, cat_ids, area_rng, iscrowd)

    def get_cat_ids(self, cat_names=[], sup_names=[], cat_ids=[]):
        return self.getCatIds(cat_names, sup_names, cat_ids)

    def get_img_ids(self, img_ids=[], cat_ids=[]):
        return self.getImgIds(img_ids, cat_ids)

    def load_anns(self, ids):
        return self.loadAnns(ids)

    def load_cats(self, ids):
        return self.loadCats(ids)

    def load_imgs(self, ids):
        return self.loadImgs(ids)


__all__ = [
    'AnnotationFileError',
    'COCO',
    'COCOeval',
    'has_mask',
    'segmentation_problem',
]
