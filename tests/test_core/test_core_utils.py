"""mmdet.core.utils: misc tensor helpers and distributed reductions."""
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist

from mmdet.core import (all_reduce_dict, center_of_mass,
                        filter_scores_and_topk, flip_tensor, floordiv,
                        generate_coordinate, mask2ndarray, multi_apply,
                        reduce_mean, select_single_mlvl, sync_random_seed,
                        unmap)


def test_multi_apply():
    sums, products = multi_apply(lambda a, b: (a + b, a * b), [1, 2, 3],
                                 [4, 5, 6])
    assert sums == [5, 7, 9] and products == [4, 10, 18]
    shifted, = multi_apply(lambda a, shift: (a + shift, ), [1, 2], shift=10)
    assert shifted == [11, 12]
    assert multi_apply(lambda a: (a, a), []) == ()


def test_unmap():
    inds = torch.tensor([True, False, True, False])
    out = unmap(torch.tensor([7, 8]), 4, inds, fill=-1)
    assert out.tolist() == [7, -1, 8, -1]
    rows = unmap(torch.ones(2, 3), 4, inds.long())
    assert rows.tolist() == [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]]


def test_select_single_mlvl():
    levels = [torch.rand(2, 3, 4, 4, requires_grad=True),
              torch.rand(2, 3, 2, 2, requires_grad=True)]
    picked = select_single_mlvl(levels, 1)
    assert [p.shape for p in picked] == [(3, 4, 4), (3, 2, 2)]
    torch.testing.assert_close(picked[1], levels[1][1].detach())
    assert not picked[0].requires_grad
    assert select_single_mlvl(levels, 0, detach=False)[0].requires_grad
    with pytest.raises(TypeError):
        select_single_mlvl(levels[0], 0)


def test_filter_scores_and_topk():
    scores = torch.tensor([[0.1, 0.9], [0.6, 0.05], [0.7, 0.3]])
    boxes = torch.arange(12.).view(3, 4)
    out_scores, labels, keep, filtered = filter_scores_and_topk(
        scores, 0.2, 3, dict(bboxes=boxes))
    np.testing.assert_allclose(out_scores.numpy(), [0.9, 0.7, 0.6])
    assert labels.tolist() == [1, 0, 0] and keep.tolist() == [0, 2, 1]
    torch.testing.assert_close(filtered['bboxes'], boxes[[0, 2, 1]])
    _, _, keep, as_list = filter_scores_and_topk(scores, 0.2, 10, [boxes])
    assert keep.tolist() == [0, 2, 1, 2]  # four pairs above 0.2
    torch.testing.assert_close(as_list[0], boxes[[0, 2, 1, 2]])
    _, _, _, none = filter_scores_and_topk(scores, 0.95, 3)
    assert none is None
    with pytest.raises(TypeError):
        filter_scores_and_topk(scores, 0.2, 3, 'boxes')


def test_flip_tensor():
    x = torch.arange(6.).view(1, 1, 2, 3)
    assert flip_tensor(x, 'horizontal')[0, 0].tolist() == [[2, 1, 0],
                                                           [5, 4, 3]]
    assert flip_tensor(x, 'vertical')[0, 0].tolist() == [[3, 4, 5],
                                                         [0, 1, 2]]
    assert flip_tensor(x, 'diagonal')[0, 0].tolist() == [[5, 4, 3],
                                                         [2, 1, 0]]
    with pytest.raises(ValueError):
        flip_tensor(x[0], 'horizontal')
    with pytest.raises(ValueError):
        flip_tensor(x, 'sideways')


def test_mask2ndarray():

    class FakeMasks:  # anything with to_ndarray, like BitmapMasks

        def to_ndarray(self):
            return np.ones((2, 3, 3), dtype=np.uint8)

    assert mask2ndarray(FakeMasks()).shape == (2, 3, 3)
    tensor = torch.zeros(1, 4, 4, dtype=torch.bool)
    assert isinstance(mask2ndarray(tensor), np.ndarray)
    array = np.zeros((1, 2, 2))
    assert mask2ndarray(array) is array
    with pytest.raises(TypeError):
        mask2ndarray([[0, 1]])


def test_center_of_mass_coordinates_floordiv():
    mask = torch.zeros(5, 7)
    mask[1:4, 4:7] = 1  # rows 1..3, cols 4..6
    cy, cx = center_of_mass(mask)
    assert float(cy) == pytest.approx(2.0) and float(cx) == pytest.approx(5.)
    coords = generate_coordinate((2, 8, 3, 5), device='cpu')
    assert coords.shape == (2, 2, 3, 5)
    assert coords[0, 0, 0].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 1])
    assert coords[1, 1, :, 0].tolist() == pytest.approx([-1, 0, 1])
    assert floordiv(torch.tensor([-7]), 2).tolist() == [-3]
    assert floordiv(torch.tensor([-7]), 2, 'floor').tolist() == [-4]


def test_reductions_without_distributed_are_identities():
    assert not dist.is_initialized()
    t = torch.tensor([1., 2.])
    assert reduce_mean(t) is t
    out = all_reduce_dict(dict(a=t, b=torch.tensor(3)))
    assert list(out) == ['a', 'b'] and out['a'] is t
    assert sync_random_seed(123) == 123
    assert isinstance(sync_random_seed(), int)
    with pytest.raises(ValueError):
        all_reduce_dict(dict(a=t), op='max')


def _worker(rank, world_size, init_file, queue):
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    try:
        mean = reduce_mean(torch.tensor([float(rank), 10. * rank]))
        summed = all_reduce_dict(
            dict(x=torch.tensor([rank, 1]), y=torch.full((2, 2), rank)),
            op='sum')
        averaged = all_reduce_dict(dict(x=torch.tensor([rank * 2.])),
                                   op='mean')
        seed = sync_random_seed(100 + rank)
        queue.put((rank, mean.tolist(), summed['x'].tolist(),
                   summed['y'].tolist(), averaged['x'].tolist(), seed))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_reductions_across_two_processes(tmp_path):
    ctx = torch.multiprocessing.get_context('spawn')
    queue = ctx.Queue()
    init_file = os.path.join(tmp_path, 'init')
    procs = [ctx.Process(target=_worker, args=(r, 2, init_file, queue))
             for r in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for _, mean, x, y, avg, seed in results:
        assert mean == [0.5, 5.0]
        assert x == [1, 2] and y == [[1, 1], [1, 1]]
        assert avg == [1.0]
        assert seed == 100  # rank 0's
