#include "cli/help.h"

#include "nn/model.h"
#include "train/config_schema.h"

void lmn_print_usage(FILE *out)
{
    fputs("lamina - communication-efficient deep-learning training on CPU clusters (MPI)\n"
          "\n"
          "usage: lamina COMMAND [ARGS]\n"
          "       mpirun -n RANKS lamina COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  train CONFIG [--set KEY=VALUE]... [--out DIR] [--resume FROM]\n"
          "                 train a network described by a YAML file; see 'lamina train --help'\n"
          "  fl CONFIG [--set KEY=VALUE]... [--out DIR] [--describe-partition]\n"
          "                 simulate federated learning (FedAvg, FedLAMA, FedPMA, FedProx,\n"
          "                 FedAvgM, FedAdam) over many clients; see 'lamina fl --help'\n"
          "  eval CHECKPOINT [--set KEY=VALUE]...\n"
          "                 test loss, accuracy and per-class accuracy of a checkpoint\n"
          "  export CHECKPOINT --format safetensors [--out FILE]\n"
          "                 write the weights for PyTorch (safetensors.torch.load_file)\n"
          "  data convert NAME DIR OUT.h5 [--test] [--gzip N]\n"
          "                 turn idx / CIFAR files into lamina's HDF5 layout\n"
          "  data concat OUT.h5 IN.h5... [--gzip N]\n"
          "                 join HDF5 files (datasets appended in order; parallel under mpirun)\n"
          "  simulate CONFIG --link GBPS,LATENCY_US [--ranks N,...] [--out FILE.json]\n"
          "                 predict step time, exposed communication and speedup of every\n"
          "                 strategy at 2..4096 ranks from a measured per-layer profile;\n"
          "                 see 'lamina simulate --help'\n"
          "  report RUN_DIR... --out REPORT.html\n"
          "                 one self-contained HTML page comparing runs: accuracy and loss\n"
          "                 against epoch/round, seconds and bytes; sync plans; configs\n"
          "  info           show the build: version, kernel backends, bf16 support, MPI, threads\n"
          "\n"
          "options:\n"
          "  -h, --help     this text\n"
          "  --version      print the version\n"
          "\n"
          "Run under mpirun for data-parallel training: every rank takes its share of each\n"
          "global batch and parallel.strategy decides what is synchronised per layer and\n"
          "step (allreduce, overlap, multistep, lazy, localsgd).\n",
          out);
}

void lmn_print_train_help(FILE *out)
{
    fputs("usage: lamina train CONFIG [--set KEY=VALUE]... [--out DIR] [--resume FROM]\n"
          "                    [--overwrite] [--dry-run]\n"
          "\n"
          "Trains the model of CONFIG (YAML) and reports, per epoch, loss, accuracy and\n"
          "throughput. Rank 0 writes DIR/config.yaml (the resolved configuration, every\n"
          "default filled in) and DIR/metrics.jsonl (one JSON object per epoch).\n"
          "\n"
          "options:\n"
          "  --set KEY=VALUE  override a configuration key, e.g. --set optimizer.lr=0.1,\n"
          "                   --set optimizer.milestones=[80,120]; may repeat\n"
          "  --out DIR        output directory (default: runs/<config name>)\n"
          "  --resume FROM    continue from a checkpoint: a file, a directory (its newest\n"
          "                   complete checkpoint) or 'auto' (the newest in --out, else start\n"
          "                   fresh); the run continues bit for bit on the same rank count\n"
          "  --overwrite      replace the run already in --out (its checkpoints are\n"
          "                   deleted once the new run has validated its config and data);\n"
          "                   without --resume or --overwrite a directory that holds a run\n"
          "                   (config.yaml, metrics.jsonl, checkpoints) is refused untouched\n"
          "  --dry-run        print the sync plan (per layer: parameters, what is\n"
          "                   synchronised, bytes per step) and exit without training\n"
          "  -h, --help       this text\n"
          "\n"
          "SIGTERM or SIGUSR1 (Slurm preemption) make every rank finish its step, write a\n"
          "checkpoint into --out and exit 0. Sent to Open MPI's mpirun, SIGUSR1 gives exit 0;\n"
          "SIGTERM still checkpoints on every rank, but mpirun itself then exits 1.\n"
          "\n"
          "configuration keys (default in brackets):\n",
          out);
    lmn_config_keys_print(out, LMN_KEYS_TRAIN, false);
    fputc('\n', out);
    lmn_layer_help_print(out);
    fputs("\n"
          "metrics.jsonl fields: epoch, step, lr, train_loss, train_acc, test_loss, test_acc\n"
          "(0..1; regression runs write test_mse, test_mae, test_psnr for image targets and\n"
          "baseline_psnr for super-resolution instead of train_acc and test_acc),\n"
          "seconds (this epoch, evaluation included), train_seconds, eval_seconds,\n"
          "data_wait_seconds (time steps waited for their batch),\n"
          "elapsed_seconds (since training began), images_per_second (training only),\n"
          "comm_bytes (model bytes this rank sent this epoch, bandwidth-optimal allreduce\n"
          "model: 2 (P-1)/P x gradient bytes per step), comm_seconds (inside collectives,\n"
          "any thread), exposed_comm_seconds (the compute path waiting for communication),\n"
          "strategy, wire, lazy_k or tau (the adapted interval), batch_size, ranks, threads.\n"
          "DIR/sync_plan.txt holds the per-layer plan (as --dry-run prints it).\n"
          "\n"
          "Progress: a live bar when lamina runs alone on a terminal, one line per epoch\n"
          "otherwise; LAMINA_PROGRESS=bar or LAMINA_PROGRESS=lines chooses explicitly.\n"
          "\n"
          "Exit status: 0 on success; 1 when any rank fails (the message names the rank).\n",
          out);
}

