"""Shared test set-up: one thread, paths to reference data."""

import os.path as osp

import pytest
import torch

# The tests use small tensors, for which a second thread costs more in
# synchronisation than it gains (several times more when the cores are
# busy with anything else).
torch.set_num_threads(1)

TEST_DATA = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(__file__))


@pytest.fixture
def test_data_dir():
    return TEST_DATA
