"""PyTorch's side of bench_mlp's epoch pairs, in its own process at PyTorch's best settings.

Started by bench_mlp with OMP_NUM_THREADS set in its environment (read when torch is
imported: without it this build runs a training loop about ten times slower) and with no
OMP_WAIT_POLICY (the default, spinning, policy is PyTorch's fastest on an idle machine).
It loads the preprocessed training images, labels and the numpy run's batch order from
the .npy files named on its command line into memory, warms up, then answers every
"epoch" line on stdin with one JSON line: the wall and CPU seconds of one epoch of the
same network, initialisation scale, optimizer and batch order as the numpy side.

    python bench/_torch_mlp_side.py X.npy y.npy order.npy CONFIG_JSON
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    threads = int(os.environ["OMP_NUM_THREADS"])  # set by the parent before this import
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    X = torch.from_numpy(np.load(sys.argv[1]))
    y = torch.from_numpy(np.load(sys.argv[2]))
    order = torch.from_numpy(np.load(sys.argv[3]))
    cfg = json.loads(sys.argv[4])

    def epoch(n: int) -> tuple[float, float]:
        torch.manual_seed(cfg["seed"])
        d = X.shape[1]
        h = cfg["hidden_dim"]
        net = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, 10))
        with torch.no_grad():
            for layer in (net[0], net[2]):
                layer.weight.normal_(0, cfg["weight_scale"])
                layer.bias.zero_()
        weights = [net[0].weight, net[2].weight]
        biases = [net[0].bias, net[2].bias]
        # L2 on the weight matrices only, as the numpy training_step does.
        opt = torch.optim.SGD(
            [{"params": weights, "weight_decay": cfg["reg"]}, {"params": biases}],
            lr=cfg["learning_rate"],
            momentum=cfg["momentum"],
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        b = cfg["batch_size"]
        perm = order[:n] if n < len(order) else order
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(perm), b):
            idx = perm[i : i + b]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        return time.perf_counter() - wall, time.process_time() - cpu

    epoch(4096)  # warm-up: thread pool, allocator, kernels
    print(
        json.dumps(
            {"ready": True, "threads": torch.get_num_threads(), "version": torch.__version__}
        ),
        flush=True,
    )
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        wall, cpu = epoch(len(order))
        print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
