"""ONNX deployment assembled from a config: export a detector from its
config and checkpoint, run the exported file in the test loop, and time it
against PyTorch (``tools/deployment/*.py`` call these). The export itself,
the ONNX Runtime detector and the comparison with PyTorch live in
``mmdet.core.export``."""

import json
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
from mmdet.core.export import (
    ONNXRuntimeDetector,
    compare_results,
    import_deploy_module,
)
from mmdet.core.export.families import mask_thr_of, num_classes_of
from mmdet.core.export.pytorch2onnx import DEFAULT_OPSET, export_onnx
from mmdet.core.export.runtime import ORTSession
from mmdet.datasets import DATASETS, CocoDataset, replace_ImageToTensor
from mmdet.datasets.pipelines import Compose
from mmdet.utils import build_dp, compat_cfg

__all__ = [
    'benchmark_backends',
    'init_backend_detector',
    'init_onnx_detector',
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
    opset_version=DEFAULT_OPSET,
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


def _config_classes(cfg):
    """The class names the config's test set has (``classes`` if given,
    else its data set type's)."""
    test = cfg.data.test
    if test.get('classes'):
        classes = test.classes
        return (
            tuple(mmcv.list_from_file(classes))
            if isinstance(classes, str)
            else tuple(classes)
        )
    dataset = DATASETS.get(test.get('type', ''))
    return getattr(dataset, 'CLASSES', None)


def init_onnx_detector(config, onnx_file, cfg_options=None, num_threads=None):
    """An exported detector run by ONNX Runtime, usable where
    :func:`init_detector`'s model is (``inference_detector``,
    ``show_result_pyplot``, the video demo): PyTorch builds no model.

    Args:
        config (str | mmcv.Config): the config it was exported from (its
            test pipeline prepares the images).
        onnx_file (str): the file ``tools/deployment/pytorch2onnx.py``
            wrote.
        num_threads (int, optional): ONNX Runtime's intra-op threads.

    The class names come from the file (the checkpoint's, written at
    export), else from the config's test set (COCO's, with a warning, if
    neither has them).
    """
    if not osp.isfile(str(onnx_file)):
        raise FileNotFoundError(
            f'ONNX file {onnx_file!r} does not exist: export one with '
            'tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT '
            '--output-file FILE'
        )
    cfg = compat_cfg(load_config(config, cfg_options))
    session = ORTSession(onnx_file, num_threads)
    classes = session.metadata.get('classes')
    classes = tuple(json.loads(classes)) if classes else None
    classes = classes or _config_classes(cfg)
    if classes is None:
        warnings.warn(
            f'{onnx_file!r} and the config name no classes; using the '
            'COCO class names.'
        )
        classes = CocoDataset.CLASSES
    rcnn = cfg.model.get('test_cfg', {}).get('rcnn', {}) or {}
    model = ONNXRuntimeDetector(
        session, classes, rcnn.get('mask_thr_binary', 0.5)
    )
    model.cfg = cfg
    return model


BACKENDS = ('pytorch', 'onnxruntime')


def init_backend_detector(config, checkpoint, backend='pytorch', **kwargs):
    """``init_detector(config, checkpoint, **kwargs)`` for the PyTorch
    backend, :func:`init_onnx_detector` (``checkpoint`` the .onnx file) for
    ``onnxruntime`` (what the demos' ``--backend`` picks)."""
    if backend == 'pytorch':
        from mmdet.apis.inference import init_detector

        return init_detector(config, checkpoint, **kwargs)
    if backend == 'onnxruntime':
        kwargs.pop('device', None)  # ONNX Runtime runs on the CPU here
        return init_onnx_detector(config, checkpoint, **kwargs)
    raise ValueError(f'backend {backend!r}: choose one of {BACKENDS}')


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
    batch_size=None,
):
    """Evaluate an exported file on the config's test set (what
    ``tools/deployment/test.py`` does); returns ``(outputs, metrics)``.

    ``batch_size`` images (default: ``data.test_dataloader.samples_per_gpu``
    of the config, else 1) go through the graph at once, padded to the
    largest, which needs a file exported with ``--dynamic-export``."""
    if backend != 'onnxruntime':
        raise ValueError(
            f'backend {backend!r} is not supported; use onnxruntime'
        )
    check_test_outputs(out, eval, format_only, show_dir=show_dir)
    cfg = compat_cfg(load_config(config, cfg_options))
    loader_cfg = cfg.data.get('test_dataloader', {})
    if batch_size is None:
        batch_size = loader_cfg.get('samples_per_gpu', 1)
    cfg.data.test_dataloader = dict(loader_cfg, samples_per_gpu=batch_size)
    if batch_size > 1:
        cfg.data.test.pipeline = replace_ImageToTensor(cfg.data.test.pipeline)
    dataset = build_test_dataset(cfg)
    loader = build_test_loader(cfg, dataset)
    rcnn = cfg.model.get('test_cfg', {}).get('rcnn', {})
    model = ONNXRuntimeDetector(
        onnx_file, dataset.CLASSES, rcnn.get('mask_thr_binary', 0.5)
    )
    if batch_size > 1 and not model.session.batch:
        raise ValueError(
            f'{onnx_file} takes one image per call; for a batch of '
            f'{batch_size} export it with --dynamic-export (or test with '
            'batch size 1)'
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
            tuple(map(str, range(num_classes_of(model)))),
            mask_thr_of(model),
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
