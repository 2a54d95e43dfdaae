"""Run independent tasks in order-preserving parallel: in-process, in a local process pool, or on Ray.

One entry point, :func:`run_tasks`, serves every tool whose work splits into independent pieces
(``conformance run`` over cases, ``compare --inputs DIR`` and ``qerror --inputs DIR`` over input cases)::

    results = run_tasks(function, items, jobs=4)                        # local process pool
    results = run_tasks(function, items, executor="ray", address="auto")  # an existing Ray cluster

``results[i]`` is ``function(items[i])`` whatever the executor and whatever order the tasks finished in, so a
tool's report is the same bytes (apart from timings) for every executor and every ``jobs``.

Executors
---------
``local``, ``jobs == 1``
    Serial, in this process: no pickling, tracebacks as usual, the default.
``local``, ``jobs > 1``
    A :class:`concurrent.futures.ProcessPoolExecutor` of ``jobs`` processes started with the ``spawn`` method.
    Not ``fork``: the parent may already run numba's threading layer (the fast kernels are
    ``parallel=True``) and LiteRT interpreters with their own threads; forking a process while other threads
    hold locks gives children that can deadlock, and Python 3.12+ warns about it. ``spawn`` rather than
    ``forkserver`` because it exists on every platform (Linux, macOS, Windows) and behaves the same on each;
    its cost, each worker importing numpy/numba/refinterp once (about a second; numba's compiled kernels
    come from its on-disk cache), is paid once per worker, not per task. Each worker limits numba and the
    BLAS/OpenMP pools to one thread, so ``jobs`` processes use ``jobs`` cores rather than ``jobs`` x cores.
``ray``
    Ray tasks (``ray.remote``, one CPU each). With ``address`` (``"auto"``, ``"ray://host:10001"``, ...)
    it joins that cluster; otherwise it uses the Ray instance this process already initialised, or starts a
    local one with ``num_cpus=jobs``. A Ray instance started here is shut down before returning. The nodes
    of a cluster need refinterp importable (installed, or shipped with a Ray ``runtime_env``); the items
    travel through Ray's object store, so give tasks bytes and arrays, or paths on storage every node sees,
    never open files. A task runs in the caller's working directory when its machine has that directory
    (always on a local instance), so relative paths mean what they mean to the caller. Ray is an optional
    extra: ``pip install 'refinterp[ray]'``.

Failures
--------
An exception raised inside ``function`` is that task's failure; it comes back as the *same exception class*
the task raised (a RefinterpError subclass stays one, so the CLI still prints it as one line), with the
worker's formatted traceback in its ``remote_traceback`` attribute (``""`` for the serial executor, whose
exceptions keep their real traceback). An exception that cannot be pickled comes back as :class:`TaskError`
naming its class and message. A worker process that dies (a segfault in a native library, ``os._exit``)
fails its tasks with :class:`WorkerCrashedError`; in a process pool the whole pool breaks, so every task that
had not finished fails with it: code that may crash its process (a runtime under test) belongs in a
subprocess of its own.

* ``return_exceptions=False`` (default): the failure of the first failing item, in item order, is re-raised
  in the caller, as the serial executor (which stops there) would: once a task fails, the tasks after it are
  cancelled and the ones before it still run to completion (one of them may fail first).
* ``return_exceptions=True``: every task runs; a failed task's slot in the result list holds its exception
  instance (test with ``isinstance(result, BaseException)``), so a runner can report per-task errors.

``KeyboardInterrupt`` and ``SystemExit`` are never captured as a task's failure.
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numba
from threadpoolctl import threadpool_limits

from refinterp.errors import InputError, RefinterpError

EXECUTORS = ("local", "ray")
#: the start method of the local process pool (see the module docstring for why not fork)
START_METHOD = "spawn"
RAY_INSTALL_HINT = "pip install 'refinterp[ray]'"


class ExecutorUnavailableError(RefinterpError):
    """The requested executor cannot run here (Ray not installed, or the cluster cannot be reached)."""


class TaskError(RefinterpError):
    """A task raised an exception that could not be sent back from its worker (not picklable)."""


class WorkerCrashedError(RefinterpError):
    """The worker process running a task died (a crash in native code, a kill, os._exit)."""


ProgressCallback = Callable[[int, int], None]
#: ``on_result(index, result)``: in the calling process, as each task finishes (the exception if it raised)
ResultCallback = Callable[[int, Any], None]
_Notify = Callable[[int, Any, int], None]


def run_tasks(function: Callable[[Any], Any], items: Iterable[Any], *, jobs: int = 1, executor: str = "local",
              address: str | None = None, progress: ProgressCallback | None = None,
              return_exceptions: bool = False, on_result: ResultCallback | None = None) -> list[Any]:
    """``[function(item) for item in items]``, run by ``executor`` on ``jobs`` workers, in the order of ``items``.

    ``function`` must be picklable (a module-level function, or a ``functools.partial`` of one) when
    ``jobs > 1`` or ``executor == "ray"``, and so must the items and the results. ``progress(done, total)``
    is called in this process with ``done == 0`` before anything runs and after every finished task (tasks
    finish in any order; ``done`` only counts); ``on_result(index, result)`` before it, with the item's index
    and its result (the exception when it raised). Failures: see the module docstring (``return_exceptions``).
    ``address`` (Ray only) is the cluster to join; ``jobs`` is then ignored (the cluster's CPUs decide).
    """
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a whole number >= 1, not {jobs!r}")
    if address is not None and executor != "ray":
        raise InputError("an executor address only applies to --executor ray")
    items = list(items)
    if progress is not None:
        progress(0, len(items))

    def notify(index: int, result: Any, done: int) -> None:
        if on_result is not None:
            on_result(index, result)
        if progress is not None:
            progress(done, len(items))

    if executor == "ray":
        return _run_ray(function, items, jobs, address, notify, return_exceptions)
    if jobs == 1 or len(items) <= 1:
        return _run_serial(function, items, notify, return_exceptions)
    return _run_pool(function, items, min(jobs, len(items)), notify, return_exceptions)


def add_executor_arguments(parser: Any) -> None:
    """Add ``-j/--jobs``, ``--executor`` and ``--address`` to an argparse parser (shared by the tools)."""
    # each help fits one 54-column line of --help in an 80-column terminal
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="input cases on N processes (default 1: serial)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local processes or a Ray cluster (refinterp[ray])")
    parser.add_argument("--address", default=None, metavar="ADDR",
                        help="Ray cluster to join (default: start a local one)")


def check_executor_arguments(args: Any) -> None:
    """One-line InputError for a bad combination of the options :func:`add_executor_arguments` adds."""
    if args.jobs < 1:
        raise InputError(f"-j/--jobs must be >= 1, not {args.jobs}")
    if args.address is not None and args.executor != "ray":
        raise InputError("--address needs --executor ray")


# --------------------------------------------------------------------------------------------------
# In a worker: run one task and turn its exception into something that survives pickling


class _Failure:
    """What a worker sends back when its task raised: the exception (or a TaskError) and the traceback text."""

    def __init__(self, exception: BaseException, traceback_text: str):
        self.exception = exception
        self.traceback_text = traceback_text


def _picklable(exception: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exception))
        return exception
    except Exception:
        return TaskError(f"{type(exception).__name__}: {exception}")


def _call(function: Callable[[Any], Any], item: Any) -> Any:
    """Run one task in a worker; an exception becomes a :class:`_Failure` (a normal return value)."""
    try:
        return function(item)
    except Exception as exc:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        exc.__traceback__ = None
        return _Failure(_picklable(exc), text)


def _limit_threads() -> None:
    """One numba/BLAS/OpenMP thread in this worker process: the workers are the parallelism."""
    numba.set_num_threads(1)
    try:
        threadpool_limits(1)
    except Exception:  # a native library threadpoolctl cannot handle just keeps its threads
        pass


_threads_limited = False


def _call_in_ray_worker(function: Callable[[Any], Any], item: Any, directory: str) -> Any:
    """:func:`_call` in a Ray worker, which has no initializer hook: limit its threads on its first task, and
    work in the caller's directory when this machine has it (a Ray worker starts in a directory of its own;
    a spawned pool worker inherits the caller's), so relative paths mean what they meant to the caller."""
    global _threads_limited
    if not _threads_limited:
        _limit_threads()
        _threads_limited = True
    if directory != os.getcwd() and os.path.isdir(directory):
        os.chdir(directory)
    return _call(function, item)


def _unwrap(value: Any) -> Any:
    """A worker's result, or its failure as the exception (with ``remote_traceback`` set)."""
    if isinstance(value, _Failure):
        exception = value.exception
        try:
            exception.remote_traceback = value.traceback_text  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return exception
    return value


class _Collector:
    """Results by item index, the progress count, and the fail-fast rule."""

    def __init__(self, total: int, notify: _Notify, return_exceptions: bool):
        self.results: list[Any] = [None] * total
        self.failed: dict[int, BaseException] = {}
        self.done = 0
        self.total = total
        self.notify = notify
        self.return_exceptions = return_exceptions

    def put(self, index: int, value: Any) -> None:
        value = _unwrap(value)
        self.results[index] = value
        if isinstance(value, BaseException):
            self.failed[index] = value
        self.done += 1
        self.notify(index, value, self.done)

    def still_needed(self, index: int) -> bool:
        """Whether task ``index`` must still finish: without return_exceptions, once a task has failed only the
        tasks before it matter (one of them may fail too, and the first failure in item order is raised)."""
        return self.return_exceptions or not self.failed or index < min(self.failed)

    def finish(self) -> list[Any]:
        if self.failed and not self.return_exceptions:
            raise self.failed[min(self.failed)]
        return self.results


# --------------------------------------------------------------------------------------------------
# Executors


def _run_serial(function: Callable[[Any], Any], items: Sequence[Any], notify: _Notify,
                return_exceptions: bool) -> list[Any]:
    results = []
    for index, item in enumerate(items):
        if return_exceptions:
            try:
                results.append(function(item))
            except Exception as exc:
                exc.remote_traceback = ""  # type: ignore[attr-defined]
                results.append(exc)
        else:
            results.append(function(item))  # a failure propagates with its own traceback
        notify(index, results[-1], index + 1)
    return results


def _run_pool(function: Callable[[Any], Any], items: Sequence[Any], jobs: int, notify: _Notify,
              return_exceptions: bool) -> list[Any]:
    collector = _Collector(len(items), notify, return_exceptions)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(START_METHOD), initializer=_limit_threads)
    try:
        pending: dict[Future, int] = {pool.submit(_call, function, item): i for i, item in enumerate(items)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=pending.__getitem__):
                index = pending.pop(future)
                if future.cancelled():
                    continue
                try:
                    value = future.result()
                except BrokenProcessPool:
                    value = _Failure(WorkerCrashedError(
                        f"task {index}: a worker process died (crashed or was killed) before the task finished"), "")
                except Exception as exc:  # the item or the result could not be pickled
                    value = _Failure(TaskError(f"task {index}: {type(exc).__name__}: {exc}"), "")
                collector.put(index, value)
            for future in [f for f, index in pending.items() if not collector.still_needed(index)]:
                future.cancel()  # a task already running finishes; the pool's shutdown waits for it
                del pending[future]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return collector.finish()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailableError(f"--executor ray needs Ray: {RAY_INSTALL_HINT}") from None
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray unless it already is; True when this call did it (the caller shuts it down).

    With ``address`` it joins that cluster (its nodes need refinterp installed, or a Ray ``runtime_env``
    that ships it); otherwise it starts a local instance of ``num_cpus`` CPUs whose workers get this
    process's module path (through the job's PYTHONPATH), so they import refinterp, and the caller's own
    task functions, from where this process does. Ray's own log lines and the workers' prints stay out of
    this process's output (``--json -`` writes to stdout).
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "error", "log_to_driver": False}
    if address is not None:
        _check_reachable(address)
    try:
        if address is not None:
            ray.init(address=address, **options)
        else:
            # The workers of a local instance run on this machine: give them this process's module path, as
            # a spawned process pool has it (the directory holding refinterp/ first, so a source checkout
            # that is not installed works too; PYTHONPATH is already part of sys.path).
            # Ray sends usage statistics from a cluster unless told not to; an instance started for one command
            # should not (a user's own RAY_USAGE_STATS_ENABLED wins).
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            package_parent = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(dict.fromkeys([package_parent, *(os.path.abspath(p) for p in sys.path if p)]))
            ray.init(num_cpus=num_cpus, runtime_env={"env_vars": {"PYTHONPATH": path}}, **options)
    except Exception as exc:
        what = f"join the Ray cluster at {address}" if address is not None else "start a local Ray instance"
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise ExecutorUnavailableError(f"cannot {what}: {type(exc).__name__}: {reason}") from None
    return True


