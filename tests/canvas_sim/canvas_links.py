"""Link-header helpers of the Canvas simulator tests (a module of its own: conftest names clash across test folders)."""

from __future__ import annotations

import httpx


def links(response: httpx.Response) -> dict[str, str]:
    """The Link header as {rel: url}."""
    out = {}
    for part in response.headers.get("link", "").split(","):
        if part:
            url, _, rel = part.partition(";")
            out[rel.strip().removeprefix('rel="').removesuffix('"')] = url.strip().strip("<>")
    return out


def walk(client: httpx.Client, url: str, **params) -> tuple[list, list[httpx.Response]]:
    """Follow rel=next to the end; returns every record and every response."""
    records, responses = [], []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        responses.append(response)
        records += response.json()
        nxt = links(response).get("next")
        if not nxt:
            return records, responses
        response = client.get(nxt)
