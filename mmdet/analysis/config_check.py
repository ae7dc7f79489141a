"""Build every config of an MMDetection 2.x config tree and say which work.

For each config file: load it, build its detector with pretrained weights
off, optionally run one training step and one test on random images, and
compare the built model with a reference (parameter count, state-dict keys
and shapes). The data set and pipeline types of ``data`` are checked against
the registries separately, since data support comes after models.

A config's ``status`` is one of ``STATUSES``:

* ``OK``: built (and trained/tested when asked), and equal to the reference
  where the reference has it;
* ``DIFF``: built but its parameters, keys or shapes differ from the
  reference;
* ``FAIL``: loading, building, the training step or the test raised;
  ``stage`` says which, ``reason`` gives the exception's first line;
* ``NOMODEL``: a config without ``model`` (a shared fragment).
"""

import fnmatch
import gzip
import inspect
import json
import logging
import os
import os.path as osp
import re
from collections import Counter

import numpy as np
import torch
from mmcv import Config

from mmdet.core import BitmapMasks
from mmdet.datasets import DATASETS, PIPELINES
from mmdet.models import build_detector

STATUSES = ('OK', 'DIFF', 'FAIL', 'NOMODEL')
IMAGE_SIZE = 256  # a multiple of 128: every detector's stride divides it
MISSING_TYPE = re.compile(r"'?([\w.+-]+)'? is not in the '?([\w ]+?)'? regist")


