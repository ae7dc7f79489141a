"""A small tiny-COCO set (16 train / 8 val images) shared by the data
tests, generated once per session into a temporary folder."""

import pytest

from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco

NUM_TRAIN, NUM_VAL = 16, 8


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """Path of the generated tiny set (do not modify it in tests)."""
    root = tmp_path_factory.mktemp('tiny_coco')
    make_tiny_coco(str(root), seed=0, num_train=NUM_TRAIN, num_val=NUM_VAL)
    return root


@pytest.fixture
def tiny_classes():
    return TINY_COCO_CLASSES


def make_coco_cfg(root, split='train', pipeline=(), **kwargs):
    """CocoDataset config of the tiny set at ``root``."""
    return dict(
        type='CocoDataset',
        classes=TINY_COCO_CLASSES,
        ann_file=str(root / 'annotations' / f'instances_{split}.json'),
        img_prefix=str(root / split) + '/',
        pipeline=list(pipeline),
        **kwargs,
    )


@pytest.fixture
def coco_cfg(tiny_coco):
    """``coco_cfg(split='train', pipeline=(), **kwargs)``: a CocoDataset
    config of the session's tiny set."""
    return lambda *args, **kwargs: make_coco_cfg(tiny_coco, *args, **kwargs)


def pytest_configure(config):
    # pycocotools' decode calls np.array(copy=False) on numpy 2 (harmless)
    config.addinivalue_line(
        'filterwarnings',
        "ignore:__array__ implementation doesn't accept a copy keyword"
        ':DeprecationWarning',
    )
