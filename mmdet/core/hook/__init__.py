from .memory import CPUMemoryHook
from .num_class_check import NumClassCheckHook
from .odconv_temperature import (ODConvTemperatureHook, annealed_temperature,
                                 set_temperature)

__all__ = ['CPUMemoryHook', 'NumClassCheckHook', 'ODConvTemperatureHook',
           'annealed_temperature', 'set_temperature']