def find_configs(root, pattern=None):
    """Paths relative to ``root`` of its config files (``*.py`` outside
    ``_base_``), sorted; with ``pattern`` (a glob or a list of globs), only
    those matching one."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != '_base_')
        rel_dir = osp.relpath(dirpath, root)
        for name in filenames:
            if name.endswith('.py'):
                found.append(osp.normpath(osp.join(rel_dir, name)))
    if pattern:
        patterns = [pattern] if isinstance(pattern, str) else pattern
        found = [
            r for r in found if any(fnmatch.fnmatch(r, p) for p in patterns)
        ]
    return sorted(found)


def without_pretrained(cfg):
    """``cfg`` (nested dicts/lists) with ``pretrained=None``, a
    distillation teacher's ``teacher_ckpt=None`` and every ``init_cfg`` of
    type ``Pretrained`` or naming a ``checkpoint`` removed."""
    if isinstance(cfg, dict):
        out = {k: without_pretrained(v) for k, v in cfg.items()}
        for key in ('pretrained', 'teacher_ckpt'):
            if key in out:
                out[key] = None
        init = out.get('init_cfg')
        # PVT's init_cfg names only a checkpoint (no type): it loads it too
        if isinstance(init, dict) and (
            init.get('type') == 'Pretrained' or 'checkpoint' in init
        ):
            out['init_cfg'] = None
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_pretrained(v) for v in cfg)
    return cfg


def first_line(exc):
    """``'<ExceptionType>: <first line of the message>'``, without the
    list of registered names our registry errors append."""
    message = exc.args[0] if exc.args else ''
    if not isinstance(message, str):
        message = str(exc)
    message = message.replace('\\\'', "'").replace('"', '')
    lines = [line for line in message.splitlines() if line.strip()]
    if not lines:  # e.g. ImportError() of a config's custom_imports
        name = getattr(exc, 'name', None)
        lines = [f'(no message{f"; module {name}" if name else ""})']
    text = lines[0].split(' Registered:')[0]
    return f'{type(exc).__name__}: {text[:300]}'


def missing_type(reason):
    """The type name a 'not in the registry' reason names, or None."""
    match = MISSING_TYPE.search(reason or '')
    return match.group(1) if match else None


# ---------------------------------------------------------------- data


def _pipeline_types(steps):
    """Type names of a pipeline list, nested transforms included."""
    names = []
    for step in steps or []:
        if isinstance(step, (list, tuple)):  # AutoAugment policies
            names += _pipeline_types(step)
            continue
        if not isinstance(step, dict) or 'type' not in step:
            continue
        names.append(step['type'])
        if step['type'] != 'Albu':  # Albu's are albumentations' own types
            names += _pipeline_types(step.get('transforms'))
        names += _pipeline_types(step.get('policies'))
    return names


def _dataset_types(cfg):
    """(dataset types, pipeline types) of one data set config, wrappers
    (``dataset``, ``datasets``) followed."""
    if isinstance(cfg, (list, tuple)):
        parts = [_dataset_types(c) for c in cfg]
        return sum((p[0] for p in parts), []), sum((p[1] for p in parts), [])
    if not isinstance(cfg, dict):
        return [], []
    datasets = [cfg['type']] if 'type' in cfg else []
    pipelines = _pipeline_types(cfg.get('pipeline'))
    for key in ('dataset', 'datasets'):
        inner_datasets, inner_pipelines = _dataset_types(cfg.get(key))
        datasets += inner_datasets
        pipelines += inner_pipelines
    return datasets, pipelines


def unregistered_data_types(data_cfg):
    """Sorted type names of ``data``'s train/val/test data sets and
    pipelines that the DATASETS / PIPELINES registries lack."""
    missing = set()
    for split in ('train', 'val', 'test'):
        datasets, pipelines = _dataset_types((data_cfg or {}).get(split))
        missing.update(t for t in datasets if DATASETS.get(t) is None)
        missing.update(t for t in pipelines if PIPELINES.get(t) is None)
    return sorted(missing)


# ------------------------------------------------------- model checks


def compare_with_reference(model, ref):
    """Differences between ``model`` and a reference entry (``params`` and
    ``state_dict``: key -> shape) as a short text; '' when equal."""
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    expected = {k: list(v) for k, v in ref['state_dict'].items()}
    params = sum(p.numel() for p in model.parameters())
    problems = []
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    wrong = sorted(
        k for k in set(shapes) & set(expected) if shapes[k] != expected[k]
    )
    if missing:
        problems.append(f'missing {len(missing)} keys: {missing[:3]}')
    if extra:
        problems.append(f'unexpected {len(extra)} keys: {extra[:3]}')
    if wrong:
        shown = ', '.join(f'{k} {shapes[k]} vs {expected[k]}' for k in wrong)
        problems.append(f'{len(wrong)} shapes differ: {shown[:300]}')
    if params != ref['params']:
        problems.append(f'params {params} vs {ref["params"]}')
    return '; '.join(problems)


def _find_key(cfg, key):
    """The first value of ``key`` anywhere in nested dicts/lists."""
    if isinstance(cfg, dict):
        if key in cfg:
            return cfg[key]
        values = cfg.values()
    elif isinstance(cfg, (list, tuple)):
        values = cfg
    else:
        return None
    for value in values:
        found = _find_key(value, key)
        if found is not None:
            return found
    return None


def _needs_masks(model, model_cfg):
    """Whether the detector trains on instance masks."""
    if _find_key(model_cfg, 'mask_head') is not None:
        return True
    params = inspect.signature(model.forward_train).parameters
    gt_masks = params.get('gt_masks')
    return gt_masks is not None and gt_masks.default is inspect._empty


def image_size(model_cfg):
    """Side of the random test images: ``IMAGE_SIZE``, or the input size
    an SSD anchor generator is built for (SSD300's VGG and extra layers
    need at least 300 pixels)."""
    anchors = _find_key(model_cfg, 'anchor_generator') or {}
    return anchors.get('input_size', IMAGE_SIZE)


def random_batch(
    num_classes, with_masks, num_images=2, seed=0, size=IMAGE_SIZE
):
    """A batch of ``num_images`` random ``size`` x ``size`` images with
    three random boxes each (and masks filling them), as the data pipeline
    gives it."""
    gen = torch.Generator().manual_seed(seed)
    norm = dict(mean=np.zeros(3), std=np.ones(3), to_rgb=False)
    meta = dict(
        img_shape=(size, size, 3),
        ori_shape=(size, size, 3),
        pad_shape=(size, size, 3),
        batch_input_shape=(size, size),
        scale_factor=np.ones(4, dtype=np.float32),
        flip=False,
        flip_direction=None,
        img_norm_cfg=norm,
        # where RandomCenterCropPad (CenterNet, CornerNet test pipelines)
        # put the image on its canvas: y1, y2, x1, x2
        border=np.array([0, size, 0, size], dtype=np.float32),
    )
    batch = dict(img=torch.randn(num_images, 3, size, size, generator=gen))
    batch['img_metas'] = [
        dict(meta, filename=f'{i}.jpg', ori_filename=f'{i}.jpg')
        for i in range(num_images)
    ]
    boxes, labels, masks = [], [], []
    for _ in range(num_images):
        xy = torch.rand(3, 2, generator=gen) * size * 0.6
        wh = 16 + torch.rand(3, 2, generator=gen) * size * 0.35
        box = torch.cat([xy, xy + wh], dim=1).round()
        boxes.append(box)
        labels.append(torch.randint(num_classes, (3,), generator=gen))
        mask = np.zeros((3, size, size), dtype=np.uint8)
        for j, (x1, y1, x2, y2) in enumerate(box.long().tolist()):
            mask[j, y1:y2, x1:x2] = 1
        masks.append(BitmapMasks(mask, size, size))
    batch.update(gt_bboxes=boxes, gt_labels=labels)
    if with_masks:
        batch['gt_masks'] = masks
    return batch


def panoptic_seg(batch, num_things, num_stuff, seed=0):
    """(B, 1, H, W) panoptic-style semantic map, as LoadPanopticAnnotations
    gives it: 32x32 blocks of random stuff labels (``num_things`` onwards)
    or 255 (unlabelled), each thing box painted with its label."""
    gen = torch.Generator().manual_seed(seed)
    num_images, size = len(batch['img']), IMAGE_SIZE
    blocks = torch.randint(
        num_things,
        num_things + num_stuff + 1,
        (num_images, 1, 8, 8),
        generator=gen,
    )
    blocks[blocks == num_things + num_stuff] = 255
    seg = blocks.repeat_interleave(size // 8, 2).repeat_interleave(
        size // 8, 3
    )
    for i, (boxes, labels) in enumerate(
        zip(batch['gt_bboxes'], batch['gt_labels'])
    ):
        for (x1, y1, x2, y2), label in zip(boxes.long().tolist(), labels):
            seg[i, 0, y1:y2, x1:x2] = label
    return seg


def random_proposals(gt_bboxes, num=20, seed=1):
    """Per image (num, 4) proposals: the gt boxes jittered by up to a
    quarter of their size, then random boxes."""
    gen = torch.Generator().manual_seed(seed)
    proposals = []
    for gts in gt_bboxes:
        wh = (gts[:, 2:] - gts[:, :2]).repeat(1, 2)
        jitter = (torch.rand(gts.shape, generator=gen) - 0.5) * 0.5 * wh
        xy = torch.rand(num - len(gts), 2, generator=gen) * IMAGE_SIZE * 0.6
        size = 16 + torch.rand(num - len(gts), 2, generator=gen) * 64
        boxes = torch.cat([gts + jitter, torch.cat([xy, xy + size], 1)])
        proposals.append(boxes.clamp(min=0, max=IMAGE_SIZE - 1))
    return proposals


def _accepted(forward_train, batch):
    """``batch`` without the keys ``forward_train`` does not take (e.g. the
    RPN detector trains on boxes only, without ``gt_labels``)."""
    params = inspect.signature(forward_train).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return batch
    return {k: v for k, v in batch.items() if k in params}


def _quiet_init_weights(model):
    """``model.init_weights()`` without mmcv's line per parameter."""
    logger = logging.getLogger('mmcv')
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def train_and_test(model, model_cfg):
    """One training step (backward included) and one test on a random
    batch, from the model's initial weights as ``tools/train.py`` sets
    them (``init_weights``); raise where either fails."""
    # without it, parameters keep PyTorch's default draws: e.g. Sparse
    # R-CNN's / QueryInst's initial proposal boxes (an Embedding) come out
    # N(0, 1) in cx, cy, w, h, and a box of negative width reaching the
    # mask target's RoIAlign stops it (mmcv's CPU op alike)
    _quiet_init_weights(model)
    num_classes = _find_key(model_cfg, 'num_classes') or 80
    batch = random_batch(
        num_classes, _needs_masks(model, model_cfg), size=image_size(model_cfg)
    )
    semantic = _find_key(model_cfg, 'semantic_head')
    num_stuff = _find_key(model_cfg, 'num_stuff_classes')
    if num_stuff:
        batch['gt_semantic_seg'] = panoptic_seg(batch, num_classes, num_stuff)
    elif semantic is not None:
        # HTC's semantic branch: a (B, 1, H/8, W/8) stuff map as
        # SegRescale(1/8) gives it, labels below the head's num_classes
        size = IMAGE_SIZE // 8
        stuff = semantic.get('num_classes', 183)
        batch['gt_semantic_seg'] = torch.randint(
            stuff, (len(batch['img']), 1, size, size)
        )
    test_kwargs = {}
    if not getattr(model, 'with_rpn', True):
        # Fast R-CNN reads proposals (LoadProposals): random boxes here
        batch['proposals'] = random_proposals(batch['gt_bboxes'])
        test_kwargs['proposals'] = [batch['proposals'][:1]]
    batch = _accepted(model.forward_train, batch)
    model.train()
    outputs = model.train_step(batch, None)
    loss = outputs['loss']
    if not torch.isfinite(loss):
        raise FloatingPointError(f'training loss is {loss.item()}')
    loss.backward()
    model.eval()
    with torch.no_grad():
        results = model(
            img=[batch['img'][:1]],
            img_metas=[batch['img_metas'][:1]],
            return_loss=False,
            rescale=True,
            **test_kwargs,
        )
    if len(results) != 1:
        raise RuntimeError(f'test gave {len(results)} results for 1 image')


