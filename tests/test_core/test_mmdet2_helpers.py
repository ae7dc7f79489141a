"""Helpers MMDetection 2.x code (its unit tests among them) imports:
random boxes and assignments for tests, ``mask2ndarray``."""

import numpy as np
import pytest
import torch

from mmdet.core.bbox.assigners.assign_result import AssignResult
from mmdet.core.bbox.demodata import ensure_rng, random_boxes
from mmdet.core.mask import BitmapMasks, PolygonMasks
from mmdet.core.utils import mask2ndarray


def test_ensure_rng():
    assert ensure_rng(None) is np.random.mtrand._rand
    a, b = ensure_rng(3), ensure_rng(3)
    assert a is not b and a.rand() == b.rand()
    state = np.random.RandomState(0)
    assert ensure_rng(state) is state


def test_random_boxes_are_ordered_and_reproducible():
    boxes = random_boxes(50, scale=512, rng=0)
    assert boxes.shape == (50, 4) and boxes.dtype == torch.float32
    assert (boxes[:, 2:] >= boxes[:, :2]).all()
    assert boxes.min() >= 0 and boxes.max() < 512
    assert torch.equal(boxes, random_boxes(50, scale=512, rng=0))
    assert random_boxes(0).shape == (0, 4)


@pytest.mark.parametrize(
    'num_gts,num_preds', [(0, 0), (0, 3), (3, 3), (7, 64), (24, 3), (5, 0)]
)
def test_random_assign_result_is_consistent(num_gts, num_preds):
    for seed in range(5):
        res = AssignResult.random(
            num_gts=num_gts, num_preds=num_preds, rng=seed, p_use_label=True
        )
        assert res.num_gts == num_gts and res.num_preds == num_preds
        inds = res.gt_inds
        assert inds.dtype == torch.long
        assert ((inds >= -1) & (inds <= num_gts)).all()
        positive = inds[inds > 0]
        assert len(positive.unique()) == len(positive)  # one box per gt
        assert (res.max_overlaps[inds == 0] == 0).all()
        assert (res.labels[inds <= 0] == -1).all()
        assert ((res.labels[inds > 0] >= 0) & (res.labels[inds > 0] < 3)).all()
    assert AssignResult.random(rng=0, p_use_label=False).labels is None
    AssignResult.random()  # all defaults


def test_mask2ndarray():
    bitmap = np.random.rand(2, 8, 9) > 0.5
    assert (mask2ndarray(BitmapMasks(bitmap, 8, 9)) == bitmap).all()
    square = np.array([1.0, 1, 5, 1, 5, 5, 1, 5])
    assert mask2ndarray(PolygonMasks([[square]], 8, 9)).shape == (1, 8, 9)
    assert (mask2ndarray(torch.from_numpy(bitmap)) == bitmap).all()
    assert mask2ndarray(bitmap) is bitmap
    with pytest.raises(TypeError):
        mask2ndarray([bitmap])


def test_multi_apply_regroups_results():
    from mmdet.core import multi_apply

    def func(a, b, scale=1):
        return a * scale, b - a

    assert multi_apply(func, [1, 2, 3], [5, 5, 5], scale=10) == (
        [10, 20, 30],
        [4, 3, 2],
    )
    assert multi_apply(func, [], []) == ()


def test_flip_center_coordinates():
    from mmdet.core import center_of_mass, flip_tensor, generate_coordinate

    x = torch.arange(6.0).view(1, 1, 2, 3)
    assert flip_tensor(x, 'horizontal')[0, 0, 0].tolist() == [2, 1, 0]
    assert flip_tensor(x, 'vertical')[0, 0, 0].tolist() == [3, 4, 5]
    assert flip_tensor(x, 'diagonal')[0, 0, 0].tolist() == [5, 4, 3]
    with pytest.raises(AssertionError):
        flip_tensor(x, 'sideways')
    mask = torch.zeros(4, 6)
    mask[1:3, 3:6] = 1
    row, col = center_of_mass(mask)
    assert (row.item(), col.item()) == (1.5, 4.0)
    assert [v.item() for v in center_of_mass(torch.zeros(3, 3))] == [0, 0]
    coords = generate_coordinate((2, 8, 3, 5), device='cpu')
    assert coords.shape == (2, 2, 3, 5)
    assert coords[0, 0, 0].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]  # x
    assert coords[1, 1, :, 0].tolist() == [-1.0, 0.0, 1.0]  # y


def _dist_worker(rank, init_file, out):
    import torch.distributed as dist

    from mmdet.core import all_reduce_dict, sync_random_seed

    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2
    )
    seed = sync_random_seed(100 + rank, device='cpu')
    summed = all_reduce_dict({'a': torch.tensor([rank + 1.0])})
    mean = all_reduce_dict({'a': torch.tensor([rank + 1.0])}, op='mean')
    out[rank] = (seed, summed['a'].item(), mean['a'].item())
    dist.destroy_process_group()


def test_sync_random_seed_and_all_reduce_dict(tmp_path):
    import torch.multiprocessing as mp

    from mmdet.core import all_reduce_dict, sync_random_seed

    assert sync_random_seed(7, device='cpu') == 7  # one process
    same = {'a': torch.ones(1)}
    assert all_reduce_dict(same) is same
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_dist_worker, args=(str(tmp_path / 'init'), out), nprocs=2)
        results = dict(out)
    # rank 0's seed everywhere, sums and means over both processes
    assert results == {0: (100, 3.0, 1.5), 1: (100, 3.0, 1.5)}


@pytest.mark.parametrize(
    'num_gts,num_preds', [(0, 0), (0, 3), (3, 3), (7, 64), (24, 3)]
)
def test_random_sampling_result(num_gts, num_preds):
    from mmdet.core.bbox.samplers.sampling_result import SamplingResult

    result = SamplingResult.random(num_gts=num_gts, num_preds=num_preds, rng=0)
    assert result.num_gts == num_gts
    assert len(result.pos_inds) + len(result.neg_inds) <= min(num_preds, 32)
    assert result.pos_bboxes.shape == (len(result.pos_inds), 4)
    assert result.pos_gt_bboxes.shape == (len(result.pos_inds), 4)


def test_log_img_scale_names_the_caller(caplog):
    from mmdet.utils import get_root_logger, log_img_scale

    class Resizer:
        def run(self):
            return log_img_scale((640, 480), shape_order='wh')

    logger = get_root_logger()
    logger.propagate, propagate = True, logger.propagate
    try:
        with caplog.at_level('INFO', logger='mmdet'):
            assert Resizer().run() is True
            assert log_img_scale((32, 32), skip_square=True) is False
    finally:
        logger.propagate = propagate
    assert 'image shape: height=480, width=640 in Resizer.run' in caplog.text
    with pytest.raises(ValueError):
        log_img_scale((1, 2), shape_order='xy')


def test_version_names_and_coco_xyxy2xywh():
    import mmdet
    from mmdet.datasets import CocoDataset
    from mmdet.version import parse_version_info

    assert mmdet.version_info[:2] == (2, 28)
    assert mmdet.short_version == mmdet.__version__
    assert parse_version_info('2.28.2rc1') == (2, 28, 2, 'rc1')
    assert CocoDataset.xyxy2xywh(None, [1, 2, 4, 8, 0.9]) == [1, 2, 3, 6]
