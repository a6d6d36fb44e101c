#!/usr/bin/python3
"""PyTorch DistributedDataParallel yardstick for lamina's sync policies.

Trains the model of bench/pytorch_train.py (LeNet or ResNet-20, identical
definitions) with torch.distributed over the gloo backend, one process per
rank, the same global batch split across ranks as lamina splits it, SGD
lr 0.05 momentum 0.9. Measures:

  images_per_second        --steps timed DDP steps (after --warmup untimed ones)
                           of forward + backward (gradient allreduce, DDP's
                           buckets overlapping backward) + SGD.step;
  compute_images_per_second  the same number of steps under model.no_sync()
                           (no gradient communication at all), unless
                           --no-compute-baseline; the difference of the two
                           step times estimates DDP's exposed communication.

Rank 0 prints one JSON line {"bench":"ddp",...}. Ways to start it:

  --spawn N                N local processes on 127.0.0.1 (torch.multiprocessing)
  --rank R --world N --master HOST:PORT
                           this process is rank R (bench/slow_link.sh starts one
                           per network namespace; GLOO_SOCKET_IFNAME picks the
                           interface)

If this PyTorch lacks torch.distributed or gloo, it prints
{"bench":"ddp","unavailable":"<why>"} and exits 0, so callers report the
reason instead of failing. Run with Debian's /usr/bin/python3.
"""

import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
    from torch import nn

    import pytorch_train as common
except ImportError as missing:  # no python3-torch (or numpy): say so, do not fail
    print(json.dumps({"bench": "ddp", "framework": "pytorch",
                      "unavailable": f"{sys.executable} cannot import {missing.name} "
                                     "(apt-get install python3-torch)"}), flush=True)
    sys.exit(0)


def emit(record):
    print(json.dumps(record), flush=True)


def unavailable_reason():
    """None when torch.distributed with gloo can run here, else why not."""
    try:
        import torch.distributed as dist
    except ImportError as error:
        return f"torch.distributed cannot be imported ({error})"
    if not dist.is_available():
        return "this PyTorch build has no torch.distributed"
    if not dist.is_gloo_available():
        return "this PyTorch build has torch.distributed without the gloo backend"
    return None


def local_batch(global_batch, world, rank):
    """lamina's split: the first B mod P ranks take one sample more."""
    return global_batch // world + (1 if rank < global_batch % world else 0)


def rank_batches(images, labels, global_batch, world, rank, generator):
    """Endless global batches in a seeded order (the same on every rank, the
    generator being seeded alike); this rank's slice of each."""
    count = images.shape[0] - images.shape[0] % global_batch
    begin = sum(local_batch(global_batch, world, r) for r in range(rank))
    end = begin + local_batch(global_batch, world, rank)
    while True:
        order = torch.randperm(images.shape[0], generator=generator)[:count]
        for start in range(0, count, global_batch):
            index = order[start + begin:start + end]
            yield images[index], labels[index]


def timed_steps(model, optimizer, loss_fn, stream, steps, dist):
    """Seconds of `steps` training steps, the slowest rank's (barrier on both ends)."""
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        common.train_step(model, optimizer, loss_fn, *next(stream))
    dist.barrier()
    seconds = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    return float(seconds[0])


