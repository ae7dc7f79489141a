"""Importing mmdet leaves the process's warning filters and log levels as
they were (checked in a fresh interpreter)."""

import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))

SCRIPT = r'''
import logging
import warnings

def levels():
    loggers = dict(logging.root.manager.loggerDict, root=logging.root)
    return {name: logger.level for name, logger in loggers.items()
            if isinstance(logger, logging.Logger)}

def changed(before):
    # loggers that existed, or mmdet's own: new loggers of the libraries
    # are theirs
    return {name: level for name, level in levels().items()
            if (name in before or name.startswith('mmdet'))
            and before.get(name, 0) != level}

import torch
# mmdet before mmcv: its own quiet import of mmcv must restore what it
# changes
filters, before = list(warnings.filters), levels()
import mmdet
assert list(warnings.filters) == filters, 'import mmdet changed filters'
assert not changed(before), f'import mmdet changed {changed(before)}'
assert logging.getLogger('torch.utils.cpp_extension').level == 0

# the third-party libraries' own import-time settings are theirs: import
# them, then everything of mmdet
import cv2, matplotlib.pyplot, mmcv.cnn, mmcv.parallel, mmcv.runner
import pycocotools.coco, torchvision
filters, before = list(warnings.filters), levels()
import mmdet.analysis, mmdet.apis, mmdet.core, mmdet.datasets
import mmdet.models, mmdet.testing, mmdet.utils
assert list(warnings.filters) == filters, 'mmdet changed warning filters'
assert not changed(before), f'mmdet changed log levels {changed(before)}'
print('clean')
'''


def test_import_changes_no_warning_filter_or_log_level():
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, '-c', SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == 'clean'
