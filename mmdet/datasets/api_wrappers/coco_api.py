"""pycocotools' COCO with snake_case names (MMDetection's wrapper)."""
from pycocotools.coco import COCO as _COCO
from pycocotools.cocoeval import COCOeval


class COCO(_COCO):
    """``pycocotools.coco.COCO`` plus ``get_ann_ids``, ``get_cat_ids``,
    ``get_img_ids``, ``load_anns``, ``load_cats``, ``load_imgs``.

    Args:
        annotation_file (str | None): a COCO-format JSON file.
    """

    def __init__(self, annotation_file=None):
        super().__init__(annotation_file)
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


__all__ = ['COCO', 'COCOeval']
