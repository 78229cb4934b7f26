"""``lmsync worker`` (Celery workers) and ``lmsync scheduler`` (queues due syncs)."""

from __future__ import annotations

import os

import typer

from engine.cli._common import StoreOpt, err, fail, get_store
from engine.jobs import make_sync_queue
from engine.schedule import Scheduler
from engine.sync import SyncEngine
from engine.webhooks import sender_for

BrokerOpt = typer.Option(None, "--broker", envvar="LMSYNC_BROKER_URL", help="Celery broker, e.g. redis://127.0.0.1:6379/0.")
QueueOpt = typer.Option(None, "--queue", envvar="LMSYNC_QUEUE", help="Celery queue name (default lmsync).")


def _celery_env(broker: str | None, queue: str | None, store_url: str | None) -> None:
    if not broker:
        raise fail("no broker: pass --broker or set LMSYNC_BROKER_URL (e.g. redis://127.0.0.1:6379/0)", 2)
    os.environ["LMSYNC_BROKER_URL"] = broker
    if queue:
        os.environ["LMSYNC_QUEUE"] = queue
    if store_url:
        os.environ["LMSYNC_DATABASE_URL"] = store_url


def worker(
    concurrency: int = typer.Option(2, "--concurrency", "-c", help="Syncs this worker runs at once."),
    pool: str = typer.Option("prefork", "--pool", help="prefork, solo or threads."),
    loglevel: str = typer.Option("INFO", "--loglevel"),
    hostname: str = typer.Option(None, "--hostname", "-n", help="Worker name (default celery's)."),
    broker: str = BrokerOpt,
    queue: str = QueueOpt,
    store_url: str = StoreOpt,
) -> None:
    """Run a Celery worker that executes queued syncs into the store (PostgreSQL in production)."""
    _celery_env(broker, queue, store_url)
    get_store().close()  # migrate once up front, and fail early on a bad store URL
    from engine.worker import make_celery, queue_name

    app = make_celery()
    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}",
            f"--queues={queue_name()}", "--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


def scheduler(
    tick: float = typer.Option(60.0, "--tick", help="Seconds between checks for due syncs."),
    once: bool = typer.Option(False, "--once", help="Queue what is due now and exit."),
    broker: str = BrokerOpt,
    queue: str = QueueOpt,
    store_url: str = StoreOpt,
) -> None:
    """Queue due syncs (FULL every 10 h, DELTA every 3 h by default) onto the workers.

    Several schedulers may run: a sync already queued or running is not queued twice.
    Without a broker the due syncs run in this process instead."""
    if broker:
        _celery_env(broker, queue, store_url)
    store = get_store(store_url)  # without a broker the syncs run in this process
    sync_queue = make_sync_queue(SyncEngine(store))
    sender = sender_for(store)
    loop = Scheduler(store, sync_queue.force_sync, tick_s=tick, on_tick=sender.resume_pending)
    if once:
        for iid, kind, sync_id, already in loop.tick():
            err.print(f"{kind} {iid}: {sync_id}{' (already queued)' if already else ''}", highlight=False)
        sender.flush(timeout=60)
        return
    err.print(f"scheduler: checking for due syncs every {tick:g} s (Ctrl-C stops)")
    loop.run_forever()
