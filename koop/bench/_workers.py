"""Run benchmark tasks in separate worker processes, each task under a wall-clock limit.

Workers are *spawned* (fresh interpreters), never forked: a fork of a process whose numba
or BLAS thread pools are running can inherit a held lock and hang forever (seen in the
dysts sweep). Each worker runs ``init`` once (warm-up compilation), then tasks one at a
time; a task over its time limit, or a worker that dies, is reported and the worker
replaced, so one bad task never stops the others.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time

__all__ = ["run_isolated"]

_READY = "__ready__"


def _worker_main(conn, task, init) -> None:  # pragma: no cover - runs in the child
    if init is not None:
        try:
            init()
        except Exception:
            pass
    conn.send(_READY)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        try:
            out = ("ok", task(item))
        except BaseException as exc:
            out = ("crash", f"{type(exc).__name__}: {exc}")
        conn.send(out)


class _Worker:
    def __init__(self, ctx, task, init):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, task, init), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.item = None
        self.started = 0.0

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
        self.conn.close()


def run_isolated(task, items, *, init=None, n_jobs: int = 1, timeout: float | None = None,
                 on_result=None) -> list:
    """Apply ``task`` to every item in worker processes; return results in item order.

    Parameters
    ----------
    task : picklable callable
        ``task(item) -> result``.
    items : sequence
    init : picklable callable, optional
        Run once per worker before its first task.
    n_jobs : int
        Number of workers.
    timeout : float, optional
        Wall-clock seconds per task (from when the worker receives it).
    on_result : callable, optional
        Called as ``on_result(item, result)`` as results arrive.

    Returns
    -------
    list
        ``task(item)``, or ``{"crash": reason}`` for a task that raised, timed out or
        killed its worker.
    """
    try:
        pickle.dumps((task, init))
    except Exception as exc:
        raise TypeError(
            "running with a timeout or n_jobs > 1 sends the task to worker processes, so "
            f"it must be picklable ({exc}); use module-level functions or classes as "
            "method builders, or run with timeout=None and n_jobs=1."
        ) from None
    ctx = multiprocessing.get_context("spawn")
    pending = list(range(len(items)))
    results: dict[int, object] = {}
    workers = [_Worker(ctx, task, init) for _ in range(min(n_jobs, max(len(items), 1)))]

    def finish(w, idx, res):
        results[idx] = res
        w.item = None
        if on_result is not None:
            on_result(items[idx], res)

    try:
        while len(results) < len(items):
            for i, w in enumerate(workers):
                if w.item == -1:
                    continue
                if w.ready and w.item is None and pending:
                    w.item = pending.pop(0)
                    w.started = time.monotonic()
                    w.conn.send(items[w.item])
                msg = None
                if w.conn.poll(0.02):
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = ("dead", None)
                if msg == _READY:
                    w.ready = True
                    continue
                if msg is not None and msg[0] in ("ok", "crash") and w.item is not None:
                    finish(w, w.item, msg[1] if msg[0] == "ok" else {"crash": msg[1]})
                    continue
                timed_out = (w.item is not None and timeout is not None
                             and time.monotonic() - w.started > timeout)
                died = msg is not None or not w.proc.is_alive()
                if timed_out or died:
                    if not timed_out:
                        w.proc.join(timeout=2)  # EOF can arrive before the exit status
                    code = w.proc.exitcode
                    w.stop(kill=True)
                    if w.item is not None:
                        reason = (f"timeout after {timeout:g} s" if timed_out
                                  else f"worker died (exit code {code})")
                        finish(w, w.item, {"crash": reason})
                    elif not w.ready:
                        raise RuntimeError(f"a benchmark worker failed to start (exit code "
                                           f"{code})")
                    if pending:
                        workers[i] = _Worker(ctx, task, init)
                    else:
                        w.item, w.ready = -1, False  # retired: nothing left to run
    finally:
        for w in workers:
            if w.item != -1:
                w.stop(kill=w.item is not None)
    return [results[i] for i in range(len(items))]
