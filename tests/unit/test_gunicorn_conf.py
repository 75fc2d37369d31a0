"""gunicorn.conf.py's defaults, read as gunicorn reads the file."""

import gc
import runpy
from pathlib import Path

import pytest

CONF = str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py")


def settings(monkeypatch, **env):
    for key in ("OZYOPS_REDIS_URL", "OZYOPS_WORKERS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(CONF)


def test_without_redis_one_worker_so_the_in_process_limits_hold(monkeypatch):
    assert settings(monkeypatch)["workers"] == 1


@pytest.mark.parametrize("cores, workers", [(1, 2), (2, 4), (8, 4)])
def test_with_redis_several_workers_share_the_limits(monkeypatch, cores, workers):
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: cores)
    conf = settings(monkeypatch, OZYOPS_REDIS_URL="redis://127.0.0.1:6379/0")
    assert conf["workers"] == workers


def test_workers_and_no_control_socket(monkeypatch):
    conf = settings(monkeypatch, OZYOPS_WORKERS="3")
    assert conf["workers"] == 3
    assert conf["control_socket_disable"] is True


def test_each_worker_freezes_what_it_loaded(monkeypatch):
    """So full collections skip the app's modules and templates (bench/README.md)."""
    try:
        settings(monkeypatch)["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
