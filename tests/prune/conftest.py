"""One torch thread per test process: pytest-xdist already runs one process per core, and more
threads than cores make every training loop spin-wait on a busy machine."""

import torch

torch.set_num_threads(1)
