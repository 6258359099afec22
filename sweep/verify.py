"""``sweep verify DIR``: check every file of a dataset, name every bad one.

Exit status: 0 every part present passes its checks and ``data/`` holds only the
sweep's parts; 1 a part or reduction partial fails its checks, or ``data/`` holds
files that are not the sweep's (each is named); 2 ``DIR`` is not a dataset this
version reads.  Missing chunks (an unfinished run) are reported, not failures,
unless ``--complete`` is given.
"""
from __future__ import annotations

import json
import time

from .errors import EXIT_RUNTIME

__all__ = ["cmd_verify", "add_parser"]


def add_parser(sub) -> None:
    v = sub.add_parser("verify", help="check a dataset's parts (checksums, chunk numbers, row counts)")
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--quick", action="store_true",
                   help="footers only (spec hash, chunk number, row count); no page or content checks")
    v.add_argument("--complete", action="store_true", help="also fail if chunks are missing")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=cmd_verify)


def cmd_verify(args) -> int:
    from .dataset import describe_problems, verify_dataset

    t0 = time.perf_counter()
    report = verify_dataset(args.dir, deep=not args.quick)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    failed = not report["ok"] or (args.complete and not report["complete"])
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_RUNTIME if failed else 0
    n_missing = report["n_chunks"] - report["chunks_done"]
    level = "footers" if args.quick else "footers, page CRCs and content checksums"
    print(f"{args.dir}: {report['chunks_done']} of {report['n_chunks']} parts pass ({level}); "
          f"{len(report['bad'])} damaged, {n_missing - len(report['bad'])} missing, "
          f"{len(report['foreign'])} foreign files in data/; "
          f"{report['partials_checked']} reduction partials checked ({report['seconds']:.2f} s)")
    if report["bad"] or report["foreign"]:
        print(describe_problems(report, limit=10**9))
        print(f"fix: re-run `sweep run {report.get('spec_source') or 'SPEC.toml'} --out {args.dir}` "
              f"(the dataset's spec): it "
              f"recomputes damaged parts and moves foreign files to _quarantine/")
    for name in report["strays"]:
        print(f"  note: {name} beside the manifest is not the sweep's (readers of data/ do not see it)")
    if args.complete and not report["complete"]:
        print(f"incomplete: {n_missing} chunks missing")
    return EXIT_RUNTIME if failed else 0