def check_config(path, rel=None, reference=None, train_step=False):
    """Check one config file; return a dict with ``config`` (``rel``),
    ``status``, ``stage``, ``reason``, ``params`` and ``data_missing``
    (unregistered data set / pipeline types)."""
    result = dict(config=rel or path, status='OK', stage=None, reason='')
    result.update(params=None, data_missing=[])
    stage, diff = 'load', ''
    try:
        cfg = Config.fromfile(path)._cfg_dict.to_dict()
        result['data_missing'] = unregistered_data_types(cfg.get('data'))
        if 'model' not in cfg:
            return dict(result, status='NOMODEL', stage=stage)
        stage = 'build'
        model_cfg = without_pretrained(cfg['model'])
        # MMDetection 1.x-style configs keep train_cfg / test_cfg outside
        # the model; tools/train.py passes them on, so does the check
        outer = Config(
            dict(train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg'))
        )
        model = build_detector(
            Config(dict(model=model_cfg)).model,
            train_cfg=outer.train_cfg,
            test_cfg=outer.test_cfg,
        )
        result['params'] = sum(p.numel() for p in model.parameters())
        if reference and 'params' in reference.get(rel, {}):
            diff = compare_with_reference(model, reference[rel])
        if train_step:
            stage = 'train/test'
            train_and_test(model, model_cfg)
    except Exception as exc:  # every failure is a result to report
        return dict(result, status='FAIL', stage=stage, reason=first_line(exc))
    if diff:
        return dict(result, status='DIFF', stage='compare', reason=diff)
    return result


def load_reference(path):
    """The reference file: {config path: {params, state_dict} | {error}}."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt') as f:
        return json.load(f)


def check_tree(
    root, pattern=None, reference=None, train_step=False, on_result=None
):
    """:func:`check_config` for every config under ``root``; ``on_result``
    (if given) is called with each result as it comes."""
    results = []
    for rel in find_configs(root, pattern):
        result = check_config(osp.join(root, rel), rel, reference, train_step)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def folder_counts(results):
    """{folder: {status: n, 'total': n, 'data_missing': n}}, sorted."""
    counts = {}
    for r in results:
        folder = r['config'].split('/')[0] if '/' in r['config'] else '.'
        row = counts.setdefault(folder, dict.fromkeys(STATUSES, 0))
        row[r['status']] += 1
        row['total'] = row.get('total', 0) + 1
        row['data_missing'] = row.get('data_missing', 0) + bool(
            r['data_missing']
        )
    return dict(sorted(counts.items()))


def missing_type_counts(results):
    """{type name: configs failing on it}, most frequent first: model
    types from build failures, data types from ``data_missing``."""
    model = Counter(missing_type(r['reason']) for r in results)
    model.pop(None, None)
    data = Counter(t for r in results for t in r['data_missing'])
    return dict(model.most_common()), dict(data.most_common())


def format_report(results):
    """The failures (one line each), the per-folder table and the totals,
    as text."""
    lines = [
        f"{r['status']:4s} {r['config']} [{r['stage']}]: {r['reason']}"
        for r in results
        if r['status'] in ('FAIL', 'DIFF')
    ]
    head = ('folder', 'total') + STATUSES + ('data?',)
    lines.append('')
    lines.append(
        '{:<24s}'.format(head[0]) + ''.join(f'{h:>8s}' for h in head[1:])
    )
    table = folder_counts(results)
    total = Counter()
    for folder, row in table.items():
        cells = [row['total']] + [row[s] for s in STATUSES]
        cells.append(row['data_missing'])
        total.update(dict(zip(head[1:], cells)))
        lines.append(f'{folder:<24s}' + ''.join(f'{c:>8d}' for c in cells))
    lines.append(
        '{:<24s}'.format('all') + ''.join(f'{total[h]:>8d}' for h in head[1:])
    )
    model_types, data_types = missing_type_counts(results)
    for title, found in (('model', model_types), ('data', data_types)):
        if found:
            shown = ', '.join(f'{t} ({n})' for t, n in found.items())
            lines.append(f'unregistered {title} types: {shown}')
    return '\n'.join(lines)


def write_json(results, path):
    """``results`` with the per-folder counts, as JSON at ``path``."""
    model_types, data_types = missing_type_counts(results)
    report = dict(
        folders=folder_counts(results),
        missing_model_types=model_types,
        missing_data_types=data_types,
        results=results,
    )
    with open(path, 'w') as f:
        json.dump(report, f, indent=1)
