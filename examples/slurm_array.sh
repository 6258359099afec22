#!/bin/bash
# One sweep as a SLURM job array: N tasks, each runs one shard of the chunks into
# the same output directory (on a shared filesystem).  Shards are 1-based and
# disjoint, their union is every chunk, and part files are written atomically, so
# the tasks need no coordination; resubmitting the script (or one failed task:
# `sbatch --array=7 ...`) computes only the chunks that are missing.
#
#   sbatch examples/slurm_array.sh spec.toml /scratch/$USER/sweep-out
#
# Afterwards `sweep run spec.toml --out /scratch/$USER/sweep-out --json` (no --shard)
# computes whatever is still missing, or nothing ("chunks_computed": 0, "complete": true).
#
# Adjust the array size (N below and in --array), the partition, the time limit and
# the environment to your cluster.  For GPUs request one per task (--gres=gpu:1):
# each task then shards its chunks over the GPUs it sees.
#SBATCH --job-name=sweep
#SBATCH --array=1-16
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=02:00:00
#SBATCH --output=sweep-%A_%a.log

set -euo pipefail

SPEC=${1:?usage: sbatch slurm_array.sh SPEC.toml OUT_DIR}
OUT=${2:?usage: sbatch slurm_array.sh SPEC.toml OUT_DIR}
N=16   # the number of shards: the N of --array=1-N above.  Keep it when resubmitting
       # only some tasks (sbatch --array=3,7 ...): shard I/N must mean the same chunks.

# source ~/venvs/skillsweep/bin/activate   # or: module load python; conda activate ...

# sweep exposes one XLA CPU device per core this task may use (its CPU affinity,
# i.e. --cpus-per-task), so a chunk is spread over all of them; no XLA_FLAGS needed.

srun sweep run "$SPEC" --out "$OUT" --shard "${SLURM_ARRAY_TASK_ID}/${N}" --no-progress
