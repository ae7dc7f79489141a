from .checkpoint import AtomicCheckpointHook, save_checkpoint_atomically
from .ema import BaseEMAHook, ExpMomentumEMAHook, LinearMomentumEMAHook
from .memory import CPUMemoryHook
from .nonfinite import (
    CheckInvalidLossHook,
    FiniteCheckOptimizerHook,
    NonFiniteTrainingError,
)
from .num_class_check import NumClassCheckHook
from .odconv_temperature import (
    ODConvTemperatureHook,
    annealed_temperature,
    set_temperature,
)
from .rng_state import (
    RNG_META_KEY,
    RNGStateHook,
    get_rng_state,
    preserved_rng_state,
    set_rng_state,
)
from .set_epoch_info import SetEpochInfoHook
from .yolox_hooks import (
    SyncNormHook,
    YOLOXLrUpdaterHook,
    YOLOXModeSwitchHook,
    get_norm_states,
)

__all__ = [
    'CheckInvalidLossHook',
    'BaseEMAHook',
    'ExpMomentumEMAHook',
    'LinearMomentumEMAHook',
    'SyncNormHook',
    'YOLOXLrUpdaterHook',
    'YOLOXModeSwitchHook',
    'get_norm_states',
    'AtomicCheckpointHook',
    'CPUMemoryHook',
    'FiniteCheckOptimizerHook',
    'NonFiniteTrainingError',
    'NumClassCheckHook',
    'ODConvTemperatureHook',
    'RNG_META_KEY',
    'RNGStateHook',
    'annealed_temperature',
    'get_rng_state',
    'preserved_rng_state',
    'save_checkpoint_atomically',
    'SetEpochInfoHook',
    'set_rng_state',
    'set_temperature',
]
