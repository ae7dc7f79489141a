from .collect_env import collect_env
from .logger import get_root_logger, print_log
from .misc import find_latest_checkpoint
from .registry import build_from_cfg, build_model_from_cfg, registered_names

__all__ = ['collect_env', 'get_root_logger', 'print_log',
           'find_latest_checkpoint', 'build_from_cfg', 'build_model_from_cfg',
           'registered_names']
