"""Pagination like lib/api.rb: per_page, ordinal and bookmarked pages, absolute Link URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from canvas_links import links, walk

from connectors.canvas.simulator import ADMIN_TOKEN, CanvasSite, create_app, run_in_thread


def test_default_per_page_is_10_and_the_cap_is_100(http, site):
    for i in range(120):
        site.add_user(f"Extra {i:03d}", f"Zz, Extra {i:03d}", login_id=f"extra{i}")
    assert len(http.get("/api/v1/accounts/1/users").json()) == 10
    response = http.get("/api/v1/accounts/1/users", params={"per_page": 1000})
    assert len(response.json()) == 100
    assert "per_page=100" in links(response)["current"]


@pytest.mark.parametrize("value, size", [("0", 1), ("-5", 1), ("abc", 1), ("3xyz", 3), ("", 10)])
def test_per_page_is_clamped_like_ruby_to_i(http, value, size):
    assert len(http.get("/api/v1/accounts/1/users", params={"per_page": value}).json()) == size


def test_account_users_have_page_numbers_but_no_last(http):
    response = http.get("/api/v1/accounts/1/users", params={"per_page": 4})
    rels = links(response)
    assert set(rels) == {"current", "next", "first"}
    assert parse_qs(urlsplit(rels["next"]).query)["page"] == ["2"]
    records, pages = walk(http, "/api/v1/accounts/1/users", per_page=4)
    assert [len(r.json()) for r in pages] == [4, 4, 2]
    assert len({u["id"] for u in records}) == 10        # 11 users, the deleted one left out
    assert "next" not in links(pages[-1]) and "prev" in links(pages[-1]) and "last" not in links(pages[-1])


def test_account_courses_have_a_last_link(http):
    response = http.get("/api/v1/accounts/1/courses", params={"per_page": 2})
    rels = links(response)
    assert set(rels) == {"current", "next", "first", "last"}
    assert parse_qs(urlsplit(rels["last"]).query)["page"] == ["3"]   # 5 non-deleted courses
    records, pages = walk(http, "/api/v1/accounts/1/courses", per_page=2)
    assert [c["id"] for c in records] == [2, 3, 6, 1, 5]             # by name: Business…, Empty, English, Français
    assert set(links(pages[1])) == {"current", "next", "prev", "first", "last"}


def test_link_order_separator_and_absolute_urls(http, base):
    header = http.get("/api/v1/accounts/1/courses", params={"per_page": 2, "page": 2}).headers["link"]
    parts = header.split(",")
    assert [p.split("; ")[1] for p in parts] == ['rel="current"', 'rel="next"', 'rel="prev"', 'rel="first"',
                                                 'rel="last"']
    assert all(p.startswith(f"<{base}/api/v1/accounts/1/courses?") for p in parts)


def test_page_beyond_the_end_is_empty_not_404(http):
    response = http.get("/api/v1/accounts/1/courses", params={"per_page": 2, "page": 9})
    assert response.status_code == 200 and response.json() == []
    assert set(links(response)) == {"current", "prev", "first", "last"}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "bookmark:WzNd"])
def test_invalid_ordinal_page_is_404(http, page):
    assert http.get("/api/v1/accounts/1/courses", params={"page": page}).status_code == 404


def test_empty_collection_has_current_first_last(http):
    response = http.get("/api/v1/accounts/1/courses", params={"search_term": "zzzz"})
    assert response.json() == []
    rels = links(response)
    assert set(rels) == {"current", "first", "last"} and rels["current"] == rels["last"]


def test_enrollments_are_bookmarked_without_prev_or_last(http):
    response = http.get("/api/v1/courses/1/enrollments", params={"per_page": 2})
    rels = links(response)
    assert set(rels) == {"current", "next", "first"}
    assert parse_qs(urlsplit(rels["current"]).query)["page"] == ["first"]
    assert parse_qs(urlsplit(rels["next"]).query)["page"][0].startswith("bookmark:")
    records, pages = walk(http, "/api/v1/courses/1/enrollments", per_page=2)
    assert [e["id"] for e in records] == [1, 2, 3, 5, 8]   # active and invited (default states), by id
    for page in pages:
        assert "prev" not in links(page) and "last" not in links(page)


@pytest.mark.parametrize("page", ["bookmark:!!!", "bookmark:eyJhIjoxfQ", "second"])
def test_malformed_bookmark_is_404(http, page):
    assert http.get("/api/v1/courses/1/enrollments", params={"page": page}).status_code == 404


def test_sort_id_switches_account_users_to_bookmarks(http):
    response = http.get("/api/v1/accounts/1/users", params={"sort": "id", "per_page": 3})
    assert parse_qs(urlsplit(links(response)["next"]).query)["page"][0].startswith("bookmark:")
    records, _ = walk(http, "/api/v1/accounts/1/users", sort="id", per_page=3)
    assert [u["id"] for u in records] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]


def test_links_keep_query_params_sorted_and_drop_access_token(base):
    response = httpx.get(f"{base}/api/v1/courses/1/enrollments",
                         params=[("type[]", "StudentEnrollment"), ("access_token", ADMIN_TOKEN),
                                 ("per_page", "1"), ("include[]", "avatar_url")])
    nxt = links(response)["next"]
    assert "access_token" not in nxt
    query = urlsplit(nxt).query
    assert query.startswith("include%5B%5D=avatar_url&type%5B%5D=StudentEnrollment&page=bookmark:")
    assert query.endswith("&per_page=1")
    assert httpx.get(nxt).status_code == 401            # the token must be re-appended by the client
    assert httpx.get(nxt, params={"access_token": ADMIN_TOKEN}).status_code == 200


def test_walking_a_generated_site_returns_every_record_once():
    site = CanvasSite.generate(seed=3, users=230, courses=12, enrolments_per_course=40)
    with run_in_thread(create_app(site)) as base, httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        users, pages = walk(client, "/api/v1/accounts/1/users", per_page=100)
        assert len(pages) == 3
        assert sorted(u["id"] for u in users) == sorted(u.id for u in site.users.values() if not u.deleted)
        course = next(c for c in site.courses.values() if c.workflow_state == "available")
        enrollments, _ = walk(client, f"/api/v1/courses/{course.id}/enrollments", per_page=7,
                              **{"state[]": ["active", "invited", "inactive", "completed", "deleted"]})
        assert sorted(e["id"] for e in enrollments) == sorted(e.id for e in site.enrollments_of_course(course.id))
