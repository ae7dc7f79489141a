"""Checkpoints in the forms users get them (mmcv .pth, bare state dict,
the unpacked archive/ folder and its parent, a re-zipped folder) load into
the same detections; pickles that would run code are refused without
running it; mismatched keys and shapes are reported by name."""

import hashlib
import os
import os.path as osp
import shutil
import zipfile

import numpy as np
import pytest
import torch
from mmcv.runner import save_checkpoint

from mmdet import apis
from mmdet.apis import (
    inference_detector,
    init_detector,
    load_detector_checkpoint,
)
from mmdet.apis.checkpoint import CheckpointMismatchError
from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco
from mmdet.utils.checkpoint_publish import publish_checkpoint
from mmdet.utils.checkpoint_reader import (
    UnsafeCheckpointError,
    read_checkpoint,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=2, num_val=2, size=64)
    return root


@pytest.fixture(scope='module')
def image(tiny):
    return str(tiny / 'val' / sorted(os.listdir(tiny / 'val'))[0])


@pytest.fixture(scope='module')
def source(tmp_path_factory, image):
    """A random-weight micro model, its detections on ``image`` and its
    weights in every checkpoint form."""
    torch.manual_seed(1)
    model = init_detector(CONFIG, device='cpu')
    model.CLASSES = TINY_COCO_CLASSES
    folder = tmp_path_factory.mktemp('ckpts')
    files = dict(
        mmcv=str(folder / 'epoch_1.pth'), bare=str(folder / 'bare.pth')
    )
    save_checkpoint(model, files['mmcv'], meta=dict(CLASSES=model.CLASSES))
    torch.save(model.state_dict(), files['bare'])
    # torch's pre-1.6 format (MMDetection 2.x's publish_model wrote it)
    files['legacy'] = str(folder / 'legacy.pth')
    torch.save(
        dict(meta=dict(CLASSES=model.CLASSES), state_dict=model.state_dict()),
        files['legacy'],
        _use_new_zipfile_serialization=False,
    )
    # what a browser leaves when it unpacks the .pth: <parent>/archive/...
    with zipfile.ZipFile(files['mmcv']) as archive:
        archive.extractall(folder / 'unpacked')
    (top,) = os.listdir(folder / 'unpacked')
    os.rename(folder / 'unpacked' / top, folder / 'unpacked' / 'archive')
    files['archive'] = str(folder / 'unpacked' / 'archive')
    files['parent'] = str(folder / 'unpacked')
    # ... and the folder zipped again by hand (compressed, one level deeper)
    files['rezipped'] = shutil.make_archive(
        str(folder / 'rezipped'), 'zip', folder, 'unpacked'
    )
    return model, inference_detector(model, image), files


def assert_same_result(a, b):
    (boxes_a, masks_a), (boxes_b, masks_b) = a, b
    assert sum(len(x) for x in boxes_a) > 0
    for x, y in zip(boxes_a, boxes_b):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(masks_a, masks_b):
        assert len(x) == len(y)
        for m, n in zip(x, y):
            np.testing.assert_array_equal(m, n)


@pytest.mark.parametrize(
    'form', ['mmcv', 'bare', 'legacy', 'archive', 'parent', 'rezipped']
)
def test_every_form_gives_the_same_detections(source, image, form):
    model, expected, files = source
    torch.manual_seed(2)  # other random weights until the checkpoint loads
    if form == 'bare':  # no meta: COCO's names, with a warning
        with pytest.warns(UserWarning, match='no class names'):
            loaded = init_detector(CONFIG, files[form], device='cpu')
        assert len(loaded.CLASSES) == 80
    else:
        loaded = init_detector(CONFIG, files[form], device='cpu')
        assert loaded.CLASSES == TINY_COCO_CLASSES
    assert_same_result(inference_detector(loaded, image), expected)


def test_random_weights_differ(source, image):
    """(So equal detections above mean the weights were loaded.)"""
    _, expected, _ = source
    torch.manual_seed(2)
    before = inference_detector(init_detector(CONFIG, device='cpu'), image)
    assert not all(
        np.array_equal(x, y) for x, y in zip(before[0], expected[0])
    )


def test_returns_checkpoint_with_meta(source):
    model, _, files = source
    ckpt = load_detector_checkpoint(model, files['archive'])
    assert ckpt['meta']['CLASSES'] == TINY_COCO_CLASSES
    assert set(ckpt['state_dict']) == set(model.state_dict())


