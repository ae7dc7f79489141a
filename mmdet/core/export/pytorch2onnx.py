"""Trace a detector into an ONNX file."""

import json
import warnings

import torch

from .batch import loop_over_batch
from .deps import import_deploy_module
from .detector import ExportableFeatureMaps
from .families import exportable_detector
from .ops import DEFORM_CONV_OPSET, register_onnx_symbolics
from .runtime import INPUT_NAMES, NUM_DETS

# RoiAlign's half-pixel mode (aligned=True) needs opset 16, DeformConv
# (DCN, VFNet, TOOD) opset 19
MIN_OPSET = 16
DEFAULT_OPSET = DEFORM_CONV_OPSET


def export_inputs(img, img_meta):
    """The graph inputs of one image: its (1, 3, H, W) tensor, (2,) float
    ``[h, w]`` of ``img_meta['img_shape']`` and (4,) float scale."""
    img_shape = torch.tensor(img_meta['img_shape'][:2], dtype=torch.float32)
    scale = torch.as_tensor(img_meta['scale_factor'], dtype=torch.float32)
    return img, img_shape, scale.reshape(-1).expand(4).contiguous()


def export_onnx(
    model,
    img,
    img_meta,
    output_file,
    opset_version=DEFAULT_OPSET,
    dynamic_export=False,
    skip_postprocess=False,
    simplify=False,
):
    """Export a detector to ``output_file`` (the families of
    :func:`exportable_detector`; another raises ``NotImplementedError``
    naming it).

    Args:
        model (BaseDetector): the detector, on the CPU, eval mode.
        img (Tensor): (1, 3, H, W) example input, as the test pipeline
            gives it (normalized, padded).
        img_meta (dict): its meta (``img_shape``, ``scale_factor``).
        output_file (str): the .onnx file to write.
        opset_version (int): ONNX opset, at least 16 (19 for a model with
            deformable convolutions).
        dynamic_export (bool): batch size, height and width of the input
            free (the graph loops over the images of a batch and has a
            fourth output, ``num_dets`` (B,), the detections of each
            image); else one image of ``img``'s size. The number of
            detections is always free.
        skip_postprocess (bool): export only the backbone, neck and the
            dense head's maps (the RPN's: no proposals, no R-CNN).
        simplify (bool): run onnxsim over the file.

    The model's ``CLASSES`` (if any) go into the file's metadata as a JSON
    list under ``classes``; a box-free segmentor's file also holds its
    ``mask_stride`` and ``mask_thr`` there.

    Returns:
        tuple[str]: the names of the graph's outputs.
    """
    import_deploy_module('onnx')
    if opset_version < MIN_OPSET:
        raise ValueError(
            f'opset_version {opset_version} < {MIN_OPSET}: RoiAlign '
            f'with aligned=True (half_pixel) needs opset {MIN_OPSET}'
        )
    if img.size(0) != 1:
        raise ValueError(
            'export traces one image (batch 1; with dynamic_export the '
            f'graph then takes any batch), got a batch of {img.size(0)}'
        )
    model.eval()
    if skip_postprocess:
        module = ExportableFeatureMaps(model)
        args = (img,)
        input_names = ['input']
    else:
        module = exportable_detector(model)
        args = export_inputs(img, img_meta)
        input_names = list(INPUT_NAMES)
    output_names = module.output_names
    module.eval()
    dynamic_axes = None
    if dynamic_export:
        dynamic_axes = {'input': {2: 'height', 3: 'width'}}
    if not skip_postprocess:
        dynamic_axes = dict(dynamic_axes or {})
        for name in output_names:
            dynamic_axes[name] = {0: 'num_dets'}
    register_onnx_symbolics()
    with warnings.catch_warnings(), torch.no_grad():
        # the tracer warns about every Python number taken from a shape
        warnings.simplefilter('ignore')
        _export(
            module,
            args,
            output_file,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset_version,
            do_constant_folding=True,
            dynamo=False,
        )
    if dynamic_export and not skip_postprocess:
        with torch.no_grad():
            example = module(*args)
        to_batch_graph(
            output_file,
            {
                name: tuple(value.shape[1:])
                for name, value in zip(output_names, example)
            },
        )
        output_names = [*output_names, NUM_DETS]
    if simplify:
        simplify_onnx(output_file)
    metadata = {} if skip_postprocess else _metadata(model, module)
    if metadata:
        write_metadata(output_file, **metadata)
    return tuple(output_names)


def _metadata(model, module):
    """The file's metadata: the model's ``CLASSES`` (if any) as a JSON
    list, and what the export module needs besides the graph (a box-free
    segmentor's mask stride and threshold)."""
    values = dict(module.metadata()) if hasattr(module, 'metadata') else {}
    if getattr(model, 'CLASSES', None):
        values['classes'] = json.dumps(list(model.CLASSES))
    return values


def _export(module, args, output_file, **kwargs):
    """``torch.onnx.export``, with a deformable convolution below its
    opset named as such."""
    try:
        torch.onnx.export(module, args, output_file, **kwargs)
    except torch.onnx.errors.UnsupportedOperatorError as err:
        if 'deform_conv2d' not in str(err):
            raise
        raise ValueError(
            f'the model has deformable convolutions, which ONNX has from '
            f'opset {DEFORM_CONV_OPSET} (DeformConv); export with '
            f'opset_version >= {DEFORM_CONV_OPSET} (--opset-version), got '
            f'{kwargs["opset_version"]}'
        ) from err


def to_batch_graph(onnx_file, trailing_dims):
    """Rewrite the one-image graph in ``onnx_file`` as its loop over a
    batch (:func:`loop_over_batch`)."""
    onnx = import_deploy_module('onnx')
    onnx.save(loop_over_batch(onnx.load(onnx_file), trailing_dims), onnx_file)


def write_metadata(onnx_file, **values):
    """Store string ``values`` in ``onnx_file``'s metadata (ONNX Runtime
    reads them back: ``ORTSession.metadata``)."""
    onnx = import_deploy_module('onnx')
    model = onnx.load(onnx_file)
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, onnx_file)


def simplify_onnx(onnx_file):
    """Simplify ``onnx_file`` in place with onnxsim."""
    onnx = import_deploy_module('onnx')
    onnxsim = import_deploy_module('onnxsim')
    model, ok = onnxsim.simplify(onnx.load(onnx_file))
    if not ok:
        raise RuntimeError(
            f'onnxsim could not validate the simplified '
            f'{onnx_file}; export without --simplify'
        )
    onnx.save(model, onnx_file)
