"""The ``sweep`` command's re-execution with transparent huge pages (sweep/allocator.py):
when it applies, that it leaves what a user set alone, and that the command really
runs with the tunable (observed from inside the re-executed process)."""
import os
import subprocess
import sys
import textwrap

from sweep.allocator import HUGEPAGES_ENV as ENV, HUGEPAGES_TUNABLE as TUNABLE, hugepage_tunables


def test_applies_only_on_glibc_235_with_madvise_mode(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert hugepage_tunables({}, glibc=(2, 36), thp_mode="madvise") == TUNABLE
    assert hugepage_tunables({}, glibc=(2, 35), thp_mode="madvise") == TUNABLE
    assert hugepage_tunables({}, glibc=(2, 34), thp_mode="madvise") is None   # tunable unknown
    assert hugepage_tunables({}, glibc=(2, 36), thp_mode="always") is None    # already huge
    assert hugepage_tunables({}, glibc=(2, 36), thp_mode="never") is None     # cannot be
    monkeypatch.setattr(sys, "platform", "darwin")
    assert hugepage_tunables({}, glibc=(2, 36), thp_mode="madvise") is None


def test_user_settings_win_and_are_kept(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    kw = dict(glibc=(2, 36), thp_mode="madvise")
    for off in ("0", "off", "False", " no "):
        assert hugepage_tunables({ENV: off}, **kw) is None
    assert hugepage_tunables({ENV: "1"}, **kw) == TUNABLE
    # another tunable is kept, the huge-page one appended
    assert hugepage_tunables({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, **kw) == \
        "glibc.malloc.arena_max=2:" + TUNABLE
    # a user's own choice of the tunable (even "off") is left alone; so no re-exec loop
    assert hugepage_tunables({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, **kw) is None


def _environment_seen_by_the_command(tmp_path, extra_env):
    """Run ``python -m sweep kernels`` with a kernel module that records the
    process's GLIBC_TUNABLES; return what it recorded and the command's result."""
    (tmp_path / "probe_env.py").write_text(textwrap.dedent("""
        import os
        with open(os.environ["PROBE_OUT"], "w") as f:
            f.write(os.environ.get("GLIBC_TUNABLES", "<unset>"))
        KERNELS = ()
    """))
    out = tmp_path / "seen.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", ENV)}
    env.update(extra_env, PROBE_OUT=str(out), SWEEP_KERNEL_MODULES="probe_env",
               PYTHONPATH=os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-m", "sweep", "kernels"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    return out.read_text(), res


def test_the_command_runs_with_the_tunable_where_it_applies(tmp_path):
    seen, res = _environment_seen_by_the_command(tmp_path, {})
    assert res.returncode == 0, res.stderr
    assert "coverage_oa5" in res.stdout   # the command did its work after re-executing
    want = hugepage_tunables({})
    assert seen == (want if want is not None else "<unset>")


def test_switched_off_the_command_runs_unchanged(tmp_path):
    seen, res = _environment_seen_by_the_command(tmp_path, {ENV: "0"})
    assert res.returncode == 0, res.stderr
    assert seen == "<unset>"
