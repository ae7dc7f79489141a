"""WIDER FACE with per-image VOC-style XML (MMDetection 2.x's
``WIDERFaceDataset``; XML as written by the wider-face-pascal-voc-
annotations converter).

``img_prefix`` is e.g. ``data/WIDERFace/WIDER_train/``; image ``<id>`` is
``<img_prefix>/<folder>/<id>.jpg`` with ``<folder>`` (the event, e.g.
``0--Parade``) read from its XML ``<img_prefix>/Annotations/<id>.xml``.
"""

import mmcv

from .registry import DATASETS
from .xml_style import XMLDataset


@DATASETS.register_module()
class WIDERFaceDataset(XMLDataset):
    """One class, 'face'."""

    CLASSES = ('face',)
    PALETTE = [(0, 255, 0)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def load_annotations(self, ann_file):
        """id, filename ``<folder>/<id>.jpg``, width, height per image."""
        data_infos = []
        for img_id in mmcv.list_from_file(ann_file):
            root = self._xml_root(img_id)
            size = root.find('size')
            data_infos.append(
                dict(
                    id=img_id,
                    filename=f'{root.find("folder").text}/{img_id}.jpg',
                    width=int(size.find('width').text),
                    height=int(size.find('height').text),
                )
            )
        return data_infos
