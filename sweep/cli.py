"""The ``sweep`` command line.

    sweep run SPEC.toml --out DIR [--chunk-size N] [--dtype float32|float64]
              [--shard I/N] [--executor local|dask] [--dask-address tcp://HOST:PORT]
              [--dask-workers N] [--overwrite] [--no-progress] [--json]
    sweep eval KERNEL key=value ... [--dtype ...] [--json]
    sweep kernels [NAME ...] [--json]
    sweep summarize DIR --table {oa3,oa4,oa5} [--json]
    sweep verify DIR [--quick] [--complete] [--json]
    sweep --version
    sweep reproduce {oa3,oa4,oa5,all} [--points-per-axis K] [--out DIR] [--json] [--no-progress]
    sweep bench ...

Exit status: 0 success; 2 bad input or usage (the message on stderr says what and
where, and nothing is written); 1 a failure at run time (the message says what,
and what was kept).  With ``--json`` stdout carries exactly one JSON document
(non-finite floats: NaN as null, infinities as the strings "inf"/"-inf").

Environment: ``SWEEP_KERNEL_MODULES`` — comma-separated modules imported before
kernels are looked up; the kernels each lists in ``KERNELS`` can be swept (see
:mod:`sweep.kernel_modules`).  ``SWEEP_COMPILE_CACHE`` — where compiled programs are
kept between commands (default ``~/.cache/sweep/jax``; ``0`` disables it; an explicit
``JAX_COMPILATION_CACHE_DIR`` wins), see :mod:`sweep.compile_cache`.
``SWEEP_HUGEPAGES=0`` — do not re-execute with transparent huge pages for ``malloc``
(on by default where glibc and the kernel support it), see :mod:`sweep.allocator`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .compile_cache import configure_compile_cache
from .allocator import reexec_with_hugepages
from .devices import expose_cpu_devices
from .errors import EXIT_RUNTIME, EXIT_USAGE, SweepError
from .jsonout import print_json as _print_json
from .kernel_modules import load_kernel_modules

__all__ = ["main", "build_parser"]


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not >= 1")
    return n


def _shard(text: str):
    from .engine import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------
# handlers


def cmd_run(args) -> int:
    from .spec import load_spec

    spec = load_spec(args.spec)  # first: a spec too large to hold is refused before JAX loads
    from .engine import run

    result = run(spec, args.out, overwrite=args.overwrite,
                 progress=False if args.no_progress else None, shard=args.shard,
                 chunk_size=args.chunk_size, dtype=args.dtype, executor=_executor(args),
                 outputs=_outputs(args.outputs, spec))
    if args.json:
        _print_json(result.to_dict())
    else:
        if result.repaired:
            print(f"repaired {len(result.repaired)} damaged part(s): chunks "
                  f"{', '.join(map(str, list(result.repaired)[:20]))}")
        if result.quarantined:
            print(f"moved {len(result.quarantined)} file(s) that are not the sweep's out of "
                  f"{result.out_dir}/data to {result.out_dir}/_quarantine")
        state = "complete" if result.complete else (
            f"{result.chunks_done_total} of {result.n_chunks} chunks done")
        print(f"{result.kernel}: computed {result.vectors_computed} vectors in "
              f"{result.chunks_computed} chunks ({result.chunks_skipped} already done) in "
              f"{result.seconds:.2f} s on {result.device}; {result.out_dir}: {state}")
    return 0


def _outputs(text, spec):
    """``--outputs a,b,c`` → the names (validated with the spec; exit 2 naming the bad one)."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    known = spec.kernel_spec.output_names
    for n in names:
        if n not in known:
            raise SweepUsage(f"--outputs: unknown output {n!r} of kernel {spec.kernel!r}; "
                             f"expected names among {', '.join(known)}")
    if not names:
        raise SweepUsage("--outputs: empty; expected a comma-separated list of output names")
    return names


def _executor(args):
    """``--executor NAME`` with its options (only ``dask`` has any): a name or an executor."""
    opts = {}
    if getattr(args, "dask_address", None) is not None:
        opts["address"] = args.dask_address
    if getattr(args, "dask_workers", None) is not None:
        opts["n_workers"] = args.dask_workers
    if args.executor == "dask":
        # The computing happens in the Dask workers: this process must not take
        # most of a GPU's memory up front (read when JAX starts, i.e. in run()).
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if not opts:
        return args.executor
    if args.executor != "dask":
        raise SweepUsage("--dask-address/--dask-workers: need --executor dask")
    from .executors import get_executor

    return get_executor("dask", **opts)


