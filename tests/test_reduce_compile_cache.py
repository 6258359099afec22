"""The command line's persistent compilation cache (sweep/compile_cache.py): where it
lives, how it is disabled or moved, and that an explicit JAX_COMPILATION_CACHE_DIR
(the test suite sets one) is honoured untouched.  No test writes to ~/.cache: every
environment here is a dict or names a temporary XDG_CACHE_HOME."""
from __future__ import annotations

import subprocess

from sweep.compile_cache import CACHE_ENV, configure_compile_cache, default_cache_dir

THRESHOLDS = ("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")


def test_default_is_a_per_user_cache_dir_that_caches_every_program(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    got = configure_compile_cache(env)
    assert got == str(tmp_path / "sweep" / "jax") == env["JAX_COMPILATION_CACHE_DIR"]
    assert (tmp_path / "sweep" / "jax").is_dir()
    assert [env[k] for k in THRESHOLDS] == ["0", "0"]
    assert default_cache_dir({"HOME": "/nonexistent"}).parts[-2:] == ("sweep", "jax")


def test_an_explicit_jax_cache_dir_wins_and_is_left_alone(tmp_path):
    env = {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path),
           CACHE_ENV: str(tmp_path / "other")}
    before = dict(env)
    assert configure_compile_cache(env) == str(tmp_path / "mine")
    assert env == before  # no threshold changed, nothing created
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "other").exists()


def test_sweep_compile_cache_moves_or_disables_it(tmp_path):
    env = {CACHE_ENV: str(tmp_path / "elsewhere"), "XDG_CACHE_HOME": str(tmp_path)}
    assert configure_compile_cache(env) == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere").is_dir() and not (tmp_path / "sweep").exists()
    for off in ("0", "off", "None", "false"):
        env = {CACHE_ENV: off, "XDG_CACHE_HOME": str(tmp_path / off)}
        assert configure_compile_cache(env) is None
        assert "JAX_COMPILATION_CACHE_DIR" not in env and not (tmp_path / off).exists()


def test_a_cache_dir_that_cannot_be_made_disables_the_cache(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {CACHE_ENV: str(blocker / "sub")}
    assert configure_compile_cache(env) is None
    assert "JAX_COMPILATION_CACHE_DIR" not in env


def test_the_cli_fills_the_default_cache(tmp_path):
    """`sweep eval` without JAX_COMPILATION_CACHE_DIR writes its program under
    $XDG_CACHE_HOME/sweep/jax (one subprocess: loading entries back is JAX's part,
    measured in benchmarks/results/reduction_profile.md)."""
    from tests.toy_kernels import REPO, subprocess_env, sweep_cmd

    env = subprocess_env()
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop(CACHE_ENV, None)
    env["XDG_CACHE_HOME"] = str(tmp_path)
    cmd = sweep_cmd("eval", "coverage_oa4", "alpha2=0.8", "pi2=0.3", "phi=1.2", "gamma=0.2", "delta=0.1",
                    "lam_R=5", "b=1.05", "--json")
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"admissible": true' in proc.stdout
    cache = tmp_path / "sweep" / "jax"
    assert [p for p in cache.iterdir() if p.name.endswith("-cache")], "the command cached no program"
