"""An exported detector run by ONNX Runtime behind a detector's test
interface, and its comparison with the PyTorch model on one image."""

import numpy as np
import torch
from torch import nn

from ..bbox import bbox2result
from ..mask import paste_masks, upsample_masks, with_mask_boxes
from ..visualization import imshow_det_result
from .families import mask_thr_of, num_classes_of
from .pytorch2onnx import export_inputs
from .runtime import NUM_DETS, ORTSession


class ONNXRuntimeDetector(nn.Module):
    """An exported detector run by ONNX Runtime, with a detector's test
    interface: ``model(return_loss=False, rescale=True, img=[...],
    img_metas=[...])`` gives MMDetection's result format and
    ``show_result`` draws it, so the test loop, evaluation and drawing work
    unchanged.

    Args:
        onnx_file (str | ORTSession): the exported file (or a session).
        class_names (tuple[str]): the data set's classes.
        mask_thr_binary (float): ``test_cfg.rcnn.mask_thr_binary`` (a file
            that stores its threshold, a box-free segmentor's, uses that).
        num_threads (int, optional): ONNX Runtime's intra-op threads.
    """

    def __init__(
        self, onnx_file, class_names, mask_thr_binary=0.5, num_threads=None
    ):
        super().__init__()
        self.session = (
            onnx_file
            if isinstance(onnx_file, ORTSession)
            else ORTSession(onnx_file, num_threads)
        )
        if 'dets' not in self.session.output_names:
            raise ValueError(
                f'{onnx_file} was exported without the '
                'post-processing (--skip-postprocess): it '
                'gives no detections to test'
            )
        self.CLASSES = class_names
        metadata = self.session.metadata
        self.mask_thr_binary = float(metadata.get('mask_thr', mask_thr_binary))
        # a box-free segmentor's masks: image-level, at this stride
        stride = metadata.get('mask_stride')
        self.mask_stride = int(stride) if stride else None

    def forward(self, img, img_metas, return_loss=True, **kwargs):
        """The detectors' test entry: ``img`` and ``img_metas`` are lists
        over augmentations, of which the graph takes exactly one."""
        if return_loss:
            raise NotImplementedError('an ONNX detector cannot be trained')
        for var, name in ((img, 'imgs'), (img_metas, 'img_metas')):
            if not isinstance(var, list):
                raise TypeError(f'{name} must be a list, but got {type(var)}')
        if len(img) != 1:
            raise NotImplementedError('test-time augmentation is not exported')
        return self.simple_test(img[0], img_metas[0], **kwargs)

    def simple_test(self, img, img_metas, rescale=True, **kwargs):
        """Results of a (B, 3, H, W) batch: one graph run for the batch
        with a batch graph (``--dynamic-export``), else one per image."""
        if not rescale:
            raise ValueError(
                'the exported graph gives boxes in original '
                'image pixels (rescale=True) only'
            )
        if not self.session.batch:
            return [
                self._result(
                    self.session(*export_inputs(img[i : i + 1], meta)), meta
                )
                for i, meta in enumerate(img_metas)
            ]
        per_image = [
            export_inputs(img[i : i + 1], meta)
            for i, meta in enumerate(img_metas)
        ]
        outputs = self.session(
            img,
            torch.stack([inputs[1] for inputs in per_image]),
            torch.stack([inputs[2] for inputs in per_image]),
        )
        return [
            self._result(image_outputs, meta)
            for image_outputs, meta in zip(split_batch(outputs), img_metas)
        ]

    def show_result(self, img, result, **kwargs):
        """Draw a result (:func:`imshow_det_result` with ``CLASSES``; a
        box-free segmentor's boxes are its masks' tight boxes, as its
        PyTorch model draws them)."""
        if isinstance(result, tuple):
            result = with_mask_boxes(result)
        return imshow_det_result(
            img, result, class_names=self.CLASSES, **kwargs
        )

    def _result(self, outputs, meta):
        dets = torch.from_numpy(outputs['dets'])
        labels = torch.from_numpy(outputs['labels'])
        bbox_result = bbox2result(dets, labels, len(self.CLASSES))
        if 'masks' not in outputs:
            return bbox_result
        make = _segm_result if self.mask_stride is None else self._image_masks
        return bbox_result, make(
            torch.from_numpy(outputs['masks']),
            dets,
            labels,
            meta,
            len(self.CLASSES),
            self.mask_thr_binary,
        )

    def _image_masks(self, probs, dets, labels, meta, num_classes, thr):
        """Per class the (H, W) binary masks of the original image from a
        box-free segmentor's (n, h, w) probabilities at ``mask_stride``,
        made as its PyTorch head makes them."""
        segms = [[] for _ in range(num_classes)]
        if len(probs) == 0:  # interpolate takes no empty batch
            return segms
        size = (
            probs.size(1) * self.mask_stride,
            probs.size(2) * self.mask_stride,
        )
        masks = upsample_masks(
            probs, size, meta['img_shape'], meta['ori_shape'], thr
        ).numpy()
        for mask, label in zip(masks, labels.tolist()):
            segms[label].append(mask)
        return segms


