"""ONNX deployment: export a detector from its config and checkpoint, run
the exported file as a detector in the test loop, compare it with PyTorch,
and time both (``tools/deployment/*.py`` call these)."""

import os.path as osp
import time
import warnings

import mmcv
import numpy as np
import torch
from mmcv.parallel import collate

from mmdet.apis.builders import (
    build_test_dataset,
    build_test_detector,
    build_test_loader,
    check_test_outputs,
    handle_test_outputs,
    load_config,
)
from mmdet.apis.test import single_gpu_test
from mmdet.core import bbox2result
from mmdet.core.export import import_deploy_module
from mmdet.core.export.pytorch2onnx import export_inputs, export_onnx
from mmdet.core.export.runtime import ORTSession
from mmdet.datasets import replace_ImageToTensor
from mmdet.datasets.pipelines import Compose
from mmdet.models.detectors.base import BaseDetector
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.utils import build_dp, compat_cfg

__all__ = [
    'ONNXRuntimeDetector',
    'benchmark_backends',
    'compare_results',
    'load_test_image',
    'pytorch2onnx',
    'test_onnx',
]


def _fixed_shape_pipeline(pipeline, shape):
    """The test pipeline resizing every image to exactly ``shape`` (h, w)
    (``--shape``)."""
    pipeline = mmcv.ConfigDict(dict(p=pipeline)).p  # a deep copy
    for step in pipeline:
        if step['type'] == 'MultiScaleFlipAug':
            step['img_scale'] = (shape[1], shape[0])
            step.pop('scale_factor', None)
            for inner in step['transforms']:
                if inner['type'] == 'Resize':
                    inner['keep_ratio'] = False
    return pipeline


def load_test_image(cfg, img, shape=None):
    """One image through the config's test pipeline.

    Args:
        cfg (mmcv.Config): the config.
        img (str | ndarray): an image file or a BGR uint8 (H, W, 3) array.
        shape (tuple[int], optional): (h, w) to resize to instead of the
            pipeline's scale.

    Returns:
        tuple: (1, 3, H, W) tensor and its meta dict.
    """
    pipeline = cfg.data.test.pipeline
    if shape is not None:
        pipeline = _fixed_shape_pipeline(pipeline, shape)
    pipeline = list(pipeline)
    if isinstance(img, np.ndarray):
        pipeline[0] = dict(pipeline[0], type='LoadImageFromWebcam')
        sample = dict(img=img)
    else:
        if not osp.isfile(str(img)):
            raise FileNotFoundError(f'input image {img!r} does not exist')
        sample = dict(img_info=dict(filename=img), img_prefix=None)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        pipeline = replace_ImageToTensor(pipeline)
    data = collate([Compose(pipeline)(sample)], samples_per_gpu=1)
    return data['img'][0].data[0], data['img_metas'][0].data[0][0]


def _example_image(shape):
    """A fixed textured BGR image when no ``--input-img`` is given."""
    rng = np.random.RandomState(0)
    h, w = shape if shape is not None else (800, 1333)
    return rng.randint(0, 256, (h, w, 3)).astype(np.uint8)


def pytorch2onnx(
    config,
    checkpoint,
    output_file,
    input_img=None,
    test_img=None,
    shape=None,
    dynamic_export=False,
    verify=False,
    simplify=False,
    skip_postprocess=False,
    opset_version=17,
    cfg_options=None,
    model=None,
):
    """Export ``config`` + ``checkpoint`` to ``output_file``.

    ``input_img`` (through the test pipeline, or resized to ``shape``) is
    traced; with ``verify`` the file is run in ONNX Runtime on
    ``test_img`` (else ``input_img``) and compared with PyTorch
    (:func:`compare_results`). ``model`` (an already built detector)
    replaces ``checkpoint``.

    Returns:
        dict | None: the comparison with ``verify``.
    """
    import_deploy_module('onnxruntime' if verify else 'onnx')
    cfg = compat_cfg(load_config(config, cfg_options))
    if model is None:
        model, _ = build_test_detector(cfg, checkpoint)
    model = model.cpu().eval()
    img = input_img if input_img is not None else _example_image(shape)
    tensor, meta = load_test_image(cfg, img, shape)
    export_onnx(
        model,
        tensor,
        meta,
        output_file,
        opset_version=opset_version,
        dynamic_export=dynamic_export,
        skip_postprocess=skip_postprocess,
        simplify=simplify,
    )
    print(f'Successfully exported ONNX model: {output_file}')
    if not verify:
        return None
    if skip_postprocess:
        raise ValueError(
            '--verify compares detections: it needs the '
            'post-processing (drop --skip-postprocess)'
        )
    if test_img is not None:
        tensor, meta = load_test_image(
            cfg, test_img, None if dynamic_export else shape
        )
    report = compare_results(model, ORTSession(output_file), tensor, meta)
    print(
        'The numerical values are the same between PyTorch and ONNX '
        f'Runtime: {report}'
        if report['ok']
        else f'PyTorch and ONNX Runtime differ: {report}'
    )
    return report


