"""ONNX export of whole detectors and their inference in ONNX Runtime,
checked against PyTorch on the same inputs: the same number of detections,
boxes within 0.01 px, scores within 1e-4, masks with IoU >= 0.99.

The weights are random but not degenerate (``randomize``): freshly built
detectors give nearly equal scores to every box, which would only test tie
breaking, so every layer is drawn with a gain that keeps the activations
alive and the heads' outputs spread out.
"""

import copy
import math
import os.path as osp
import runpy
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmcv.runner import save_checkpoint
from torch import nn

from mmdet import apis
from mmdet.apis.builders import build_test_detector, load_config
from mmdet.apis.deployment import load_test_image
from mmdet.core.export import (
    ExportableTwoStageDetector,
    ONNXRuntimeDetector,
    compare_results,
    exportable_detector,
)
from mmdet.core.export.model_wrappers import _compare, _iou
from mmdet.core.export.pytorch2onnx import export_inputs, export_onnx
from mmdet.core.export.runtime import ORTSession
from mmdet.models.backbones.odconv import ODConvAttention
from mmdet.testing.tiny_coco import TINY_COCO_CLASSES, make_tiny_coco
from mmdet.utils import compat_cfg

onnx = pytest.importorskip(
    'onnx', reason='the deploy extra is needed: pip install -e ".[deploy]"'
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICKSTART = osp.join(
    REPO, 'configs', 'quickstart', 'mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
)
# the other families that export: their ODConv configs (R-50 and
# MobileNetV2) and MMDetection's stock configs
FAMILY_CONFIGS = [
    f'odconv/{family}_odconv4x_{backbone}_fpn{suffix}_1x_coco.py'
    for family, suffix in (
        ('retinanet', ''),
        ('fcos', '_gn-head'),
        ('atss', ''),
        ('cascade_rcnn', ''),
        ('cascade_mask_rcnn', ''),
    )
    for backbone in ('r50', 'mobilenetv2_100')
] + [
    'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos/fcos_r50_caffe_fpn_gn-head_1x_coco.py',
    'atss/atss_r50_fpn_1x_coco.py',
    'cascade_rcnn/cascade_rcnn_r50_fpn_1x_coco.py',
    'cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco.py',
    # the dense families of MMDetection 2.28 that export
    'gfl/gfl_r50_fpn_1x_coco.py',
    'vfnet/vfnet_r50_fpn_1x_coco.py',
    'tood/tood_r50_fpn_1x_coco.py',
    'yolof/yolof_r50_c5_8x8_1x_coco.py',
    'yolox/yolox_s_8x8_300e_coco.py',
    # HTC with its semantic branch fused into the box and mask features
    'htc/htc_r50_fpn_1x_coco.py',
    'detr/detr_r50_8x2_150e_coco.py',
    # dense heads that reuse the shared post-processing path (their own
    # get_bboxes without NMS, or the base one)
    'fsaf/fsaf_r50_fpn_1x_coco.py',
    'free_anchor/retinanet_free_anchor_r50_fpn_1x_coco.py',
    'autoassign/autoassign_r50_fpn_8x2_1x_coco.py',
    'foveabox/fovea_r50_fpn_4x4_1x_coco.py',
    'ddod/ddod_r50_fpn_1x_coco.py',
    'reppoints/reppoints_moment_r50_fpn_1x_coco.py',
    'sabl/sabl_retinanet_r50_fpn_1x_coco.py',
    'guided_anchoring/ga_retinanet_r50_fpn_1x_coco.py',
]
# quick-start configs of those dense families (checked in the default run)
DENSE_FAMILIES = ['gfl', 'vfnet', 'tood', 'yolof', 'yolox']


def quickstart(name):
    return osp.join(REPO, 'configs', 'quickstart', f'{name}_tiny_coco.py')


ODCONV_CONFIGS = [
    'faster_rcnn_r50_fpn_1x_coco.py',
    'faster_rcnn_odconv4x_r50_fpn_1x_coco.py',
    'faster_rcnn_mobilenetv2_100_fpn_1x_coco.py',
    'faster_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco.py',
    'mask_rcnn_r50_fpn_1x_coco.py',
    'mask_rcnn_odconv4x_r50_fpn_1x_coco.py',
    'mask_rcnn_mobilenetv2_100_fpn_1x_coco.py',
    'mask_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco.py',
]
# the standard deviation each output layer is scaled to on the calibration
# images: logits spread out but not saturated (no ties), deltas that keep
# boxes near their anchors / proposals
HEAD_STDS = {
    'rpn_cls': 2.0,
    'rpn_reg': 0.2,
    'fc_cls': 3.0,
    'fc_reg': 0.2,
    'conv_logits': 3.0,
    # dense heads: RetinaNet, FCOS, ATSS
    'retina_cls': 1.0,
    'retina_reg': 0.2,
    'conv_cls': 2.0,
    'conv_reg': 0.2,
    'conv_centerness': 2.0,
    'atss_cls': 2.0,
    'atss_reg': 0.2,
    'atss_centerness': 2.0,
    # GFL (reg: the logits of each side's distance distribution), VFNet,
    # TOOD (its sampling offsets: a few pixels), YOLOF, YOLOX (per level)
    'gfl_cls': 2.0,
    'gfl_reg': 1.0,
    'vfnet_cls': 2.0,
    'vfnet_reg': 0.2,
    'vfnet_reg_refine': 0.2,
    'tood_cls': 2.0,
    'tood_reg': 0.2,
    'reg_offset_module': 0.05,
    'cls_score': 2.0,
    'bbox_pred': 0.2,
    'object_pred': 2.0,
    'multi_level_conv_cls': 2.0,
    'multi_level_conv_reg': 0.2,
    'multi_level_conv_obj': 2.0,
}
# the dense class layers whose outputs are also centred on 0
CENTERED = (
    'retina_cls',
    'conv_cls',
    'atss_cls',
    'gfl_cls',
    'vfnet_cls',
    'tood_cls',
    'cls_score',
    'multi_level_conv_cls',
    'multi_level_conv_obj',
)


def _output_layer_key(name):
    """The ``HEAD_STDS`` key of a module name: its last part, or for the
    conv of a per-level list or of a small branch (``multi_level_conv_cls.0``,
    ``reg_offset_module.2``) the list's name."""
    parts = name.split('.')
    return parts[-2] if parts[-1].isdigit() and len(parts) > 1 else parts[-1]


# each residual branch's last BatchNorm is scaled by this after calibration:
# with unit-variance branches a random ResNet-50 multiplies float32 rounding
# by ~1000 (PyTorch in float32 and in float64 differ by 1e-4 at the FPN,
# more than the score tolerance); trained networks keep these branches small
RESIDUAL_GAIN = 0.3
# ODConv's attention logits (the 1x1 convs after the squeeze) are drawn with
# this gain: at He-normal scale the attentions of 48 layers amplify rounding
# ~1000x (OD-R50 features 1e-3 apart between float32 and float64); at 0.3
# they still vary with the input, between ~0.3 and ~0.7
ATTENTION_GAIN = 0.3


def _residual_norms(model):
    """The last BatchNorm of every residual branch (ResNet blocks, the
    MobileNetV2 blocks with a shortcut)."""
    norms = []
    for m in model.modules():
        if hasattr(m, 'last_norm'):
            norms.append(m.last_norm())
        elif getattr(m, 'use_res_connect', False):
            norms.append(m.conv[-1])
    return norms


def _standardize_attentions(model, img):
    """Set the statistics of each ODConv attention's BatchNorm from ``img``
    so that its hidden units come out standardized across channels (one
    image's statistics per channel would zero them; those of a batch of
    images of one scene nearly so): attentions that depend on the input,
    none saturated, as in a trained model. Layer by layer in one pass."""
    attentions = [m for m in model.modules() if isinstance(m, ODConvAttention)]

    def standardize(bn, args):
        hidden = args[0]
        bn.running_mean.fill_(float(hidden.mean()))
        bn.running_var.fill_(float(hidden.var()))

    handles = [a.bn.register_forward_pre_hook(standardize) for a in attentions]
    model.extract_feat(img)
    for handle in handles:
        handle.remove()


def randomize(model, seed=0, calib_imgs=None):
    """Draw every weight (He-normal), bias and BatchNorm statistic at
    random, ODConv's attention logits damped (``ATTENTION_GAIN``); with
    ``calib_imgs`` ((2, 3, H, W)) the BatchNorm statistics are then measured
    on them, so that deep backbones keep their activations at a sane scale,
    the residual branches are damped (``RESIDUAL_GAIN``), the ODConv
    attentions' hidden units standardized, and the output layers scaled to
    the spread of ``HEAD_STDS``. A model drawn so is about as well
    conditioned as a trained one: its float32 and float64 features agree to
    ~3e-6 (``float32_error``)."""
    gen = torch.Generator().manual_seed(seed)

    def rand(shape):
        return torch.rand(shape, generator=gen)

    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                # ODConv's (kernel_num, out, in, k, k): one candidate's fan-in
                fan_in = (
                    param[0].numel()
                    if param.dim() < 5
                    else param[0, 0].numel()
                )
                param.copy_(
                    torch.randn(param.shape, generator=gen)
                    * math.sqrt(2.0 / fan_in)
                )
            elif name.endswith(('weight', '.scale')):
                # norms' gains, and the dense heads' per-level Scale (a
                # negative one would turn distances into inverted boxes)
                param.copy_(rand(param.shape) + 0.5)
            else:
                param.copy_((rand(param.shape) - 0.5) * 0.2)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_((rand(m.running_mean.shape) - 0.5) * 0.2)
                m.running_var.copy_(rand(m.running_var.shape) + 0.5)
            if isinstance(m, ODConvAttention):
                fcs = (m.channel_fc, m.filter_fc, m.spatial_fc, m.kernel_fc)
                for fc in fcs:
                    if fc is not None:
                        fc.weight.mul_(ATTENTION_GAIN)
        if calib_imgs is not None:
            # not ODConv's attention branch (_standardize_attentions)
            norms = [
                m
                for name, m in model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)
                and 'attention' not in name
            ]
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches
                m.train()
            model.extract_feat(calib_imgs)
            for m in norms:
                m.momentum = 0.1
            model.eval()
            for m in _residual_norms(model):
                m.weight.mul_(RESIDUAL_GAIN)
                m.bias.mul_(RESIDUAL_GAIN)
            _standardize_attentions(model, calib_imgs[:1])
            _scale_output_layers(model, calib_imgs[:1])
    return model.eval()