#: how long to wait for a Ray cluster's port to answer (Ray itself keeps retrying for minutes)
CONNECT_TIMEOUT_SECONDS = 10.0


def _check_reachable(address: str) -> None:
    """A one-line error at once when HOST:PORT (or ray://HOST:PORT) does not accept connections.

    ``ray.init`` retries an unreachable address for minutes, logging as it goes; ``auto`` and other forms
    without a port are left to Ray (it fails at once when no cluster runs on this machine)."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        raise ExecutorUnavailableError(f"cannot reach the Ray cluster at {address}: "
                                       f"{exc.strerror or type(exc).__name__}") from None


def _run_ray(function: Callable[[Any], Any], items: Sequence[Any], jobs: int, address: str | None,
             notify: _Notify, return_exceptions: bool) -> list[Any]:
    ray = _import_ray()
    started_here = init_ray(address, num_cpus=jobs)
    try:
        remote_call = ray.remote(num_cpus=1, max_retries=1)(_call_in_ray_worker)
        function_ref = ray.put(function)
        collector = _Collector(len(items), notify, return_exceptions)
        directory = os.getcwd()
        refs = [remote_call.remote(function_ref, item, directory) for item in items]
        index_of = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # raised outside _call: unpickling the item
                    value = _Failure(TaskError(f"task {index_of[ref]}: {exc}"), "")
                except ray.exceptions.RayError as exc:  # the worker died, the node was lost
                    value = _Failure(WorkerCrashedError(f"task {index_of[ref]}: {type(exc).__name__}: "
                                                        f"{str(exc).splitlines()[0] if str(exc) else ''}"), "")
                collector.put(index_of[ref], value)
            for ref in [r for r in pending if not collector.still_needed(index_of[r])]:
                ray.cancel(ref)
                pending.remove(ref)
        return collector.finish()
    finally:
        if started_here:
            ray.shutdown()