def _assignments(texts, categoricals) -> dict:
    """``key=value`` arguments as a dict; a key given twice is a usage error."""
    out: dict = {}
    for text in texts:
        key, value = _parse_assignment(text, categoricals)
        if key in out:
            raise SweepUsage(f"eval: {key} is given twice ({key}={out[key]!r} and {text!r}); "
                             f"expected each parameter once")
        out[key] = value
    return out


def _parse_assignment(text: str, categoricals) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepUsage(f"eval: {text!r}: expected key=value")
    if key in categoricals:
        return key, value
    try:
        return key, float(value)
    except ValueError:
        return key, value  # validation reports "expected a number" with the key


class SweepUsage(SweepError):
    exit_status = EXIT_USAGE


def cmd_eval(args) -> int:
    from .engine import evaluate
    from .spec import _is_registered, lookup_kernel, parse_spec

    if not _is_registered(args.kernel):
        # Same message as a spec's unknown kernel.
        parse_spec({"kernel": args.kernel}, source="<command line>")
    cats = {c.name for c in lookup_kernel(args.kernel).categoricals}
    values = _assignments(args.assignments, cats)
    doc = evaluate(args.kernel, values, dtype=args.dtype)
    if args.json:
        _print_json(doc)
        return 0
    print(f"{doc['kernel']} ({doc['dtype']})")
    for k, v in doc["categoricals"].items():
        print(f"  {k} = {v}")
    for k, v in doc["params"].items():
        print(f"  {k} = {v!r}")
    width = max((len(k) for k in doc["outputs"]), default=0)
    print("outputs:")
    for k, v in doc["outputs"].items():
        print(f"  {k:<{width}} = {v!r}")
    return 0


def status_codes_doc() -> list[dict]:
    """The root-solve status codes (values of every ``status_*`` column)."""
    from kernels.status import Status

    return [{"code": int(s), "name": s.name, "message": s.message} for s in Status]


def kernels_doc(names=None) -> list[dict]:
    """The kernels ``names`` (default: all) as plain data (what ``sweep kernels
    --json`` prints).  An unknown name is a usage error."""
    from kernels.catalog import get_kernel, kernel_names

    known = kernel_names()
    unknown = [n for n in (names or ()) if n not in known]
    if unknown:
        raise SweepUsage(f"kernels: unknown kernel {unknown[0]!r}; one of {', '.join(known)}")
    out = []
    for name in (names or known):
        ks = get_kernel(name)
        has_status = any(o.kind == "int8" and o.name.startswith("status_") for o in ks.outputs)
        out.append({
            "name": name,
            "description": ks.description,
            "params": [{"name": p.name, "domain": str(p.domain), "default": p.default,
                        "required": p.default is None, "doc": p.doc} for p in ks.params],
            "categoricals": [{"name": c.name, "default": c.default, "targets": list(c.targets),
                              "choices": list(c.choices), "doc": c.doc} for c in ks.categoricals],
            "outputs": [{"name": o.name, "kind": o.kind, "doc": o.doc} for o in ks.outputs],
            "status_codes": status_codes_doc() if has_status else [],
        })
    return out


def cmd_kernels(args) -> int:
    doc = kernels_doc(args.names)
    if args.json:
        _print_json(doc)
        return 0
    for k in doc:
        print(f"{k['name']}: {k['description']}")
        print("  parameters:")
        for p in k["params"]:
            dflt = "required" if p["required"] else f"default {p['default']:g}"
            print(f"    {p['name']:<14} {p['domain']:<12} {dflt:<14} {p['doc']}")
        for c in k["categoricals"]:
            print(f"  categorical {c['name']} (default {c['default']!r}; sets "
                  f"{', '.join(c['targets'])}): {c['doc']}")
            print("    choices: " + ", ".join(c["choices"]))
        print("  outputs:")
        for o in k["outputs"]:
            print(f"    {o['name']:<22} {o['kind']:<6} {o['doc']}")
        if k["status_codes"]:
            print("  status codes (int8 values of the status_* columns):")
            for c in k["status_codes"]:
                print(f"    {c['code']}  {c['name']:<15} {c['message']}")
        print()
    return 0


def _delegate(module: str, func: str):
    def handler(args) -> int:
        # Imported lazily: these modules are optional extras of the engine.
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            print(f"sweep: error: {module} is not available in this installation", file=sys.stderr)
            return EXIT_RUNTIME
        return int(getattr(mod, func)(args))

    return handler


