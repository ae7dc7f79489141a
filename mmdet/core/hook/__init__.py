from .checkpoint import AtomicCheckpointHook, save_checkpoint_atomically
from .memory import CPUMemoryHook
from .num_class_check import NumClassCheckHook
from .odconv_temperature import (
    ODConvTemperatureHook,
    annealed_temperature,
    set_temperature,
)

__all__ = [
    'AtomicCheckpointHook', 'CPUMemoryHook', 'NumClassCheckHook',
    'ODConvTemperatureHook', 'annealed_temperature',
    'save_checkpoint_atomically', 'set_temperature'
]