def test_tools_test_reads_the_unpacked_folder(source, tiny, tmp_path):
    _, _, files = source
    options = {
        'data.test.ann_file': str(tiny / 'annotations' / 'instances_val.json'),
        'data.test.img_prefix': str(tiny / 'val') + '/',
    }
    outputs = {}
    for form in ('mmcv', 'archive'):
        outputs[form], metrics = apis.test_from_config(
            CONFIG,
            files[form],
            eval=['bbox'],
            cfg_options=options,
            work_dir=str(tmp_path / form),
        )
        assert 'bbox_mAP' in metrics
    for a, b in zip(outputs['mmcv'], outputs['archive']):
        for x, y in zip(a[0], b[0]):
            np.testing.assert_array_equal(x, y)


class _WritesMarker:
    """Unpickling this would create ``path``: code run by a checkpoint."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.mark.parametrize('form', ['file', 'legacy', 'folder'])
def test_pickle_that_runs_code_is_refused(source, tmp_path, form):
    model, _, _ = source
    marker = tmp_path / 'code_was_run'
    evil = str(tmp_path / 'evil.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(payload=_WritesMarker(str(marker))),
        ),
        evil,
        _use_new_zipfile_serialization=form != 'legacy',
    )
    target = evil
    if form == 'folder':
        with zipfile.ZipFile(evil) as archive:
            archive.extractall(tmp_path / 'unpacked')
        target = str(tmp_path / 'unpacked')
    with pytest.raises(UnsafeCheckpointError) as info:
        load_detector_checkpoint(model, target)
    message = str(info.value)
    assert repr(target) in message and 'open' in message
    assert 'would import or call code' in message
    assert not marker.exists()
    # the payload is live: an unrestricted unpickler runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_wrong_key_and_shape_are_named(source, tmp_path):
    model, _, _ = source
    state = dict(model.state_dict())
    state['backbone.features.0.0.wieght'] = state.pop(
        'backbone.features.0.0.weight'
    )
    head = 'roi_head.bbox_head.fc_cls.bias'
    state[head] = torch.zeros(7)
    path = str(tmp_path / 'wrong.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_detector_checkpoint(model, path)
    message = str(info.value)
    assert repr(path) in message
    assert 'missing keys (in the model, not in the checkpoint): 1' in message
    assert 'backbone.features.0.0.weight' in message
    assert (
        'unexpected keys (in the checkpoint, not in the model): 1' in message
    )
    assert 'backbone.features.0.0.wieght' in message
    assert f'{head}: (7,) vs (5,)' in message


def test_non_strict_loads_what_fits(source, tmp_path):
    model, _, _ = source
    state = dict(model.state_dict())
    state.pop('rpn_head.rpn_cls.bias')
    state['rpn_head.rpn_conv.weight'] = state['rpn_head.rpn_conv.weight'] + 1
    path = str(tmp_path / 'partial.pth')
    torch.save(state, path)
    torch.manual_seed(3)
    fresh = init_detector(CONFIG, device='cpu')
    kept = fresh.rpn_head.rpn_cls.bias.clone()
    load_detector_checkpoint(fresh, path, strict=False)
    assert torch.equal(
        fresh.rpn_head.rpn_conv.weight, state['rpn_head.rpn_conv.weight']
    )
    assert torch.equal(fresh.rpn_head.rpn_cls.bias, kept)


def test_old_checkpoint_without_bn_counters_loads(source, image, tmp_path):
    model, expected, _ = source
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.endswith('num_batches_tracked')
    }
    assert len(state) < len(model.state_dict())
    path = str(tmp_path / 'old.pth')
    torch.save(dict(meta=dict(CLASSES=model.CLASSES), state_dict=state), path)
    loaded = init_detector(CONFIG, path, device='cpu')
    assert_same_result(inference_detector(loaded, image), expected)


def test_not_a_checkpoint_names_the_path(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(RuntimeError, match='notes.pth.*not a PyTorch'):
        read_checkpoint(str(text))
    with pytest.raises(RuntimeError, match='no data.pkl'):
        read_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        read_checkpoint(str(tmp_path / 'missing.pth'))


def test_publish_drops_optimizer_and_names_by_hash(source, tmp_path):
    model, _, files = source
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trained = str(tmp_path / 'latest.pth')
    save_checkpoint(
        model, trained, optimizer=optimizer, meta=dict(CLASSES=model.CLASSES)
    )
    assert 'optimizer' in read_checkpoint(trained)
    out = publish_checkpoint(trained, str(tmp_path / 'pub' / 'micro.pth'))
    name = osp.basename(out)
    assert name.startswith('micro-') and name.endswith('.pth')
    digest = name[len('micro-') : -len('.pth')]
    with open(out, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == digest
    published = read_checkpoint(out)
    assert 'optimizer' not in published
    assert published['meta']['CLASSES'] == TINY_COCO_CLASSES
    assert os.listdir(tmp_path / 'pub') == [name]
