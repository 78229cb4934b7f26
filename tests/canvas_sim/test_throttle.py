"""RequestThrottle: X-Request-Cost / X-Rate-Limit-Remaining on every answer, leaky bucket per
token, 403 (Rate Limit Exceeded) when the bucket passes the high-water mark."""

from __future__ import annotations

import httpx

from connectors.canvas.simulator import RESTRICTED_TOKEN, ThrottleConfig


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_every_answer_carries_cost_and_remaining(http, base):
    for response in (http.get("/api/v1/users/self"), http.get("/api/v1/courses/999"),
                     httpx.get(f"{base}/api/v1/users/self", headers={"Authorization": "Bearer bad"}),
                     httpx.get(f"{base}/api/v1/users/self")):
        assert float(response.headers["x-request-cost"]) > 0
        assert 0 < float(response.headers["x-rate-limit-remaining"]) <= 600


def test_remaining_is_hwm_minus_the_bucket_and_costs_grow_with_records(http, app, site):
    app.throttle.clock = FakeClock()       # no leak between requests
    site.throttle = ThrottleConfig(base_cost=1.0, per_item_cost=0.5)
    one = http.get("/api/v1/users/self")
    assert float(one.headers["x-request-cost"]) == 1.0
    assert float(one.headers["x-rate-limit-remaining"]) == 599.0
    listed = http.get("/api/v1/accounts/1/users", params={"per_page": 4})
    assert float(listed.headers["x-request-cost"]) == 3.0
    assert float(listed.headers["x-rate-limit-remaining"]) == 596.0


def test_exhausted_bucket_answers_403_rate_limit_exceeded(http, app, site):
    clock = FakeClock()
    app.throttle.clock = clock
    site.throttle = ThrottleConfig(hwm=100.0, maximum=200.0, outflow=1.0, up_front_cost=50.0, base_cost=30.0)
    statuses = [http.get("/api/v1/users/self").status_code for _ in range(3)]
    assert statuses == [200, 200, 403]          # 30, 60, then 60 + 50 up-front ≥ 100
    response = http.get("/api/v1/users/self")
    assert response.status_code == 403
    assert response.content == b"403 Forbidden (Rate Limit Exceeded)\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "x-request-cost" not in response.headers
    assert float(response.headers["x-rate-limit-remaining"]) == 40.0
    clock.t += 30                              # leaks 30 units: 60 → 30
    assert http.get("/api/v1/users/self").status_code == 200


def test_each_token_has_its_own_bucket(http, base, app, site):
    app.throttle.clock = FakeClock()
    site.throttle = ThrottleConfig(hwm=60.0, up_front_cost=50.0, base_cost=20.0)
    assert http.get("/api/v1/users/self").status_code == 200
    assert http.get("/api/v1/users/self").status_code == 403
    other = httpx.get(f"{base}/api/v1/users/self", headers={"Authorization": f"Bearer {RESTRICTED_TOKEN}"})
    assert other.status_code == 200


def test_429_mode_and_disabled_throttle(http, app, site):
    app.throttle.clock = FakeClock()
    site.throttle = ThrottleConfig(hwm=10.0, up_front_cost=50.0, status=429)
    response = http.get("/api/v1/users/self")
    assert response.status_code == 429 and response.text == "429 Too Many Requests (Rate Limit Exceeded)\n"
    site.throttle = ThrottleConfig(hwm=10.0, up_front_cost=50.0, enabled=False)
    assert http.get("/api/v1/users/self").status_code == 200


def test_parallel_requests_pay_the_up_front_penalty(http, base, app, site):
    """Each request in flight holds `up_front_cost` in the bucket until it finishes."""
    from concurrent.futures import ThreadPoolExecutor
    app.throttle.clock = FakeClock()
    site.throttle = ThrottleConfig(hwm=120.0, up_front_cost=50.0, base_cost=1.0)
    app.latency_ms = 300
    try:
        with ThreadPoolExecutor(3) as pool:
            statuses = sorted(pool.map(lambda _: http.get("/api/v1/users/self").status_code, range(3)))
    finally:
        app.latency_ms = 0
    assert statuses == [200, 200, 403]
    assert float(http.get("/api/v1/users/self").headers["x-rate-limit-remaining"]) == 117.0  # only real costs stay
