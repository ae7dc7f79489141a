"""PASCAL VOC 2007 / 2012 (MMDetection 2.x's ``VOCDataset``).

The year is read from ``img_prefix`` ('VOC2007' or 'VOC2012' in it); VOC2007
is evaluated with the 11-point AP of its devkit, VOC2012 with the area AP,
both with 1.x-style box widths (x2 - x1 + 1) as MMDetection does.
"""

from collections import OrderedDict

from mmcv.utils import print_log

from mmdet.core.evaluation import eval_map, voc_classes
from .registry import DATASETS
from .xml_style import XMLDataset


@DATASETS.register_module()
class VOCDataset(XMLDataset):
    """The 20 PASCAL VOC classes in VOC's XML layout (see ``XMLDataset``)."""

    CLASSES = tuple(voc_classes())
    PALETTE = [
        (106, 0, 228), (119, 11, 32), (165, 42, 42), (0, 0, 192),
        (197, 226, 255), (0, 60, 100), (0, 0, 142), (255, 77, 255),
        (153, 69, 1), (120, 166, 157), (0, 182, 199), (0, 226, 252),
        (182, 182, 255), (0, 0, 230), (220, 20, 60), (163, 255, 0),
        (0, 82, 0), (3, 95, 161), (0, 80, 100), (183, 130, 88),
    ]  # fmt: skip

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if 'VOC2007' in self.img_prefix:
            self.year = 2007
        elif 'VOC2012' in self.img_prefix:
            self.year = 2012
        else:
            raise ValueError(
                'Cannot infer dataset year from img_prefix '
                f'{self.img_prefix!r}: it must contain VOC2007 or VOC2012'
            )

    def evaluate(
        self,
        results,
        metric='mAP',
        logger=None,
        proposal_nums=(100, 300, 1000),
        iou_thr=0.5,
        scale_ranges=None,
    ):
        """'mAP' (per IoU threshold ``AP50``-style keys rounded to 3
        decimals, and 'mAP' first, their mean) or 'recall'
        (``recall@{num}@{iou}``, and ``AR@{num}`` with several thresholds).
        ``scale_ranges`` is accepted and unused, as in MMDetection."""
        if not isinstance(metric, str):
            if len(metric) != 1:
                raise KeyError(
                    f'VOCDataset evaluates one metric, got {metric}'
                )
            metric = metric[0]
        if metric not in ('mAP', 'recall'):
            raise KeyError(f'metric {metric} is not supported')
        annotations = [self.get_ann_info(i) for i in range(len(self))]
        iou_thrs = [iou_thr] if isinstance(iou_thr, float) else list(iou_thr)
        if metric == 'mAP':
            return self._voc_map(results, annotations, iou_thrs, logger)
        return self._eval_recall(
            results,
            annotations,
            proposal_nums,
            iou_thrs,
            logger,
            use_legacy_coordinate=True,
        )

    def _voc_map(self, results, annotations, iou_thrs, logger):
        # VOC2007 is scored with 11-point AP; 'voc07' also names the 20
        # VOC classes in the table, so other class lists are passed as
        # names with the 11-point mode (the same numbers)
        ds_name = self.CLASSES
        mode = '11points' if self.year == 2007 else 'area'
        if self.year == 2007 and tuple(self.CLASSES) == tuple(voc_classes()):
            ds_name = 'voc07'
        eval_results = OrderedDict()
        mean_aps = []
        for thr in iou_thrs:
            print_log(f'\n{"-" * 15}iou_thr: {thr}{"-" * 15}', logger=logger)
            mean_ap, _ = eval_map(
                results,
                annotations,
                scale_ranges=None,
                iou_thr=thr,
                dataset=ds_name,
                logger=logger,
                use_legacy_coordinate=True,
                eval_mode=mode,
            )
            mean_aps.append(mean_ap)
            eval_results[f'AP{int(thr * 100):02d}'] = round(mean_ap, 3)
        eval_results['mAP'] = sum(mean_aps) / len(mean_aps)
        eval_results.move_to_end('mAP', last=False)
        return eval_results