class ONNXRuntimeDetector(BaseDetector):
    """An exported detector run by ONNX Runtime, with a detector's test
    interface: ``model(return_loss=False, rescale=True, img=[...],
    img_metas=[...])`` gives MMDetection's result format, so the test loop,
    evaluation and drawing work unchanged.

    Args:
        onnx_file (str | ORTSession): the exported file (or a session).
        class_names (tuple[str]): the data set's classes.
        mask_thr_binary (float): ``test_cfg.rcnn.mask_thr_binary``.
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
        if 'scale_factor' not in self.session.input_names:
            raise ValueError(
                f'{onnx_file} was exported without the '
                'post-processing (--skip-postprocess): it '
                'gives no detections to test'
            )
        self.CLASSES = class_names
        self.mask_thr_binary = mask_thr_binary

    def extract_feat(self, imgs):
        raise NotImplementedError('an ONNX detector gives detections only')

    def aug_test(self, imgs, img_metas, **kwargs):
        raise NotImplementedError('test-time augmentation is not exported')

    def forward_train(self, imgs, img_metas, **kwargs):
        raise NotImplementedError('an ONNX detector cannot be trained')

    def simple_test(self, img, img_metas, rescale=True, **kwargs):
        if not rescale:
            raise ValueError(
                'the exported graph gives boxes in original '
                'image pixels (rescale=True) only'
            )
        return [
            self._result(
                self.session(*export_inputs(img[i : i + 1], meta)), meta
            )
            for i, meta in enumerate(img_metas)
        ]

    def _result(self, outputs, meta):
        dets = torch.from_numpy(outputs['dets'])
        labels = torch.from_numpy(outputs['labels'])
        bbox_result = bbox2result(dets, labels, len(self.CLASSES))
        if 'masks' not in outputs:
            return bbox_result
        return bbox_result, paste_masks(
            torch.from_numpy(outputs['masks']),
            dets,
            labels,
            meta,
            len(self.CLASSES),
            self.mask_thr_binary,
        )


def paste_masks(probs, dets, labels, meta, num_classes, threshold):
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
        pasted, region = _do_paste_mask(
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
        tuple(map(str, range(model.roi_head.bbox_head.num_classes))),
        model.roi_head.test_cfg.get('mask_thr_binary', 0.5),
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


def test_onnx(
    config,
    onnx_file,
    backend='onnxruntime',
    out=None,
    eval=None,
    format_only=False,
    show_dir=None,
    show_score_thr=0.3,
    eval_options=None,
    cfg_options=None,
):
    """Evaluate an exported file on the config's test set (what
    ``tools/deployment/test.py`` does); returns ``(outputs, metrics)``."""
    if backend != 'onnxruntime':
        raise ValueError(
            f'backend {backend!r} is not supported; use onnxruntime'
        )
    check_test_outputs(out, eval, format_only, show_dir=show_dir)
    cfg = compat_cfg(load_config(config, cfg_options))
    cfg.data.test_dataloader = dict(
        cfg.data.get('test_dataloader', {}), samples_per_gpu=1
    )
    dataset = build_test_dataset(cfg)
    loader = build_test_loader(cfg, dataset)
    rcnn = cfg.model.get('test_cfg', {}).get('rcnn', {})
    model = ONNXRuntimeDetector(
        onnx_file, dataset.CLASSES, rcnn.get('mask_thr_binary', 0.5)
    )
    outputs = single_gpu_test(
        build_dp(model, 'cpu'), loader, False, show_dir, show_score_thr
    )
    metrics = handle_test_outputs(
        cfg, dataset, outputs, out, eval, format_only, eval_options
    )
    return outputs, metrics


def benchmark_backends(
    config,
    checkpoint=None,
    shape=(800, 1333),
    num_iters=5,
    warmup=1,
    threads=None,
    onnx_file=None,
    cfg_options=None,
    log=print,
):
    """Per-image latency of PyTorch eager and ONNX Runtime on the CPU, the
    two measured in the same run and interleaved image by image (so that
    a busy machine slows both alike).

    The same fixed image, resized to ``shape`` (h, w), goes through both;
    the times cover the model call and post-processing (ORT: the session
    and the mask pasting), not the data pipeline. Without ``checkpoint``
    the weights are the initial ones (speed barely depends on them: the
    RPN keeps its ``max_per_img`` proposals either way).

    Returns:
        dict: ``pytorch`` and ``onnxruntime`` median milliseconds per
        image and their ``ratio`` (ORT / PyTorch).
    """
    import tempfile

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    cfg = compat_cfg(load_config(config, cfg_options))
    model, _ = build_test_detector(cfg, checkpoint)
    img, meta = load_test_image(cfg, _example_image(shape), shape)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = onnx_file or osp.join(tmp, 'model.onnx')
        if not osp.isfile(onnx_file):
            export_onnx(model, img, meta, onnx_file, dynamic_export=True)
        ort_model = ONNXRuntimeDetector(
            ORTSession(onnx_file, threads),
            tuple(map(str, range(model.roi_head.bbox_head.num_classes))),
            model.roi_head.test_cfg.get('mask_thr_binary', 0.5),
        )
        times = dict(pytorch=[], onnxruntime=[])
        for i in range(warmup + num_iters):
            for name in ('pytorch', 'onnxruntime'):
                start = time.perf_counter()
                if name == 'pytorch':
                    with torch.no_grad():
                        model(
                            return_loss=False,
                            rescale=True,
                            img=[img],
                            img_metas=[[meta]],
                        )
                else:
                    ort_model.simple_test(img, [meta])
                elapsed = 1000 * (time.perf_counter() - start)
                if i >= warmup:
                    times[name].append(elapsed)
            if i >= warmup:
                log(
                    f'image {i - warmup + 1}/{num_iters}: PyTorch '
                    f'{times["pytorch"][-1]:.0f} ms, ONNX Runtime '
                    f'{times["onnxruntime"][-1]:.0f} ms'
                )
    result = {k: float(np.median(v)) for k, v in times.items()}
    result['ratio'] = result['onnxruntime'] / result['pytorch']
    log(
        f'{osp.basename(str(config))} at {shape[0]}x{shape[1]}, '
        f'{threads} thread(s), median per image: PyTorch '
        f'{result["pytorch"]:.0f} ms, ONNX Runtime '
        f'{result["onnxruntime"]:.0f} ms (ratio {result["ratio"]:.2f})'
    )
    return result
