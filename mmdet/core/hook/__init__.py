from .memory import CPUMemoryHook
from .nonfinite import FiniteCheckOptimizerHook, NonFiniteTrainingError
from .num_class_check import NumClassCheckHook
from .odconv_temperature import (ODConvTemperatureHook, annealed_temperature,
                                 set_temperature)

__all__ = [
    'CPUMemoryHook', 'FiniteCheckOptimizerHook', 'NonFiniteTrainingError',
    'NumClassCheckHook', 'ODConvTemperatureHook', 'annealed_temperature',
    'set_temperature'
]