def float32_error(model, img):
    """Largest difference of the FPN features of ``img`` between float32
    and float64 PyTorch, relative to the largest feature: what float32
    rounding alone does to this model."""
    with torch.no_grad():
        ref = copy.deepcopy(model).double().extract_feat(img.double())
        out = model.extract_feat(img)
    return max(
        float((a - b).abs().max() / b.abs().max()) for a, b in zip(out, ref)
    )


def _scale_output_layers(model, img):
    """Scale each output layer named in ``HEAD_STDS`` (weight and bias) so
    that its outputs on ``img`` have that standard deviation (stage by
    stage: the RPN first, as its proposals feed the R-CNN)."""
    meta = dict(
        img_shape=tuple(img.shape[2:]) + (3,),
        ori_shape=tuple(img.shape[2:]) + (3,),
        pad_shape=tuple(img.shape[2:]) + (3,),
        scale_factor=np.ones(4, dtype=np.float32),
        flip=False,
    )
    # in module order: the RPN before the R-CNN, a cascade's stages in turn
    for name, layer in list(model.named_modules()):
        key = _output_layer_key(name)
        target = HEAD_STDS.get(key)
        if (
            target is None
            or not isinstance(layer, nn.Conv2d | nn.Linear)
            or 'backbone' in name
            or 'neck' in name
        ):
            continue
        outputs = []
        handle = layer.register_forward_hook(
            lambda mod, args, out: outputs.append(out.flatten())
        )
        model(return_loss=False, rescale=True, img=[img], img_metas=[[meta]])
        handle.remove()
        if outputs:
            out = torch.cat(outputs)
            layer.weight.mul_(target / out.std())
            layer.bias.mul_(target / out.std())
            if key in CENTERED:
                # sigmoid scores around 0.5, not saturated at 1 (float32
                # ties there would only test tie breaking)
                layer.bias.sub_(out.mean() * target / out.std())


