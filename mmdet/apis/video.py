"""Detecting objects frame by frame in a video file, a stream or a camera
(what demo/video_demo.py and demo/webcam_demo.py run).

    model = init_detector(CONFIG, CHECKPOINT, device='cpu')
    detect_video(model, 'in.mp4', out_file='out.mp4', score_thr=0.3)

Frames are read with OpenCV's ``VideoCapture`` (BGR) and, drawn with the
detector's ``show_result``, written with ``VideoWriter`` at the source's
frame rate and size.
"""

import os
import os.path as osp
import warnings

import cv2
import mmcv

from mmdet.apis.inference import inference_detector

# codec per output extension; mp4v writes .mp4 with OpenCV's own encoder
FOURCC = {'.avi': 'MJPG', '.mp4': 'mp4v', '.mov': 'mp4v', '.mkv': 'mp4v'}
DEFAULT_FPS = 25.0
QUIT_KEYS = (27, ord('q'), ord('Q'))  # Esc, q
LABEL_COLOR = (200, 200, 200)  # as show_result_pyplot draws labels


def video_source(source):
    """A camera index for digits ('0' -> 0), else the path or URL as
    given."""
    if isinstance(source, str) and source.isdigit():
        return int(source)
    return source


def open_capture(source):
    """``cv2.VideoCapture`` of a file, URL or camera index; an error naming
    the source when OpenCV cannot open it."""
    source = video_source(source)
    if isinstance(source, str) and '://' not in source:
        if not osp.isfile(source):
            raise FileNotFoundError(f'video file {source!r} does not exist')
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        kind = 'camera' if isinstance(source, int) else 'video'
        raise OSError(
            f'OpenCV could not open the {kind} {source!r}'
            + (
                ' (is a camera connected and free? try another --camera-id)'
                if kind == 'camera'
                else ' (a format its video backend cannot decode?)'
            )
        )
    return capture


def open_writer(out_file, fps, width, height):
    """``cv2.VideoWriter`` for ``out_file``; the codec follows the
    extension (``FOURCC``)."""
    ext = osp.splitext(out_file)[1].lower()
    if ext not in FOURCC:
        raise ValueError(
            f'cannot write video {out_file!r}: use one of the extensions '
            f'{sorted(FOURCC)}'
        )
    mmcv.mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    writer = cv2.VideoWriter(
        out_file, cv2.VideoWriter_fourcc(*FOURCC[ext]), fps, (width, height)
    )
    if not writer.isOpened():
        raise OSError(
            f'OpenCV could not write {out_file!r} with codec {FOURCC[ext]}'
        )
    return writer


def has_display():
    return os.name == 'nt' or bool(os.environ.get('DISPLAY'))


def _display(frame, win_name, wait_time):
    """Show a frame; True when the user pressed Esc or q."""
    cv2.imshow(win_name, frame)
    key = cv2.waitKey(max(1, int(wait_time * 1000)))
    return key in QUIT_KEYS


def detect_video(
    model,
    source,
    score_thr=0.3,
    out_file=None,
    show=False,
    wait_time=1,
    win_name='video',
    max_frames=None,
    palette='coco',
):
    """Detect and draw every frame of ``source``.

    Args:
        model (nn.Module): from ``init_detector``.
        source (str | int): a video file, a stream URL or a camera index.
        score_thr (float): draw detections scoring above this.
        out_file (str, optional): write the drawn video here (.mp4, .avi).
        show (bool): show each drawn frame in a window (needs a display;
            Esc or q stops).
        wait_time (float): seconds each shown frame waits for a key.
        max_frames (int, optional): stop after this many frames.
        palette (str | tuple | list): box and mask colours, as
            ``show_result_pyplot`` takes them; labels are light grey.

    Returns:
        int: the number of frames processed.
    """
    if show and not has_display():
        warnings.warn('show: there is no display, nothing is shown')
        show = False
    capture = open_capture(source)
    writer = None
    count = 0
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            result = inference_detector(model, frame)
            drawn = model.show_result(
                frame,
                result,
                score_thr=score_thr,
                bbox_color=palette,
                text_color=LABEL_COLOR,
                mask_color=palette,
            )
            if out_file is not None:
                if writer is None:
                    fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
                    height, width = drawn.shape[:2]
                    writer = open_writer(out_file, fps, width, height)
                writer.write(drawn)
            count += 1
            if show and _display(drawn, win_name, wait_time):
                break
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    return count
