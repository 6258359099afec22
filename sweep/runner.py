"""Device dispatch: the device-side inputs of a spec (axis value arrays, fixed values,
grid geometry, the factored stage outputs) and the asynchronous dispatch of its
chunks through a compiled chunk function (:mod:`sweep.compiled`).

A :class:`ChunkRunner` serves any sink: :meth:`ChunkRunner.dispatch` takes the
sink's device part and its runtime inputs, and compiles once per device part.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .allocator import retain_freed_memory
from .compiled import chunk_function, enable_x64, stage_outputs
from .grid import FLOAT_DIGITS_LIMIT, Grid, sub_strides
from .plan import factor_plan, factor_setting, lanes_per_device, pow2_ceil
from .spec import Spec

__all__ = ["Pending", "ChunkRunner", "get_runner"]


@dataclass
class Pending:
    """A dispatched chunk: device outputs not yet waited for."""

    chunk: int
    start: int
    length: int
    outputs: dict


class ChunkRunner:
    """Builds the device-side inputs of a spec and dispatches its chunks."""

    def __init__(self, spec: Spec, devices=None, factor: bool | None = None):
        """``factor``: use the kernel's :class:`~kernels.registry.Factor` (see
        :func:`~sweep.plan.factor_plan`; None decides from the grid and ``SWEEP_FACTOR``).
        :attr:`plan` is the :class:`~sweep.plan.FactorPlan` used, or None."""
        enable_x64()
        retain_freed_memory()
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

        self.spec = spec
        self.kernel = ks = spec.kernel_spec
        self.devices = tuple(devices or jax.local_devices())
        self.grid = Grid.from_spec(spec)
        ndev = len(self.devices)
        # A grid smaller than one chunk is computed at its own size: padding it to
        # the chunk size (oa5.toml: 1,048,576 for 497,664 vectors) doubled the work.
        self.per_device = lanes_per_device(ks, min(spec.chunk_size, spec.n_vectors), ndev)
        dt = np.dtype(spec.dtype)

        axis_values, structure = [], []
        for a in spec.axes:
            cat = ks.categorical(a.name)
            if cat is not None:
                tab = np.array([[cat.choices[c][t] for t in cat.targets] for c in a.values], np.float64)
                structure.append((tuple(cat.targets), True))
            else:
                tab = np.asarray(a.values, np.float64)
                structure.append(((a.name,), False))
            # Cast from the float64 spec values once, on the host: float32 runs never
            # see a float64 array.
            axis_values.append(_pad_rows(tab.astype(dt)))
        self.structure = tuple(structure)
        fixed = {k: np.asarray(v, dtype=dt) for k, v in spec.resolved_fixed().items()}
        self._fixed_names = tuple(fixed)

        self.plan = plan = factor_plan(spec, factor)
        self._stage_inputs = (axis_values, structure, fixed)
        self._layout = None
        stage = None
        if plan is not None:
            # Dispatched asynchronously: the first chunk waits for it on the device.
            stage = stage_outputs(ks, spec, plan, axis_values, structure, fixed, self.devices)
            self._layout = stage["layout"]
        self._mesh = mesh = Mesh(np.array(self.devices), ("d",))
        self._replicated = NamedSharding(mesh, P())
        geometry = (np.asarray(self.grid.sizes, np.int64), np.asarray(self.grid.strides, np.int64))
        # the chunk's last index is passed per dispatch (see dispatch)
        self._args = jax.device_put((axis_values, fixed) + geometry, self._replicated)
        self._stage_args = ()
        if stage is not None:
            substrides = np.asarray(sub_strides(self.grid.sizes, plan.positions) or (0,), np.int64)
            self._stage_args = (stage["arrays"], jax.device_put(substrides, self._replicated))
        self._fns: dict = {}
        self._rows = None

    def function(self, device_part=None):
        """The compiled chunk function for ``device_part`` (default: every output as rows)."""
        fn = self._fns.get(device_part)
        if fn is None:
            plan = self.plan
            fn, _ = chunk_function(self.kernel, self.structure, self._fixed_names, self.per_device,
                                   self.spec.dtype, self.devices,
                                   None if plan is None else plan.positions, self._layout,
                                   exact_float=self.spec.n_vectors <= FLOAT_DIGITS_LIMIT,
                                   device_part=device_part)
            self._fns[device_part] = fn
        return fn

    def put(self, extra):
        """A device part's runtime inputs, replicated on every device."""
        import jax

        return jax.device_put(extra, self._replicated)

    def recompute_stage(self) -> None:
        """Evaluate the stage table again (dispatched, not waited for).

        A run computes it once, when the runner is built; benchmarks call this so
        that a timed pass over the chunks includes the whole work of a run (the
        root-solving stage and the per-vector pass), not only the latter."""
        if self.plan is None:
            return
        axis_values, structure, fixed = self._stage_inputs
        stage = stage_outputs(self.kernel, self.spec, self.plan, axis_values, structure, fixed, self.devices)
        self._stage_args = (stage["arrays"], self._stage_args[1])

    def dispatch(self, k: int, device_part=None, extra=None) -> Pending:
        """Start computing chunk ``k`` through ``device_part`` (default: all outputs
        as rows), with its runtime inputs ``extra`` (already on the devices, see
        :meth:`put`); returns at once (JAX dispatch is asynchronous)."""
        start, length = self.spec.chunk_bounds(k)
        fn = self.function(device_part)
        # ``last`` is this chunk's last index, not the grid's: a chunk's lanes (devices ×
        # lanes per device) can outnumber its vectors, and lanes past its end must be
        # padding (masked out of reductions), not the next chunk's first vectors.
        last = np.int64(start + length - 1)
        outputs = fn(np.int64(start), *self._args, last, {} if extra is None else extra, *self._stage_args)
        return Pending(k, start, length, outputs)

    def dispatch_strided(self, device_part, extra=None) -> Pending:
        """Start computing the vectors ``0, s, 2s, ...`` (``s`` =
        ``device_part.lane_stride``), one chunk's lanes of them, through
        ``device_part``: a sample spread over the whole grid.  Lanes past the grid's
        last vector are padding."""
        fn = self.function(device_part)
        s = int(device_part.lane_stride)
        lanes = self.per_device * len(self.devices)
        outputs = fn(np.int64(0), *self._args, np.int64(self.spec.n_vectors - 1),
                     {} if extra is None else extra, *self._stage_args)
        return Pending(-1, 0, min(lanes, -(-self.spec.n_vectors // s)), outputs)

    def to_arrow(self, pending: Pending):
        """Wait for a chunk dispatched with the default device part and lay it out as
        an Arrow table of every output (trimmed)."""
        from .sinks.rows import RowsSink

        if self._rows is None:
            self._rows = RowsSink(self.spec, tuple(o.name for o in self.kernel.outputs))
        return self._rows.table(pending.start, pending.length, pending.outputs)


#: axis value tables are padded to a power of two of at least this many rows
AXIS_ROWS_MIN = 64


def _pad_rows(tab: np.ndarray) -> np.ndarray:
    """``tab`` with its last row repeated up to :data:`AXIS_ROWS_MIN` rows or the next
    power of two.  The tables' shapes key the compiled stage and chunk functions
    (the lengths themselves are runtime arguments), so padding lets grids of one
    structure whose axes differ in length (within a bucket) share executables: a
    notebook's sweeps of an expensive kernel over different grids compile it once.
    The padding rows are never read: every digit is below its axis's length."""
    n = tab.shape[0]
    rows = max(AXIS_ROWS_MIN, pow2_ceil(n))
    if rows == n:
        return tab
    return np.concatenate([tab, np.repeat(tab[-1:], rows - n, axis=0)])


_RUNNERS: dict[tuple, ChunkRunner] = {}


def get_runner(spec: Spec, factor: bool | None = None) -> ChunkRunner:
    """The process-wide runner of ``spec`` (one set of device buffers per spec and
    ``factor`` setting, see :class:`ChunkRunner`)."""
    key = (spec.hash, spec.kernel, factor_setting(factor))
    runner = _RUNNERS.get(key)
    if runner is None:
        if len(_RUNNERS) >= 4:  # a long-lived worker may see many specs: keep a few
            _RUNNERS.pop(next(iter(_RUNNERS)))
        runner = _RUNNERS[key] = ChunkRunner(spec, factor=factor)
    return runner
