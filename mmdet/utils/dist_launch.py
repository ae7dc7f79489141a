"""Start torch.distributed from a launcher's environment variables.

Like mmcv's ``init_dist`` but the backend follows the hardware: NCCL when
GPUs are visible, Gloo on a CPU-only machine (mmcv's version divides by the
GPU count and fails there).
"""

import os
import subprocess

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def default_backend():
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def init_dist(launcher, backend=None, **kwargs):
    """Initialise the default process group for ``launcher``.

    Args:
        launcher (str): 'pytorch' (torchrun / torch.distributed.launch: RANK,
            LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), 'slurm'
            (srun: SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST) or 'mpi'.
        backend (str, optional): forced backend; by default NCCL with GPUs,
            Gloo without. NCCL asked for on a machine without GPUs falls back
            to Gloo.
        kwargs: ``port`` for slurm; the rest goes to ``init_process_group``.
    """
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')
    if backend is None or (
        backend == 'nccl' and not torch.cuda.is_available()
    ):
        backend = default_backend()
    if launcher == 'pytorch':
        local_rank = int(os.environ.get('LOCAL_RANK', os.environ['RANK']))
    elif launcher == 'slurm':
        local_rank = _slurm_env(kwargs.pop('port', None))
    elif launcher == 'mpi':
        local_rank = _mpi_env()
    else:
        raise ValueError(
            f"launcher must be 'pytorch', 'slurm' or 'mpi', got {launcher!r}"
        )
    if backend == 'nccl':
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, **kwargs)


def _slurm_env(port):
    """Translate srun's variables into torch.distributed's; local rank."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    num_gpus = max(torch.cuda.device_count(), 1)
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1'
        )
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['LOCAL_RANK'] = str(proc_id % num_gpus)
    os.environ['RANK'] = str(proc_id)
    return proc_id % num_gpus


def _mpi_env():
    """Translate Open MPI's variables into torch.distributed's; local rank."""
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('MASTER_ADDR must be set to launch with MPI')
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    return int(os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
