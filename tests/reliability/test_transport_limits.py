"""The transport stays on the integration's host, times out, bounds concurrency and honours
Retry-After — against an httpx.MockTransport standing in for Moodle."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from engine.errors import RateLimited, RemoteError, RemoteTimeout
from engine.plugins import get_plugin_manager
from engine.store.base import Integration
from engine.transport import RetryPolicy, Transport

MOODLE = Integration(id="moodle:t", connector="moodle", base_url="https://moodle.example", credentials={"token": "tok123tok123"})


def _transport(handler, **kw) -> Transport:
    sleeps: list[float] = []
    t = Transport(MOODLE, get_plugin_manager(), client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=sleeps.append, **kw)
    t.sleeps = sleeps
    return t


def test_redirect_to_another_host_is_not_followed():
    hosts: list[str] = []

    def handler(request):
        hosts.append(request.url.host)
        return httpx.Response(302, headers={"Location": "http://evil.test/steal"})

    with pytest.raises(RemoteError, match="redirect to http://evil.test/steal") as info:
        _transport(handler).call("core_webservice_get_site_info", {})
    assert hosts == ["moodle.example"]
    assert "tok123tok123" not in str(info.value)


def test_timeout_is_retried_then_reported():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    t = _transport(handler, policy=RetryPolicy(attempts=3, timeout=0.5))
    with pytest.raises(RemoteTimeout, match="no answer within 0.5s"):
        t.call("core_user_get_users", {})
    assert t.calls["core_user_get_users"] == 3 and len(t.sleeps) == 2


def test_retry_after_is_honoured():
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[])]
    t = _transport(lambda request: answers.pop(0), policy=RetryPolicy(max_retry_after=60))
    assert t.call("f", {}) == []
    assert t.sleeps[0] >= 7


def test_retry_after_beyond_the_cap_is_capped_and_finally_reported():
    t = _transport(lambda request: httpx.Response(429, headers={"Retry-After": "3600"}), policy=RetryPolicy(attempts=2, max_retry_after=5))
    with pytest.raises(RateLimited):
        t.call("f", {})
    assert t.sleeps == [5]


def test_logic_errors_are_never_retried():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(200, json={"exception": "x", "errorcode": "invalidparameter", "message": "bad"})

    with pytest.raises(RemoteError):
        _transport(handler).call("f", {})
    assert len(calls) == 1


def test_concurrency_is_bounded_per_integration():
    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(request):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return httpx.Response(200, json=[])

    t = _transport(handler, max_concurrency=3)
    threads = [threading.Thread(target=t.call, args=("f", {})) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert peak == 3
