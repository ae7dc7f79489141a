from . import checkpoint_reader  # noqa: F401 (registers the reader)
from .collect_env import collect_env
from .compat_config import (
    compat_cfg,
    compat_imgs_per_gpu,
    compat_loader_args,
    compat_runner_args,
)
from .dist_launch import init_dist
from .logger import (
    get_caller_name,
    get_root_logger,
    log_img_scale,
    print_log,
)
from .memory import AvoidCUDAOOM, AvoidOOM
from .misc import (
    find_latest_checkpoint,
    remove_stale_tmp_files,
    update_data_root,
)
from .registry import build_from_cfg, build_model_from_cfg, registered_names
from .replace_cfg_vals import replace_cfg_vals
from .rfnext import rfnext_init_model
from .setup_env import setup_multi_processes
from .util_distribution import build_ddp, build_dp, get_device

__all__ = [
    'AvoidCUDAOOM',
    'AvoidOOM',
    'build_ddp',
    'build_dp',
    'build_from_cfg',
    'build_model_from_cfg',
    'collect_env',
    'compat_cfg',
    'compat_imgs_per_gpu',
    'compat_loader_args',
    'compat_runner_args',
    'find_latest_checkpoint',
    'get_device',
    'get_caller_name',
    'get_root_logger',
    'log_img_scale',
    'init_dist',
    'print_log',
    'registered_names',
    'remove_stale_tmp_files',
    'replace_cfg_vals',
    'rfnext_init_model',
    'setup_multi_processes',
    'update_data_root',
]