def run_rank(rank, args):
    import contextlib
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    host, port = args.master.rsplit(":", 1)
    dist.init_process_group("gloo", init_method=f"tcp://{host}:{port}", rank=rank,
                            world_size=args.world)
    if args.data == "fashion-mnist":
        train_set = common.load_fashion_mnist(args.data_dir, "train")
    else:
        train_set = common.synthetic_data(common.SYNTHETIC_SHAPES[args.model],
                                          args.synthetic_size, args.seed)
    model = common.MODELS[args.model](tuple(train_set[0].shape[1:]))
    parameter_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    ddp = DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss(reduction="mean")
    generator = torch.Generator().manual_seed(args.seed)
    stream = rank_batches(*train_set, args.batch, args.world, rank, generator)
    ddp.train()

    for _ in range(args.warmup):
        common.train_step(ddp, optimizer, loss_fn, *next(stream))
    ddp_seconds = timed_steps(ddp, optimizer, loss_fn, stream, args.steps, dist)
    compute_seconds = None
    if args.compute_baseline:
        with ddp.no_sync() if hasattr(ddp, "no_sync") else contextlib.nullcontext():
            compute_seconds = timed_steps(ddp, optimizer, loss_fn, stream, args.steps, dist)
    if rank == 0:
        emit(ddp_record(args, parameter_bytes, ddp_seconds, compute_seconds))
    # No destroy_process_group and no interpreter shutdown: in PyTorch 1.13
    # the gloo process group's destructor can deadlock against the GIL
    # while its store client spins on the closed socket of rank 0 (seen on
    # rank 1 over the namespace link). Every collective is done; leave now.
    # Rank 0 holds the rendezvous store: it leaves last.
    if rank == 0:
        time.sleep(0.5)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def ddp_record(args, parameter_bytes, ddp_seconds, compute_seconds):
    record = {"bench": "ddp", "framework": "pytorch", "backend": "gloo",
              "torch": torch.__version__, "model": args.model, "data": args.data,
              "ranks": args.world, "threads": args.threads, "batch": args.batch,
              "bucket_cap_mb": args.bucket_mb, "steps": args.steps, "warmup": args.warmup,
              "seconds": round(ddp_seconds, 4),
              "images_per_second": round(args.steps * args.batch / ddp_seconds, 2),
              # What a bandwidth-optimal allreduce of every gradient sends per
              # rank and step: the rule lamina's comm_bytes uses for allreduce.
              "model_bytes_per_step": round(2 * (args.world - 1) / args.world * parameter_bytes)}
    if compute_seconds is not None:
        record["compute_seconds"] = round(compute_seconds, 4)
        record["compute_images_per_second"] = round(args.steps * args.batch / compute_seconds, 2)
        record["exposed_comm_seconds_per_step"] = round(
            max(0.0, ddp_seconds - compute_seconds) / args.steps, 6)
    return record


def spawned(rank, args):
    run_rank(rank, args)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(common.MODELS), default="lenet")
    parser.add_argument("--data", choices=["fashion-mnist", "synthetic"], default="fashion-mnist")
    parser.add_argument("--data-dir", default=common.FASHION_MNIST_DIR)
    parser.add_argument("--synthetic-size", type=int, default=6400)
    parser.add_argument("--batch", type=int, default=64, help="global batch (split across ranks)")
    parser.add_argument("--threads", type=int, default=1, help="threads per rank")
    parser.add_argument("--steps", type=int, default=200, help="timed steps")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps")
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb")
    parser.add_argument("--no-compute-baseline", dest="compute_baseline", action="store_false",
                        help="skip the no_sync() run that estimates exposed communication")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spawn", type=int, metavar="N", help="start N local ranks")
    parser.add_argument("--rank", type=int)
    parser.add_argument("--world", type=int)
    parser.add_argument("--master", help="HOST:PORT of rank 0 (with --rank)")
    args = parser.parse_args(argv)
    if (args.spawn is None) == (args.rank is None):
        parser.error("give either --spawn N or --rank R --world N --master HOST:PORT")
    if args.rank is not None and (args.world is None or args.master is None):
        parser.error("--rank needs --world and --master")
    if args.spawn is not None:
        args.world = args.spawn
    if args.world < 1 or args.batch < args.world or args.steps < 1 or args.warmup < 0:
        parser.error("need world >= 1, batch >= world, steps >= 1, warmup >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        emit({"bench": "ddp", "framework": "pytorch", "model": args.model,
              "unavailable": reason})
        return
    if args.rank is not None:
        run_rank(args.rank, args)
        return
    import torch.multiprocessing as mp
    args.master = f"127.0.0.1:{free_port()}"
    mp.spawn(spawned, args=(args,), nprocs=args.spawn, join=True)


if __name__ == "__main__":
    main(sys.argv[1:])