def split_batch(outputs):
    """Per image the outputs of a batch graph: its ``dets``, ``labels``
    (and ``masks``) rows, by ``num_dets``."""
    counts = outputs[NUM_DETS]
    ends = np.cumsum(counts)
    return [
        {
            name: value[end - count : end]
            for name, value in outputs.items()
            if name != NUM_DETS
        }
        for count, end in zip(counts, ends)
    ]


def _segm_result(probs, dets, labels, meta, num_classes, threshold):
    """Per class the (H, W) binary masks of the original image from (n, h,
    w) box-relative probabilities, pasted as the PyTorch model does on the
    CPU (one mask at a time, only around its box)."""
    segms = [[] for _ in range(num_classes)]
    scale = torch.as_tensor(
        np.broadcast_to(
            np.asarray(meta['scale_factor'], dtype=np.float32), (4,)
        ).copy()
    )
    boxes = dets[:, :4] * scale / scale  # the model's round trip
    img_h, img_w = meta['ori_shape'][:2]
    for i, label in enumerate(labels.tolist()):
        mask = torch.zeros(img_h, img_w, dtype=torch.bool)
        pasted, region = paste_masks(
            probs[i : i + 1, None],
            boxes[i : i + 1],
            img_h,
            img_w,
            skip_empty=True,
        )
        mask[region] = pasted[0] >= threshold
        segms[label].append(mask.numpy())
    return segms


def compare_results(
    model, session, img, meta, box_tol=0.01, score_tol=1e-4, mask_iou=0.99
):
    """Run PyTorch (``simple_test``) and ONNX Runtime on one image and
    compare their detections.

    Args:
        model (BaseDetector): the PyTorch detector, eval mode.
        session (ORTSession): the exported graph.
        img (Tensor): (1, 3, H, W) test-pipeline image; ``meta`` its meta.

    Detections are matched class by class in score order. Returns a dict:
    ``num`` (PyTorch, ORT), ``box`` and ``score`` (largest differences),
    ``mask_iou`` (smallest), ``ok``.
    """
    with torch.no_grad():
        ref = model(
            return_loss=False, rescale=True, img=[img], img_metas=[[meta]]
        )[0]
    ort_model = ONNXRuntimeDetector(
        session,
        tuple(map(str, range(num_classes_of(model)))),
        mask_thr_of(model),
    )
    out = ort_model.simple_test(img, [meta])[0]
    return _compare(ref, out, box_tol, score_tol, mask_iou)


def _compare(ref, out, box_tol, score_tol, mask_iou):
    ref_boxes, ref_masks = ref if isinstance(ref, tuple) else (ref, None)
    out_boxes, out_masks = out if isinstance(out, tuple) else (out, None)
    report = dict(
        num=(sum(map(len, ref_boxes)), sum(map(len, out_boxes))),
        box=0.0,
        score=0.0,
        mask_iou=1.0,
    )
    same_num = all(len(a) == len(b) for a, b in zip(ref_boxes, out_boxes))
    if same_num:
        for c, (a, b) in enumerate(zip(ref_boxes, out_boxes)):
            for i, j in _match(a, b):
                report['box'] = max(
                    report['box'], float(np.abs(a[i, :4] - b[j, :4]).max())
                )
                report['score'] = max(
                    report['score'], float(abs(a[i, 4] - b[j, 4]))
                )
                if ref_masks is not None:
                    report['mask_iou'] = min(
                        report['mask_iou'],
                        _iou(ref_masks[c][i], out_masks[c][j]),
                    )
    report['ok'] = bool(
        same_num
        and report['box'] <= box_tol
        and report['score'] <= score_tol
        and report['mask_iou'] >= mask_iou
    )
    return report


def _match(a, b):
    """Pairs (i, j) of (n, 5) detections ``a`` and ``b`` of one class, each
    of ``a`` in score order taking the nearest free one of ``b`` (largest
    coordinate difference plus score difference): scores within float
    noise of each other may come in either order."""
    free = list(range(len(b)))
    pairs = []
    for i in np.argsort(-a[:, 4], kind='stable'):
        dist = np.abs(b[free] - a[i]).max(axis=1)
        pairs.append((i, free.pop(int(np.argmin(dist)))))
    return pairs


def _iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
