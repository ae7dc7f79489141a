"""The three demos (demo/image_demo.py, video_demo.py, webcam_demo.py) run
as their documented command lines on a micro Mask R-CNN with random
weights, on the checked-in demo/demo.jpg and on a short video this test
writes with OpenCV."""

import os.path as osp
import runpy
import sys

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmcv.runner import save_checkpoint

from mmdet.apis import detect_video, init_detector
from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)
DEMO = osp.join(ROOT, 'demo')
SIZE = (96, 72)  # width, height of the test video's frames


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    model = init_detector(CONFIG, device='cpu')
    model.CLASSES = TINY_COCO_CLASSES
    return model


@pytest.fixture(scope='module')
def checkpoint(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'micro.pth')
    save_checkpoint(model, path, meta=dict(CLASSES=model.CLASSES))
    return path


def write_video(path, frames, fourcc, fps=5):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, SIZE)
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_video(path):
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.fixture(scope='module')
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=1, num_val=4, size=96)
    return [
        cv2.resize(mmcv.imread(str(root / 'val' / f'{i:06d}.jpg')), SIZE)
        for i in range(1, 5)
    ]


@pytest.fixture(scope='module')
def video(frames, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('video') / 'in.mp4')
    write_video(path, frames, 'mp4v')
    return path


def run_demo(script, args, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [script] + args)
    runpy.run_path(osp.join(DEMO, script), run_name='__main__')


def test_image_demo_on_the_checked_in_image(
    checkpoint, tmp_path, monkeypatch, capsys
):
    image = osp.join(DEMO, 'demo.jpg')
    out = str(tmp_path / 'result.jpg')
    run_demo(
        'image_demo.py',
        [image, CONFIG, checkpoint, '--device', 'cpu', '--score-thr', '0']
        + ['--out-file', out],
        monkeypatch,
    )
    assert out in capsys.readouterr().out
    drawn, original = mmcv.imread(out), mmcv.imread(image)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).max() > 60


@pytest.mark.parametrize('ext', ['.mp4', '.avi'])
def test_video_demo_writes_an_annotated_video(
    video, frames, checkpoint, tmp_path, monkeypatch, capsys, ext
):
    out = str(tmp_path / f'out{ext}')
    run_demo(
        'video_demo.py',
        [video, CONFIG, checkpoint, '--device', 'cpu', '--score-thr', '0']
        + ['--out', out],
        monkeypatch,
    )
    assert f'4 frames drawn to {out}' in capsys.readouterr().out
    written, fps = read_video(out)
    assert len(written) == len(frames) and fps == pytest.approx(5)
    for frame, original in zip(written, frames):
        assert frame.shape == original.shape
        # more than codec noise: boxes and labels drawn on every frame
        assert np.abs(frame.astype(int) - original).max() > 100


def test_video_demo_needs_an_output(video, checkpoint, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        run_demo('video_demo.py', [video, CONFIG, checkpoint], monkeypatch)
    assert exit_info.value.code == 2


def test_webcam_demo_reads_a_camera_or_a_video(
    video, checkpoint, monkeypatch, capsys
):
    monkeypatch.delenv('DISPLAY', raising=False)
    with pytest.warns(UserWarning, match='no display'):
        run_demo(
            'webcam_demo.py',
            [CONFIG, checkpoint, '--device', 'cpu', '--camera-id', video],
            monkeypatch,
        )
    assert '4 frames' in capsys.readouterr().out


def test_detect_video_stops_and_reports(model, video, tmp_path):
    out = str(tmp_path / 'two.avi')
    assert detect_video(model, video, out_file=out, max_frames=2) == 2
    assert len(read_video(out)[0]) == 2
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        detect_video(model, str(tmp_path / 'missing.mp4'))
    with pytest.raises(ValueError, match='extensions'):
        detect_video(model, video, out_file=str(tmp_path / 'x.gif'))


@pytest.fixture(scope='module')
def onnx_file(model, tmp_path_factory):
    pytest.importorskip('onnxruntime', reason='needs the deploy extra')
    from mmdet.apis.deployment import load_test_image
    from mmdet.core.export.pytorch2onnx import export_onnx

    path = str(tmp_path_factory.mktemp('onnx') / 'micro.onnx')
    img, meta = load_test_image(model.cfg, osp.join(DEMO, 'demo.jpg'))
    export_onnx(model, img, meta, path, dynamic_export=True)
    return path


def _flat(result):
    boxes = result[0] if isinstance(result, tuple) else result
    return np.concatenate(boxes), [len(b) for b in boxes]


def test_onnxruntime_backend_detects_as_pytorch(model, onnx_file):
    """init_backend_detector(..., 'onnxruntime') gives a model without
    PyTorch weights whose inference_detector results (class names from the
    file) are PyTorch's."""
    from mmdet.apis import inference_detector
    from mmdet.apis.deployment import init_backend_detector

    ort_model = init_backend_detector(CONFIG, onnx_file, 'onnxruntime')
    assert not list(ort_model.parameters())
    assert tuple(ort_model.CLASSES) == tuple(TINY_COCO_CLASSES)
    image = osp.join(DEMO, 'demo.jpg')
    (ort_boxes, ort_counts), (pt_boxes, pt_counts) = (
        _flat(inference_detector(m, image)) for m in (ort_model, model)
    )
    assert ort_counts == pt_counts and sum(pt_counts) > 0
    order = np.lexsort(pt_boxes.T[::-1])
    np.testing.assert_allclose(
        ort_boxes[np.lexsort(ort_boxes.T[::-1])], pt_boxes[order], atol=0.01
    )


def test_image_demo_runs_an_onnx_file(
    onnx_file, tmp_path, monkeypatch, capsys
):
    image = osp.join(DEMO, 'demo.jpg')
    out = str(tmp_path / 'ort.jpg')
    run_demo(
        'image_demo.py',
        [image, CONFIG, onnx_file, '--backend', 'onnxruntime']
        + ['--score-thr', '0', '--out-file', out],
        monkeypatch,
    )
    assert out in capsys.readouterr().out
    drawn, original = mmcv.imread(out), mmcv.imread(image)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).max() > 60


def test_video_demo_runs_an_onnx_file(
    video, frames, onnx_file, tmp_path, monkeypatch, capsys
):
    out = str(tmp_path / 'ort.avi')
    run_demo(
        'video_demo.py',
        [video, CONFIG, onnx_file, '--backend', 'onnxruntime']
        + ['--score-thr', '0', '--out', out],
        monkeypatch,
    )
    assert f'4 frames drawn to {out}' in capsys.readouterr().out
    assert len(read_video(out)[0]) == len(frames)


def test_missing_onnx_file_names_the_export_command(tmp_path):
    from mmdet.apis.deployment import init_backend_detector

    with pytest.raises(FileNotFoundError, match='pytorch2onnx.py'):
        init_backend_detector(CONFIG, str(tmp_path / 'x.onnx'), 'onnxruntime')
