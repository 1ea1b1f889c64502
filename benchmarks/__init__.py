"""simtlab's benchmark suite: the same numba.cuda kernels timed on simtlab's emulator, on numba's CUDA
simulator and against the numpy expression that computes the same result (see ``run.py``)."""
