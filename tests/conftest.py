"""Shared test set-up: quiet logs, one thread, paths to reference data."""
import os.path as osp

import pytest
import torch

torch.set_num_threads(2)

TEST_DATA = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(__file__))


@pytest.fixture
def test_data_dir():
    return TEST_DATA