def _images(shape_a, shape_b):
    """Two textured BGR images of different sizes."""
    rng = np.random.RandomState(1)
    out = []
    for h, w in (shape_a, shape_b):
        base = rng.randint(0, 256, (h // 8 + 1, w // 8 + 1, 3))
        img = np.kron(base, np.ones((8, 8, 1)))[:h, :w]
        out.append(
            np.clip(img + rng.randint(-20, 21, (h, w, 3)), 0, 255).astype(
                np.uint8
            )
        )
    return out


def _calibration_batch(img):
    """(2, 3, H, W): ``img`` and its negative."""
    return torch.cat([img, -img])


def _random_export(config, tmp_path, array, cfg_options=None):
    """Build ``config`` with random weights (``randomize`` on ``array``),
    check that they are well conditioned and export it (dynamic sizes)
    traced on ``array``; returns (cfg, model, ORT session, onnx file)."""
    cfg = compat_cfg(load_config(config, cfg_options))
    model, _ = build_test_detector(cfg)
    img, meta = load_test_image(cfg, array)
    randomize(model, calib_imgs=_calibration_batch(img))
    # else the comparison would measure float32 rounding, not the export
    rounding = float32_error(model, img)
    assert rounding < 2e-5, f'an ill-conditioned random model: {rounding}'
    onnx_file = str(tmp_path / 'model.onnx')
    export_onnx(model, img, meta, onnx_file, dynamic_export=True)
    return cfg, model, ORTSession(onnx_file, num_threads=1), onnx_file


def _export_and_compare(config, tmp_path, shapes, cfg_options=None):
    """Export ``config`` (random weights) traced on the first image, run
    every image through ONNX Runtime and PyTorch; returns the reports and
    the loaded ONNX model."""
    imgs = _images(*shapes)
    cfg, model, session, onnx_file = _random_export(
        config, tmp_path, imgs[0], cfg_options
    )
    reports = []
    for array in imgs:
        img, meta = load_test_image(cfg, array)
        reports.append(
            (tuple(img.shape[2:]), compare_results(model, session, img, meta))
        )
    return reports, onnx.load(onnx_file)


def _assert_same(reports, min_dets=1, sizes=True):
    for shape, report in reports:
        assert report['ok'], (shape, report)
        assert report['num'][0] >= min_dets, (shape, report)
    if sizes:
        # the file took images of more than one size
        assert len({shape for shape, _ in reports}) == len(reports)


def _nodes(graph):
    """Every node of an ONNX graph, those of its subgraphs (the loop over
    a batch) included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g.node:
                yield from _nodes(attr.g)


def test_quickstart_model_exports_and_matches(tmp_path):
    reports, graph = _export_and_compare(
        QUICKSTART,
        tmp_path,
        [(128, 96), (100, 128)],
        {'model.test_cfg.rcnn.score_thr': 0.3},
    )
    _assert_same(reports)
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert {'NonMaxSuppression', 'RoiAlign', 'TopK', 'Loop'} <= ops
    # ODConv: convolutions whose weight is computed in the graph (the
    # per-sample aggregated kernel), not stored
    stored = {init.name for init in graph.graph.initializer}
    dynamic_convs = [
        n
        for n in _nodes(graph.graph)
        if n.op_type == 'Conv' and n.input[1] not in stored
    ]
    assert len(dynamic_convs) > 10
    assert [o.name for o in graph.graph.output] == [
        'dets',
        'labels',
        'masks',
        'num_dets',
    ]


def test_r50_faster_rcnn_exports_and_matches(tmp_path):
    options = {
        'data.test.pipeline.1.img_scale': (256, 192),
        'model.test_cfg.rcnn.score_thr': 0.3,
    }
    reports, _ = _export_and_compare(
        osp.join(REPO, 'configs', 'odconv', 'faster_rcnn_r50_fpn_1x_coco.py'),
        tmp_path,
        [(192, 256), (100, 256)],
        options,
    )
    _assert_same(reports)


@pytest.mark.slow
@pytest.mark.parametrize('name', ODCONV_CONFIGS)
def test_odconv_configs_export_and_match(name, tmp_path):
    # the configs' own test_cfg (max_per_img 100), a score threshold that
    # random weights pass, 640 x 384 and 640 x 250 through one file
    options = {
        'data.test.pipeline.1.img_scale': (640, 384),
        'model.test_cfg.rcnn.score_thr': 0.3,
    }
    reports, _ = _export_and_compare(
        osp.join(REPO, 'configs', 'odconv', name),
        tmp_path,
        [(384, 640), (250, 640)],
        options,
    )
    _assert_same(reports)


def test_no_proposals_give_no_detections(tmp_path):
    """An image where the RPN keeps no box (all narrower than
    min_bbox_size) gives empty outputs in ONNX Runtime, as in PyTorch,
    instead of a Reshape error on the empty RoI set."""
    options = {
        'model.test_cfg.rpn.min_bbox_size': 40,
        'model.test_cfg.rcnn.score_thr': 0.3,
    }
    array = _images((128, 96), (8, 8))[0]
    cfg, model, session, _ = _random_export(
        QUICKSTART, tmp_path, array, options
    )
    img, meta = load_test_image(cfg, array)
    # traced where proposals exist; a 32 x 32 image has none wider than 40
    small, small_meta = load_test_image(cfg, img_array(32), shape=(32, 32))
    report = compare_results(model, session, small, small_meta)
    assert report['ok'] and report['num'] == (0, 0), report
    outputs = session(*export_inputs(small, small_meta))
    assert outputs['dets'].shape == (0, 5)
    assert outputs['masks'].shape[0] == 0
    assert compare_results(model, session, img, meta)['num'][0] > 0


def compare_results_of(ref, out):
    """:func:`compare_results`'s report for two results already computed."""
    return _compare(ref, out, box_tol=0.01, score_tol=1e-4, mask_iou=0.99)


def img_array(size):
    return _images((size, size), (8, 8))[0]


def test_exportable_module_equals_simple_test():
    """The eager export path is the detector's own inference."""
    cfg = compat_cfg(load_config(QUICKSTART))
    model, _ = build_test_detector(cfg)
    img, meta = load_test_image(cfg, _images((96, 128), (8, 8))[0])
    randomize(model, seed=3, calib_imgs=_calibration_batch(img))
    with torch.no_grad():
        dets, labels, masks = ExportableTwoStageDetector(model)(
            *export_inputs(img, meta)
        )
        ref = model(
            return_loss=False, rescale=True, img=[img], img_metas=[[meta]]
        )[0][0]
    assert len(dets) == sum(map(len, ref)) > 0
    for c, boxes in enumerate(ref):
        np.testing.assert_array_equal(dets[labels == c].numpy(), boxes)
    assert masks.shape[1:] == (28, 28)


@pytest.mark.parametrize(
    'name',
    [
        'retinanet_odconv_mobilenetv2',
        'cascade_mask_rcnn_odconv_mobilenetv2',
        'htc_odconv_mobilenetv2',
    ],
)
def test_single_stage_and_cascade_export_and_match(name, tmp_path):
    """A single-stage detector (the dense post-processing: nms_pre above
    score_thr, decoding, class-wise NMS), a Cascade Mask R-CNN (stage
    refinement, averaged scores and masks) and an HTC (mask heads chained
    by the information flow) through one dynamic file."""
    reports, graph = _export_and_compare(
        quickstart(name), tmp_path, [(128, 96), (100, 128)]
    )
    _assert_same(reports)
    outputs = [o.name for o in graph.graph.output]
    assert outputs == (
        ['dets', 'labels', 'masks']
        if 'mask' in name or 'htc' in name
        else ['dets', 'labels']
    ) + ['num_dets']


@pytest.mark.parametrize('family', DENSE_FAMILIES)
def test_dense_families_export_and_match(family, tmp_path):
    """GFL (integral boxes), VFNet and TOOD (deformable convolutions:
    ONNX DeformConv), YOLOF and YOLOX (objectness, no clipping, every NMS
    survivor kept) through one dynamic file each."""
    reports, graph = _export_and_compare(
        quickstart(f'{family}_odconv_mobilenetv2'),
        tmp_path,
        [(128, 96), (100, 128)],
    )
    _assert_same(reports)
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert 'NonMaxSuppression' in ops
    assert ('DeformConv' in ops) == (family in ('vfnet', 'tood'))


def test_deformable_convs_below_their_opset_are_named(tmp_path):
    cfg = compat_cfg(load_config(quickstart('vfnet_odconv_mobilenetv2')))
    model, _ = build_test_detector(cfg)
    img, meta = load_test_image(cfg, _images((96, 128), (8, 8))[0])
    with pytest.raises(ValueError, match='deformable.*opset_version >= 19'):
        export_onnx(
            model, img, meta, str(tmp_path / 'f.onnx'), opset_version=17
        )


@pytest.mark.slow
@pytest.mark.parametrize('config', FAMILY_CONFIGS)
def test_family_configs_export_and_match(config, tmp_path):
    # as test_odconv_configs_export_and_match, for the other families
    options = {'data.test.pipeline.1.img_scale': (640, 384)}
    if 'cascade' in config or 'htc' in config:
        options['model.test_cfg.rcnn.score_thr'] = 0.3
    if 'yolox' in config:
        # YOLOX keeps every survivor (thousands with random weights), each
        # labelled by the argmax of its 80 class scores: with random logits
        # one of them is a float32 near-tie between two classes in every
        # draw tried (the same box, another label). With 4 classes (the
        # rest of the model and its export unchanged) such ties are rare
        options['model.test_cfg.score_thr'] = 0.7
        options['model.bbox_head.num_classes'] = 4
    reports, _ = _export_and_compare(
        osp.join(REPO, 'configs', config),
        tmp_path,
        [(384, 640), (250, 640)],
        options,
    )
    # YOLOX's test pipeline pads every image to 640 x 640
    _assert_same(reports, sizes='yolox' not in config)


@pytest.mark.parametrize(
    'name',
    [
        'retinanet_odconv_mobilenetv2',
        'fcos_odconv_mobilenetv2',
        'atss_odconv_mobilenetv2',
        'cascade_rcnn_odconv_mobilenetv2',
        'htc_odconv_mobilenetv2',
    ]
    + [f'{family}_odconv_mobilenetv2' for family in DENSE_FAMILIES]
    + ['detr_odconv_mobilenetv2'],
)
def test_exportable_families_equal_simple_test(name):
    """The eager export path of each family is the detector's inference,
    detection for detection."""
    cfg = compat_cfg(load_config(quickstart(name)))
    model, _ = build_test_detector(cfg)
    img, meta = load_test_image(cfg, _images((96, 128), (8, 8))[0])
    randomize(model, seed=3, calib_imgs=_calibration_batch(img))
    with torch.no_grad():
        dets, labels = exportable_detector(model)(*export_inputs(img, meta))[
            :2
        ]
        ref = model(
            return_loss=False, rescale=True, img=[img], img_metas=[[meta]]
        )[0]
    if isinstance(ref, tuple):  # (boxes, masks)
        ref = ref[0]
    assert len(dets) == sum(map(len, ref)) > 0
    for c, boxes in enumerate(ref):
        np.testing.assert_array_equal(dets[labels == c].numpy(), boxes)


def test_detr_exports_and_matches(tmp_path):
    """DETR (ODConv MobileNetV2, transformer head) through one dynamic
    file: the padding mask is computed in the graph from img_shape (the
    second image is padded), the max_per_img best (query, class) pairs
    come out, no NMS."""
    reports, graph = _export_and_compare(
        quickstart('detr_odconv_mobilenetv2'),
        tmp_path,
        [(128, 96), (100, 128)],
    )
    _assert_same(reports)
    max_per_img = 20  # the quick start's test_cfg
    assert [r['num'] for _, r in reports] == [(max_per_img,) * 2] * 2
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert 'NonMaxSuppression' not in ops
    assert {'MatMul', 'Softmax', 'CumSum', 'TopK'} <= ops


def test_sparse_rcnn_exports_and_matches(tmp_path):
    """Sparse R-CNN (ODConv MobileNetV2): learned proposals scaled to
    img_shape, six stages of RoI pooling (levels put back in order by a
    permutation in the graph) and dynamic instance interaction, the
    max_per_img best (proposal, class) pairs; no NMS. The random draws
    make some learned proposals inverted boxes, which pool zeros in both
    runtimes."""
    reports, graph = _export_and_compare(
        quickstart('sparse_rcnn_odconv_mobilenetv2'),
        tmp_path,
        [(128, 96), (100, 128)],
    )
    _assert_same(reports)
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert 'RoiAlign' in ops and 'NonMaxSuppression' not in ops


@pytest.mark.slow
def test_queryinst_exports_and_matches(tmp_path):
    # QueryInst: Sparse R-CNN plus each detection's box-relative mask
    # (~70 s on 2 cores: 100 proposals through six stages)
    reports, graph = _export_and_compare(
        osp.join(REPO, 'configs', 'queryinst', 'queryinst_r50_fpn_1x_coco.py'),
        tmp_path,
        [(128, 96), (100, 128)],
        {
            'data.test.pipeline.1.img_scale': (128, 128),
            'model.test_cfg.rcnn.max_per_img': 20,
        },
    )
    _assert_same(reports)
    assert [o.name for o in graph.graph.output][:3] == [
        'dets',
        'labels',
        'masks',
    ]


DEFORMABLE_DETR = 'deformable_detr/deformable_detr{}_r50_16x2_50e_coco.py'


def test_deformable_detr_exports_and_matches(tmp_path):
    """Deformable DETR (stock R-50, small images): its sampling geometry
    (the levels' sizes, start indices, valid ratios and reference points)
    is computed in the graph from the traced sizes, so one file takes
    images of other sizes; the sampling is ONNX GridSample."""
    reports, graph = _export_and_compare(
        osp.join(REPO, 'configs', DEFORMABLE_DETR.format('')),
        tmp_path,
        [(128, 96), (100, 128)],
        {'data.test.pipeline.1.img_scale': (128, 128)},
    )
    _assert_same(reports)
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert 'GridSample' in ops and 'NonMaxSuppression' not in ops


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['_refine', '_twostage_refine'])
def test_deformable_detr_variants_export_and_match(variant, tmp_path):
    # box refinement; two-stage (its 300 proposals need more than the 256
    # tokens of a 128 x 96 image: in PyTorch too)
    reports, _ = _export_and_compare(
        osp.join(REPO, 'configs', DEFORMABLE_DETR.format(variant)),
        tmp_path,
        [(256, 192), (200, 256)],
        {'data.test.pipeline.1.img_scale': (256, 256)},
    )
    _assert_same(reports)


def _solo_maps(model, img):
    """The SOLOv2 head's forward outputs on ``img``, flat: kernel maps and
    class maps per level, then the mask features."""
    with torch.no_grad():
        kernels, classes, mask_feats = model.mask_head(model.extract_feat(img))
    return (*kernels, *classes, mask_feats)


class _SOLOv2PostProcessing(nn.Module):
    """The SOLOv2 head's test path after its forward (what the exported
    graph computes from the maps), as a module of the flat maps."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, *maps):
        levels = self.head.num_levels
        result = self.head.get_results(
            list(maps[:levels]),
            list(maps[levels : 2 * levels]),
            maps[-1],
            img_metas=[{}],
            upsample=False,
        )[0]
        return result['scores'], result['labels'], result['mask_probs']


def test_solov2_post_processing_traces_as_pytorch(tmp_path):
    """SOLOv2's post-processing (class scores above score_thr, dynamic
    mask kernels, maskness, matrix NMS with its nms_pre / max_per_img
    cuts) exported alone and fed the same maps as PyTorch: the same
    detections at a size other than the traced one, and none where no
    class score passes score_thr."""
    cfg = compat_cfg(load_config(quickstart('solov2_odconv_mobilenetv2')))
    model, _ = build_test_detector(cfg)
    arrays = _images((128, 96), (100, 128))
    img, _ = load_test_image(cfg, arrays[0])
    randomize(model, calib_imgs=_calibration_batch(img))
    module = _SOLOv2PostProcessing(model.mask_head).eval()
    maps = _solo_maps(model, img)
    names = [f'map{i}' for i in range(len(maps))]
    onnx_file = str(tmp_path / 'post.onnx')
    with torch.no_grad():
        torch.onnx.export(
            module,
            maps,
            onnx_file,
            input_names=names,
            output_names=['scores', 'labels', 'probs'],
            dynamic_axes={
                names[-1]: {2: 'h', 3: 'w'},
                'scores': {0: 'n'},
                'labels': {0: 'n'},
                'probs': {0: 'n', 1: 'h', 2: 'w'},
            },
            opset_version=19,
            dynamo=False,
        )
    session = ORTSession(onnx_file)
    big, _ = load_test_image(cfg, arrays[1])
    no_objects = list(_solo_maps(model, big))
    levels = model.mask_head.num_levels
    no_objects[levels : 2 * levels] = [
        torch.full_like(m, -20.0)  # class logits: scores ~2e-9
        for m in no_objects[levels : 2 * levels]
    ]
    for maps, expected in (
        (_solo_maps(model, big), 100),  # max_per_img of > 300 candidates
        (tuple(no_objects), 0),
    ):
        with torch.no_grad():
            ref = module(*maps)
        out = session.session.run(
            None, dict(zip(names, (m.numpy() for m in maps)))
        )
        assert len(ref[0]) == len(out[0]) == expected
        np.testing.assert_allclose(out[0], ref[0].numpy(), atol=1e-6)
        np.testing.assert_array_equal(out[1], ref[1].numpy())
        np.testing.assert_allclose(out[2], ref[2].numpy(), atol=1e-5)
        assert out[2].shape[1:] == tuple(maps[-1].shape[-2:])


# a box-free segmentor's score is its class score times the mean
# probability inside its thresholded mask: one mask pixel within float32
# noise of mask_thr (the two runtimes' convolutions differ by ~1e-6)
# moves it by ~0.5 / area, 5e-4 for a 1000-pixel mask at the mask stride.
# The post-processing alone matches to 1e-6
# (test_solov2_post_processing_traces_as_pytorch)
BOX_FREE_SCORE_TOL = 2e-3


def _compare_box_free(ref, out):
    """(count PyTorch, count ORT), the largest score difference and the
    smallest mask IoU of ``out``'s detections, each matched to the
    same-class PyTorch detection of nearest score among those whose mask
    has IoU >= 0.99 with its own (random weights can give several
    detections of one class the same mask), else of best IoU."""
    (ref_boxes, ref_masks), (out_boxes, out_masks) = ref, out
    worst_score, worst_iou = 0.0, 1.0
    for c, masks in enumerate(out_masks):
        assert len(masks) == len(ref_masks[c])
        assert not out_boxes[c][:, :4].any()  # box-free: zero boxes
        for i, mask in enumerate(masks):
            ious = np.array([_iou(mask, other) for other in ref_masks[c]])
            gaps = np.abs(ref_boxes[c][:, 4] - out_boxes[c][i, 4])
            same = ious >= 0.99
            j = (
                int(np.argmin(np.where(same, gaps, np.inf)))
                if same.any()
                else int(np.argmax(ious))
            )
            worst_iou = min(worst_iou, float(ious[j]))
            worst_score = max(worst_score, float(gaps[j]))
    counts = (sum(map(len, ref_masks)), sum(map(len, out_masks)))
    return counts, worst_score, worst_iou


def _assert_box_free_export(config, tmp_path, shapes, cfg_options=None):
    imgs = _images(*shapes)
    cfg, model, session, onnx_file = _random_export(
        config, tmp_path, imgs[0], cfg_options
    )
    ort_model = ONNXRuntimeDetector(session, TINY_COCO_CLASSES)
    assert ort_model.mask_stride == model.mask_head.mask_stride
    for array in imgs:
        img, meta = load_test_image(cfg, array)
        with torch.no_grad():
            ref = model(
                return_loss=False, rescale=True, img=[img], img_metas=[[meta]]
            )[0]
        out = ort_model.simple_test(img, [meta])[0]
        counts, score, iou = _compare_box_free(ref, out)
        assert counts[0] == counts[1] > 0, counts
        assert score <= BOX_FREE_SCORE_TOL and iou >= 0.99, (score, iou)
        assert all(
            m.shape == tuple(meta['ori_shape'][:2])
            for ms in out[1]
            for m in ms
        )
    graph = onnx.load(onnx_file)
    assert [o.name for o in graph.graph.output] == [
        'dets',
        'labels',
        'masks',
        'num_dets',
    ]
    return graph


def test_solov2_exports_and_matches(tmp_path):
    """SOLOv2 (ODConv MobileNetV2) through one dynamic file: its masks
    come out at the mask stride and are made full-size as PyTorch makes
    them."""
    graph = _assert_box_free_export(
        quickstart('solov2_odconv_mobilenetv2'),
        tmp_path,
        [(128, 96), (100, 128)],
    )
    ops = {node.op_type for node in _nodes(graph.graph)}
    assert {'Conv', 'TopK', 'NonZero', 'Loop'} <= ops
    assert 'NonMaxSuppression' not in ops  # matrix NMS: a matrix step
    metadata = {p.key: p.value for p in graph.metadata_props}
    assert metadata['mask_stride'] == '4'
    assert float(metadata['mask_thr']) == 0.5


def test_decoupled_solo_exports_and_matches(tmp_path):
    """Decoupled SOLO (stock light R-50, 4 classes, small images): each
    candidate's mask is the product of its level's x and y masks, picked
    in the graph from the flat cell index."""
    _assert_box_free_export(
        osp.join(
            REPO, 'configs', 'solo', 'decoupled_solo_light_r50_fpn_3x_coco.py'
        ),
        tmp_path,
        [(128, 96), (100, 128)],
        {
            'data.test.pipeline.1.img_scale': (128, 128),
            'model.mask_head.num_classes': 4,
            'model.test_cfg.score_thr': 0.5,
        },
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    'config',
    [
        'solo/solo_r50_fpn_1x_coco.py',
        'solo/decoupled_solo_r50_fpn_1x_coco.py',
        'solov2/solov2_r50_fpn_1x_coco.py',
    ],
)
def test_box_free_stock_configs_export_and_match(config, tmp_path):
    # 4 classes and score_thr 0.5: random class logits pass score_thr 0.1
    # in most of the 80 classes of the 3872 SOLO cells, and the candidates'
    # masks (each 160 x 96 at this size) would take tens of GB
    _assert_box_free_export(
        osp.join(REPO, 'configs', config),
        tmp_path,
        [(384, 640), (250, 640)],
        {
            'data.test.pipeline.1.img_scale': (640, 384),
            'model.mask_head.num_classes': 4,
            'model.test_cfg.score_thr': 0.5,
        },
    )


@pytest.mark.parametrize(
    'config, refused',
    [
        ('scnet/scnet_r50_fpn_1x_coco.py', 'SCNetRoIHead'),
        ('ms_rcnn/ms_rcnn_r50_fpn_1x_coco.py', 'MaskScoringRoIHead'),
        ('faster_rcnn/faster_rcnn_r50_caffe_c4_1x_coco.py', 'shared head'),
        ('rpn/rpn_r50_fpn_1x_coco.py', 'RPN without a bbox_head'),
        ('yolact/yolact_r50_1x8_coco.py', 'YOLACTHead'),
        ('panoptic_fpn/panoptic_fpn_r50_fpn_1x_coco.py', 'panoptic'),
        # score voting after NMS: no NMS-free get_bboxes to export
        ('paa/paa_r50_fpn_1x_coco.py', 'PAAHead'),
    ],
)
def test_unexportable_families_are_refused_by_name(config, refused):
    """A family whose test path no export module reproduces is refused by
    name, not exported as if it were a standard one."""
    cfg = load_config(osp.join(REPO, 'configs', config))
    cfg.model.backbone.init_cfg = None
    model, _ = build_test_detector(cfg)
    with pytest.raises(NotImplementedError, match=refused):
        exportable_detector(model)


def _run_tool(path, *args, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [path, *map(str, args)])
    runpy.run_path(osp.join(REPO, 'tools', path), run_name='__main__')


def test_tools_export_and_evaluate_like_pytorch(tmp_path, monkeypatch, capsys):
    """pytorch2onnx.py --verify, then tools/deployment/test.py gives the
    same results and COCO metrics as PyTorch on a tiny test set."""
    make_tiny_coco(str(tmp_path), seed=0, num_train=1, num_val=6, size=128)
    options = {
        'data.test.ann_file': f'{tmp_path}/annotations/instances_val.json',
        'data.test.img_prefix': f'{tmp_path}/val/',
        # a score threshold the random weights pass
        'model.test_cfg.rcnn.score_thr': 0.3,
    }
    model = apis.init_detector(QUICKSTART, device='cpu', cfg_options=options)
    img, _ = load_test_image(model.cfg, f'{tmp_path}/val/000001.jpg')
    ckpt = str(tmp_path / 'random.pth')
    randomize(model, seed=1, calib_imgs=_calibration_batch(img))
    save_checkpoint(model, ckpt, meta=dict(CLASSES=TINY_COCO_CLASSES))
    onnx_file = tmp_path / 'qs.onnx'
    opts = ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    _run_tool(
        'deployment/pytorch2onnx.py',
        QUICKSTART,
        ckpt,
        '--output-file',
        onnx_file,
        '--dynamic-export',
        '--verify',
        '--input-img',
        f'{tmp_path}/val/000001.jpg',
        '--test-img',
        f'{tmp_path}/val/000002.jpg',
        *opts,
        monkeypatch=monkeypatch,
    )
    out = capsys.readouterr().out
    assert 'The numerical values are the same' in out
    ort_pkl, pt_pkl = tmp_path / 'ort.pkl', tmp_path / 'pt.pkl'
    _run_tool(
        'deployment/test.py',
        QUICKSTART,
        onnx_file,
        '--backend',
        'onnxruntime',
        '--eval',
        'bbox',
        'segm',
        '--out',
        ort_pkl,
        *opts,
        monkeypatch=monkeypatch,
    )
    ort_metrics = capsys.readouterr().out.strip().splitlines()[-1]
    _, metrics = apis.test_from_config(
        QUICKSTART,
        ckpt,
        out=str(pt_pkl),
        eval=['bbox', 'segm'],
        cfg_options=options,
    )
    assert ort_metrics == str(metrics)
    ort_res, pt_res = mmcv.load(str(ort_pkl)), mmcv.load(str(pt_pkl))
    assert sum(len(b) for (boxes, _) in pt_res for b in boxes) > 0
    # as many detections per image (detection by detection, to 0.01 px
    # and 1e-4, is the other tests' check: with these random weights and
    # 100 detections per image a near-tie may move one between classes)
    assert [sum(map(len, boxes)) for boxes, _ in ort_res] == [
        sum(map(len, boxes)) for boxes, _ in pt_res
    ]
    # the same file, two images per graph run
    batch_pkl = tmp_path / 'batch.pkl'
    _run_tool(
        'deployment/test.py',
        QUICKSTART,
        onnx_file,
        '--backend',
        'onnxruntime',
        '--eval',
        'bbox',
        'segm',
        '--batch-size',
        2,
        '--out',
        batch_pkl,
        *opts,
        monkeypatch=monkeypatch,
    )
    # images of a batch are padded to the largest, in PyTorch too: compare
    # with PyTorch testing two images at a time
    batch_metrics = capsys.readouterr().out.strip().splitlines()[-1]
    _, metrics = apis.test_from_config(
        QUICKSTART,
        ckpt,
        eval=['bbox', 'segm'],
        cfg_options={**options, 'data.test_dataloader.samples_per_gpu': 2},
    )
    assert batch_metrics == str(metrics)
    assert len(mmcv.load(str(batch_pkl))) == len(pt_res)


def test_batch_graph_gives_each_image_its_detections(tmp_path):
    """A --dynamic-export file runs a batch in one call; each image gets
    the detections it gets alone (and PyTorch's)."""
    arrays = _images((128, 96), (128, 80))  # both padded to 128 x 96
    cfg, model, session, _ = _random_export(
        QUICKSTART, tmp_path, arrays[0], {'model.test_cfg.rcnn.score_thr': 0.3}
    )
    assert session.batch
    imgs, metas = zip(*(load_test_image(cfg, a) for a in arrays))
    ort_model = ONNXRuntimeDetector(session, TINY_COCO_CLASSES)
    runs = []
    run = session.session.run
    session.session.run = lambda *a: runs.append(1) or run(*a)
    batch = ort_model.simple_test(torch.cat(imgs), list(metas))
    assert len(runs) == 1
    alone = [ort_model.simple_test(i, [m])[0] for i, m in zip(imgs, metas)]
    with torch.no_grad():
        ref = model(
            return_loss=False,
            rescale=True,
            img=[torch.cat(imgs)],
            img_metas=[list(metas)],
        )
    for got, single, pytorch in zip(batch, alone, ref):
        assert sum(map(len, got[0])) > 0
        for a, b in zip(got[0], single[0]):
            np.testing.assert_allclose(a, b, atol=1e-4)
        for a, b in zip(got[1], single[1]):
            np.testing.assert_array_equal(np.array(a), np.array(b))
        assert compare_results_of(pytorch, got)['ok']


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[deploy\]"'):
        ORTSession('any.onnx')


def test_pytorch2onnx_arguments_as_mmdet():
    """MMDetection 2.28's flags: ``--shape S`` is a square, the deprecated
    ``--dataset/--mean/--std`` are accepted with a warning (the config
    gives the normalisation)."""
    sys.path.insert(0, osp.join(REPO, 'tools', 'deployment'))
    try:
        import pytorch2onnx as tool
    finally:
        sys.path.pop(0)
    assert tool.parse_args(['c.py', 'k.pth', '--shape', '320']).shape == [
        320,
        320,
    ]
    assert tool.parse_args(['c.py', 'k.pth']).shape is None
    with pytest.warns(UserWarning, match='deprecated'):
        args = tool.parse_args(
            ['c.py', 'k.pth', '--mean', '1', '2', '3', '--dataset', 'coco']
        )
    assert args.shape is None
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', 'k.pth', '--shape', '1', '2', '3'])


def test_benchmark_tool_times_both_backends_of_any_family(monkeypatch, capsys):
    """tools/deployment/benchmark.py on a single-stage and a cascade
    config: a line per image and a table row per config, with both
    backends timed."""
    configs = [
        quickstart('retinanet_odconv_mobilenetv2'),
        quickstart('cascade_rcnn_odconv_mobilenetv2'),
    ]
    _run_tool(
        'deployment/benchmark.py',
        *configs,
        '--shape',
        '64',
        '96',
        '--num-iters',
        '2',
        '--warmup',
        '0',
        '--threads',
        '1',
        monkeypatch=monkeypatch,
    )
    out = capsys.readouterr().out
    assert out.count('image 2/2: PyTorch') == 2
    rows = [line for line in out.splitlines() if line.startswith('| /')]
    assert [row.split(' | ')[0][2:] for row in rows] == configs
    for row in rows:
        pytorch_ms, ort_ms, ratio = map(
            float, row.strip(' |').split(' | ')[1:]
        )
        assert pytorch_ms > 0 and ort_ms > 0
        # the table rounds the times to whole ms and the ratio to 0.01
        low = (ort_ms - 0.5) / (pytorch_ms + 0.5) - 0.005
        high = (ort_ms + 0.5) / max(pytorch_ms - 0.5, 1e-9) + 0.005
        assert low <= ratio <= high


def test_loop_over_batch_refuses_other_graphs():
    """Only a one-image detector graph is wrapped: another graph's inputs,
    or a graph that already loops over a batch, are named."""
    from onnx import TensorProto, helper

    from mmdet.core.export.batch import loop_over_batch

    def graph(inputs, outputs):
        nodes = [helper.make_node('Identity', [inputs[0]], [outputs[0]])]
        return helper.make_model(
            helper.make_graph(
                nodes,
                'g',
                [
                    helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])
                    for n in inputs
                ],
                [
                    helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])
                    for n in outputs
                ],
            )
        )

    with pytest.raises(ValueError, match='not a one-image detector graph'):
        loop_over_batch(graph(['x'], ['dets']))
    with pytest.raises(ValueError, match='already takes a batch'):
        loop_over_batch(graph(['input'], ['dets', 'num_dets']))
    with pytest.raises(ValueError, match='trailing_dims'):
        loop_over_batch(
            helper.make_model(
                helper.make_graph(
                    [helper.make_node('Identity', ['input'], ['dets'])],
                    'g',
                    [
                        helper.make_tensor_value_info(
                            'input', TensorProto.FLOAT, [1, 3, 'h', 'w']
                        )
                    ],
                    [
                        helper.make_tensor_value_info(
                            'dets', TensorProto.FLOAT, ['n', 'k']
                        )
                    ],
                )
            )
        )