void lmn_print_fl_help(FILE *out)
{
    fputs("usage: lamina fl CONFIG [--set KEY=VALUE]... [--out DIR] [--resume FROM]\n"
          "                 [--overwrite] [--describe-partition]\n"
          "\n"
          "Simulates federated learning: K clients each own a partition of the training set;\n"
          "every round a sample of them trains locally from the server model and the server\n"
          "aggregates. Clients are data, spread over the ranks by id (client c on rank c mod P);\n"
          "a rank trains its active clients one after another, so memory grows with per-client\n"
          "state, not with K. Sums are exact (fixed-point integers), so the same config and\n"
          "seed give the same metrics on any number of ranks (with the same threads per rank).\n"
          "\n"
          "options:\n"
          "  --set KEY=VALUE       override a configuration key; may repeat\n"
          "  --out DIR             output directory (default: runs/<config name>)\n"
          "  --resume FROM         continue from a checkpoint: a file, a directory (its newest\n"
          "                        valid one) or 'auto' (--out's, fresh if none); the run\n"
          "                        continues bit for bit. SIGTERM / SIGUSR1 finish the round\n"
          "                        in progress, write a checkpoint and exit 0\n"
          "  --overwrite           replace the run already in --out (refused otherwise)\n"
          "  --describe-partition  print the partition (size and label-skew quantiles, each\n"
          "                        client's label histogram up to 32 clients), exit\n"
          "\n"
          "model, seed, threads, backend, task, train.precision, data.*, optimizer.* and\n"
          "parallel.timeout_seconds are as 'lamina train --help' lists them; optimizer.* is\n"
          "the clients' local optimizer and its schedule counts rounds (milestones in rounds).\n"
          "\n"
          "fl keys (default in brackets):\n",
          out);
    lmn_config_keys_print(out, LMN_KEYS_FL, true);
    fputs("\n"
          "metrics.jsonl, one object per round: round, test_acc, test_loss (null when not\n"
          "evaluated), train_loss (mean over active clients), lr, comm_bytes (client->server\n"
          "uploads this round: active clients x 4 bytes x the elements of every tensor\n"
          "aggregated, which is what a deployment would send), cum_comm_bytes,\n"
          "relaxed_layers (FedLAMA), active_clients, client_state_bytes, peak_rss_bytes (largest\n"
          "resident memory of any rank so far), mpi_bytes (what this\n"
          "simulation's ranks exchanged), model_checksum (FNV-1a of the server model's bits),\n"
          "seconds, elapsed_seconds.\n",
          out);
}
