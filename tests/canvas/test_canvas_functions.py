"""Canvas JMESPath functions, URL normalisation and plugin registration."""

from __future__ import annotations

import pytest

from connectors.canvas._functions import canvas_name, canvas_time
from connectors.canvas.plugin import KNOWN_CALLS, normalize_site_url
from engine.plugins import connectors, get_plugin_manager
from engine.spec import function_set, load_specs


@pytest.mark.parametrize("sortable, name, first, last", [
    ("Müller, Jürgen", "Jürgen Müller", "Jürgen", "Müller"),
    ("van der Berg, Anna Maria", "Anna Maria van der Berg", "Anna Maria", "van der Berg"),
    ("Cher", "Cher", None, "Cher"),
    ("Okafor", "Ngozi Okafor", "Ngozi", "Okafor"),
    (None, None, None, None),
])
def test_names_come_from_the_sortable_name(sortable, name, first, last):
    assert canvas_name(sortable, name, "first") == first
    assert canvas_name(sortable, name, "last") == last


def test_times_are_normalised_to_utc():
    assert canvas_time("2012-07-19T15:00:00-06:00") == "2012-07-19T21:00:00Z"
    assert canvas_time("2025-01-01T00:00:00Z") == "2025-01-01T00:00:00Z"
    assert canvas_time(None) is None and canvas_time("") is None
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        canvas_time("yesterday")


@pytest.mark.parametrize("pasted, root", [
    ("https://school.instructure.com/", "https://school.instructure.com"),
    ("https://school.instructure.com/api/v1/courses?page=2", "https://school.instructure.com"),
    ("https://lms.example.edu/canvas/login/canvas", "https://lms.example.edu/canvas"),
    ("https://school.instructure.com/courses/12/modules", "https://school.instructure.com"),
])
def test_pasted_urls_are_reduced_to_the_site_root(pasted, root):
    assert normalize_site_url(pasted)[0] == root
    with pytest.raises(ValueError):
        normalize_site_url("ftp://school.instructure.com")


def test_the_plugin_is_registered_and_its_specs_only_name_known_endpoints():
    pm = get_plugin_manager()
    info = connectors(pm)["canvas"]
    specs = load_specs(info.mappings, "canvas", function_set(pm), known_calls=info.known_calls)
    called = {f for fs in specs.functions_by_model().values() for f in fs}
    assert called <= KNOWN_CALLS
    assert "GET /api/v1/courses/{course_id}/bulk_user_progress" in called