# ---------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="sweep", description="Parameter sweeps of the skill-investment model.")
    p.add_argument("--version", action="version", version=f"sweep (skillsweep) {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a spec into an output directory (resumes)")
    r.add_argument("spec", metavar="SPEC.toml")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--chunk-size", type=_positive_int, metavar="N", help="override the spec's chunk_size")
    r.add_argument("--dtype", choices=("float64", "float32"), help="override the spec's dtype")
    r.add_argument("--shard", type=_shard, metavar="I/N",
                   help="run only chunks k with k %% N == I-1 (I is 1-based, e.g. $SLURM_ARRAY_TASK_ID)")
    r.add_argument("--executor", default="local", help="local (default), dask, or an installed executor")
    r.add_argument("--dask-address", metavar="tcp://HOST:PORT",
                   help="with --executor dask: a running scheduler (default: start a LocalCluster)")
    r.add_argument("--dask-workers", type=_positive_int, metavar="N",
                   help="with --executor dask: LocalCluster worker processes (default: one per core), "
                        "or with --dask-address: wait for N workers before starting")
    r.add_argument("--outputs", metavar="A,B,...",
                   help="write only these outputs as rows (with index and the axes); overrides the spec's")
    r.add_argument("--overwrite", action="store_true", help="replace a different sweep in DIR")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--json", action="store_true", help="print the run summary as JSON")
    r.set_defaults(handler=cmd_run)

    e = sub.add_parser("eval", help="all outputs of a kernel at one parameter vector")
    e.add_argument("kernel", metavar="KERNEL")
    e.add_argument("assignments", nargs="*", metavar="key=value")
    e.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=cmd_eval)

    k = sub.add_parser("kernels", help="list kernels: parameters, outputs and status codes")
    k.add_argument("names", nargs="*", metavar="NAME", help="only these kernels (default: all)")
    k.add_argument("--json", action="store_true")
    k.set_defaults(handler=cmd_kernels)

    s = sub.add_parser("summarize", help="a paper table from a sweep directory")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--table", required=True, choices=("oa3", "oa4", "oa5"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_delegate("sweep.tables", "cmd_summarize"))

    from .verify import add_parser as add_verify

    add_verify(sub)

    rp = sub.add_parser("reproduce", help="recompute the paper's tables and compare")
    rp.add_argument("table", choices=("oa3", "oa4", "oa5", "all"))
    rp.add_argument("--points-per-axis", type=_positive_int, metavar="K")
    rp.add_argument("--out", metavar="DIR")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--no-progress", action="store_true")
    rp.add_argument("--rows", action="store_true",
                    help="also keep the rows (Parquet parts) of the OA4/OA5 grid; default: only the reductions")
    rp.add_argument("--from-rows", action="store_true",
                    help="compute OA4/OA5 from rows with SQL instead of on-device reductions")
    rp.add_argument("--dtype", choices=("float64", "float32"), default=None,
                    help="run the paper grids in this dtype (default: the specs' float64)")
    rp.set_defaults(handler=_delegate("sweep.reproduce", "cmd_reproduce"))

    b = sub.add_parser("bench", help="throughput benchmark (arguments: see sweep.bench)", add_help=False)
    b.add_argument("argv", nargs=argparse.REMAINDER, help="passed to sweep.bench as args.argv")
    b.set_defaults(handler=_delegate("sweep.bench", "cmd_bench"))
    return p


def main(argv=None) -> int:
    expose_cpu_devices()   # one JAX device per core, before JAX starts
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:
            # sweep.bench parses its own options: hand it everything after "bench"
            # (argparse.REMAINDER would reject a leading --option).
            args = argparse.Namespace(command="bench", argv=argv[1:],
                                      handler=_delegate("sweep.bench", "cmd_bench"))
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return int(exc.code or 0)
    if getattr(args, "command", None) != "bench":  # bench measures compiles itself
        configure_compile_cache()   # before JAX starts: later commands skip compiles
    try:
        load_kernel_modules()   # SWEEP_KERNEL_MODULES
        return int(args.handler(args))
    except SweepError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("sweep: interrupted", file=sys.stderr)
        return EXIT_RUNTIME
    except BrokenPipeError:  # e.g. `sweep kernels | head`: the reader went away, not an error
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - a run-time failure, reported, not a traceback
        print(f"sweep: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME


def entry() -> int:
    """The ``sweep`` command (console script and ``python -m sweep``): :func:`main`,
    in a process re-executed once with huge pages for ``malloc`` where that helps
    (:mod:`sweep.allocator`).  Tests call :func:`main` and never re-execute."""
    reexec_with_hugepages(sys.argv[1:])
    return main()


if __name__ == "__main__":
    sys.exit(entry())
