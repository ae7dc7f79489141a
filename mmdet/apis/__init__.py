from mmdet.utils import get_root_logger
from .builders import (
    build_test_dataset,
    build_test_detector,
    build_test_loader,
    eval_kwargs,
    load_config,
)
from .checkpoint import load_detector_checkpoint
from .entrypoints import test_from_config, train_from_config
from .inference import (
    async_inference_detector,
    inference_detector,
    init_detector,
    show_result_pyplot,
)
from .test import multi_gpu_test, single_gpu_test
from .train import (
    auto_scale_lr,
    init_random_seed,
    set_random_seed,
    train_detector,
)
from .video import detect_video

__all__ = [
    'async_inference_detector',
    'auto_scale_lr',
    'build_test_dataset',
    'build_test_detector',
    'build_test_loader',
    'detect_video',
    'eval_kwargs',
    'get_root_logger',
    'inference_detector',
    'init_detector',
    'init_random_seed',
    'load_config',
    'load_detector_checkpoint',
    'multi_gpu_test',
    'set_random_seed',
    'show_result_pyplot',
    'single_gpu_test',
    'test_from_config',
    'train_detector',
    'train_from_config',
]
