"""period1 throughput on a fixed random sample, for before/after comparisons.

    python benchmarks/period1_sample_throughput.py ROOT N [adm|all]

ROOT is a directory holding a ``kernels`` package (this checkout, or an older commit's
``git archive <commit> kernels | tar -x -C DIR``); ``adm`` keeps only admissible
vectors (repeated to N).  Prints compile time, the best of 3 warm runs and vectors/s,
with the load average (run the two versions back to back on the same machine).
"""
import sys, time
root, n = __import__("os").path.abspath(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, root)
import jax; jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, numpy as np
import kernels.period1 as P
assert P.__file__.startswith(root), P.__file__
rng = np.random.default_rng(5)
R = dict(alpha1=(0.45, 0.85), pi1=(0.35, 0.85), phi=(0.3, 2.5), gamma=(0.05, 0.4), delta=(0.03, 0.6),
         lam_R=(2.0, 20.0), beta=(0.8, 1.0), b=(1.02, 1.5))
p = {k: rng.uniform(a, b, n) for k, (a, b) in R.items()}
p["alpha2"] = p["alpha1"] + rng.uniform(0, 0.3, n) * (1 - p["alpha1"])
p["pi2"] = p["pi1"] * rng.uniform(0.3, 1.0, n)
p["eta"] = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
p["s1"] = rng.uniform(0.0, 1.0, n) * p["alpha1"]
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__))))
from tests.reference_bruteforce import admissible
keep = [i for i in range(n) if admissible({k: float(p[k][i]) for k in p})]
mode = sys.argv[3] if len(sys.argv) > 3 else "all"
if mode == "adm":
    idx = np.resize(np.array(keep), n)          # admissible vectors only, repeated to n
    p = {k: v[idx] for k, v in p.items()}
args = {k: jnp.asarray(v) for k, v in p.items()}
t = time.time(); f = jax.jit(P.period1).lower(args).compile(); tc = time.time() - t
out = f(args); jax.block_until_ready(out)
ts = []
for _ in range(3):
    t = time.time(); jax.block_until_ready(f(args)); ts.append(time.time() - t)
import os
print(f"{root}: compile {tc:.1f} s, run {min(ts):.3f} s for {n} vectors = {n / min(ts):.0f} vectors/s "
      f"[{mode}, {len(keep)} admissible of {n}] (load {os.getloadavg()[0]:.1f}); alt rows {int(np.asarray(out['terminal_alternative']).sum()) if 'terminal_alternative' in out else '-'}; asym rows {int(np.asarray(out['asym_eq']).sum())}")
