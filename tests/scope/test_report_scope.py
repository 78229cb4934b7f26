"""Scope test of the report route (setting ``enrolment_report_id``) over the simulator's real HTTP.

Each misconfiguration an admin can make in the report builder UI (BULK-READS.md §2) is built
with the simulator's ``add_participants_report`` and must come out as a FORBIDDEN
course_progressions entry naming the problem, with its fix and the set-up checklist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scope_helpers import integration
from simenv import moodle_env
from typer.testing import CliRunner

from connectors.moodle._scope_report import ACCESS_CAPABILITIES, REPORT_COLUMNS, SORT_COLUMNS
from connectors.moodle.simulator import ADMIN_TOKEN, Token, tiny_site
from connectors.moodle.simulator._reportbuilder import COLUMNS, SYNC_COLUMNS, SYNC_FILTERS, add_participants_report
from engine.cli import app
from engine.scope import run_scope_test

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "connect-moodle.md"
VIEW_ONLY = "8" * 32  # moodle/reportbuilder:view without viewall, not in the report's audience
SETUP = "Report route set-up"
OTHER_SOURCE = "core_user\\reportbuilder\\datasource\\users"


def _scope(env, report_id=None, **settings):
    """Run the scope test with the report route settings; (course_progressions entry, report)."""
    it = integration(env)
    it.settings = {**({"enrolment_report_id": report_id} if report_id is not None else {}), **settings}
    env.store.update_integration(it)
    report = run_scope_test(env.engine, integration(env))
    return next(e for e in report.entries if e.name == "course_progressions"), report


def _good(site, **kwargs):
    site.users[2].timezone = kwargs.pop("timezone", "UTC")  # the admin token's user
    kwargs.setdefault("sorting", SORT_COLUMNS)
    return add_participants_report(site, **kwargs)


def _setup_steps(report) -> list[str]:
    return [s for s in report.checklist if s.startswith(SETUP)]


def _assert_misconfigured(entry, report, *phrases: str) -> None:
    assert entry.status == "FORBIDDEN", entry
    assert entry.missing_capabilities == [] and entry.missing_functions == []
    assert entry.detail.startswith("MISCONFIGURED: report "), entry.detail
    for phrase in phrases:
        assert phrase in entry.detail, (phrase, entry.detail)
    assert len(_setup_steps(report)) == 8
    assert not any(s.startswith("Nothing to add") for s in report.checklist)


def test_column_spec_is_the_simulators_and_the_mappings():
    assert [c.identifier for c in REPORT_COLUMNS] == list(SYNC_COLUMNS)
    assert [c.title for c in REPORT_COLUMNS] == [COLUMNS[c].title for c in SYNC_COLUMNS]
    assert set(SORT_COLUMNS) <= set(SYNC_COLUMNS)


def test_good_report_passes(admin_env):
    site = admin_env.site
    report_obj = _good(site)
    before = (report_obj.timemodified, dict(report_obj.user_filters))
    entry, report = _scope(admin_env, report_obj.id)
    assert (entry.status, entry.detail, entry.missing_capabilities) == ("OK", "", []), entry
    assert {e.status for e in report.entries} == {"OK"}
    assert report.checklist[0].startswith("Nothing to add")
    assert _setup_steps(report) == [] and not any("found: set it" in s for s in report.checklist)
    assert (report_obj.timemodified, dict(report_obj.user_filters)) == before, "the scope test changed the report"


def test_missing_capability(tmp_path):
    site = tiny_site()
    site.add_token(Token(VIEW_ONLY, 3, functions=site.tokens[ADMIN_TOKEN].functions,
                         capabilities=frozenset({"webservice/rest:use", "moodle/reportbuilder:view"})))
    report_obj = add_participants_report(site, sorting=SORT_COLUMNS)
    with moodle_env(tmp_path, site=site, token=VIEW_ONLY) as env:
        entry, report = _scope(env, report_obj.id)
    assert entry.status == "FORBIDDEN" and entry.missing_capabilities == ACCESS_CAPABILITIES, entry
    assert "You cannot view this report" in entry.detail
    assert any(s.startswith("Give") and all(c in s for c in ACCESS_CAPABILITIES) for s in report.checklist)
    assert len(_setup_steps(report)) == 8


def test_report_functions_missing_from_the_service(tmp_path):
    site = tiny_site()
    functions = site.tokens[ADMIN_TOKEN].functions - {"core_reportbuilder_retrieve_report"}
    site.add_token(Token(VIEW_ONLY, 2, functions=functions))
    report_obj = _good(site)
    with moodle_env(tmp_path, site=site, token=VIEW_ONLY) as env:
        entry, report = _scope(env, report_obj.id)
    assert (entry.status, entry.missing_functions) == ("MISSING", ["core_reportbuilder_retrieve_report"]), entry
    assert report.functions_to_add == ["core_reportbuilder_retrieve_report"]
    assert _setup_steps(report) == []  # the report itself may be fine: only the function is asked for


def test_report_that_does_not_exist_names_the_one_that_does(admin_env):
    real = _good(admin_env.site)
    entry, report = _scope(admin_env, real.id + 40)
    _assert_misconfigured(entry, report, f"report {real.id + 40}: no such report")
    assert any(f"report {real.id} 'lmsync enrolments' found" in s for s in report.checklist)


def test_wrong_source(admin_env):
    report_obj = _good(admin_env.site)
    report_obj.configure(admin_env.site, source=OTHER_SOURCE)
    entry, report = _scope(admin_env, report_obj.id)
    _assert_misconfigured(entry, report, f"has the source {OTHER_SOURCE}, not 'Course participants'")
    assert any("Create a new custom report of source 'Course participants'" in s for s in report.checklist)


def test_default_setup_ticked(admin_env):
    report_obj = _good(admin_env.site, include_default_setup=True, columns=SYNC_COLUMNS)
    entry, report = _scope(admin_env, report_obj.id)
    _assert_misconfigured(entry, report, "'Include default setup' was ticked", "suspended and expired enrolments")
    assert any("Conditions: delete the condition 'Status'" in s for s in report.checklist)


def test_username_condition_is_fine(admin_env):
    report_obj = _good(admin_env.site, conditions=("user:username",))
    entry, _ = _scope(admin_env, report_obj.id)
    assert (entry.status, entry.detail) == ("OK", ""), entry


@pytest.mark.parametrize("lang", ["en", "de"])
def test_wrong_column_order(admin_env, lang):
    columns = list(SYNC_COLUMNS)
    columns[2], columns[3] = columns[3], columns[2]  # status before method
    report_obj = _good(admin_env.site, columns=columns)
    entry, report = _scope(admin_env, report_obj.id, report_lang=lang)
    if lang == "en":  # headings checked
        _assert_misconfigured(entry, report, "column 3 is 'Status', expected 'Plugin' (enrol:plugin)",
                              "column 4 is 'Plugin', expected 'Status' (enrolment:status)")
    else:  # headings not checked in another language: the cells give it away
        _assert_misconfigured(entry, report, "column 4 should be Enrolment › Status (enrolment:status) but holds")
        assert "headings not checked: report_lang 'de'" in entry.detail
    assert any("make the columns exactly, in this order" in s or "column 4 must be" in s for s in report.checklist)


def test_missing_column(admin_env):
    report_obj = _good(admin_env.site, columns=[c for c in SYNC_COLUMNS if c != "role:shortname"])
    entry, report = _scope(admin_env, report_obj.id)
    _assert_misconfigured(entry, report, "it has 11 columns", "needs 12")


def test_sorting_off(admin_env):
    report_obj = _good(admin_env.site, sorting=())
    entry, report = _scope(admin_env, report_obj.id)
    _assert_misconfigured(entry, report, "sorting is off")
    assert any("Sorting: enable sorting on Course short name with link, then Username" in s for s in report.checklist)


def test_timezone_mismatch(admin_env):
    report_obj = _good(admin_env.site, timezone="Europe/Berlin")
    entry, report = _scope(admin_env, report_obj.id)
    _assert_misconfigured(entry, report, "timezone is 'Europe/Berlin' but report_timezone is 'UTC'")
    assert any(f"integrations update {admin_env.integration_id} --setting report_timezone=Europe/Berlin" in s
               for s in report.checklist)
    entry, _ = _scope(admin_env, report_obj.id, report_timezone="Europe/Berlin")
    assert (entry.status, entry.detail) == ("OK", ""), entry


def test_site_default_timezone_cannot_be_read(admin_env):
    report_obj = _good(admin_env.site, timezone="99")
    entry, report = _scope(admin_env, report_obj.id)
    assert entry.status == "OK" and "site default ('99'), which web services do not show" in entry.detail, entry
    assert any(s.startswith("Check (course_progressions)") for s in report.checklist)


def test_epoch_language_pack_makes_the_timezone_irrelevant(admin_env):
    admin_env.site.epoch_date_langs.add("en_lmsync")
    report_obj = _good(admin_env.site, timezone="Europe/Berlin")
    entry, _ = _scope(admin_env, report_obj.id, report_lang="en_lmsync")
    assert entry.status == "OK" and "dates are epoch seconds" in entry.detail, entry
    entry, _ = _scope(admin_env, report_obj.id, report_lang="en_missing")  # not installed: ignored by Moodle
    assert entry.status == "FORBIDDEN" and "timezone is 'Europe/Berlin'" in entry.detail, entry
    assert "gave English text, not epoch seconds" in entry.detail


def test_no_report_configured_but_one_exists(admin_env):
    good = _good(admin_env.site)
    add_participants_report(admin_env.site, "someone's users").configure(admin_env.site, source=OTHER_SOURCE)
    entry, report = _scope(admin_env)
    assert entry.status == "OK" and entry.detail == "", entry  # the standard route's checks, unchanged
    assert {e.status for e in report.entries} == {"OK"}
    hints = [s for s in report.checklist if "found: set it" in s]
    assert hints == [f"Large sites: report {good.id} 'lmsync enrolments' found: set it with lmsync integrations update "
                     f"{admin_env.integration_id} --setting enrolment_report_id={good.id} (course_progressions then "
                     "comes from that report: about one call per report_page_size enrolments; see "
                     "docs/connect-moodle.md)"]
    assert report.checklist[0].startswith("Nothing to add") and report.checklist[-1] == hints[0]
    assert _setup_steps(report) == []


def test_cli_prints_the_setup_checklist(admin_env):
    report_obj = _good(admin_env.site, sorting=())
    it = integration(admin_env)
    it.settings = {"enrolment_report_id": report_obj.id}
    admin_env.store.update_integration(it)
    result = CliRunner().invoke(app, ["scope-test", "--integration", admin_env.integration_id,
                                      "--store", f"sqlite://{admin_env.store.path}"], env={"COLUMNS": "1000"})
    assert result.exit_code == 1, result.output  # FORBIDDEN
    numbered = re.findall(r"^\s+\d+\. (Report route set-up \d/8: .*)$", result.stdout, re.M)
    assert len(numbered) == 8 and "Include default setup' UNTICKED" in numbered[0], result.stdout


def test_guide_lists_the_columns_in_order():
    section = GUIDE.read_text().split("## Large sites: the report route", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\s*\d+\. \*\*(.+?)\*\* › (.+?) \(`([a-z]+:[a-z]+)`\)", section, re.M)
    assert listed == [(c.entity, c.title, c.identifier) for c in REPORT_COLUMNS]
    for needed in ("moodle/reportbuilder:view", "moodle/reportbuilder:viewall", "Include default setup",
                   "--setting enrolment_report_id=", "78,000", "~15"):
        assert needed in section, needed
    assert all(REPORT_COLUMNS[[c.identifier for c in REPORT_COLUMNS].index(s)].title in section for s in SORT_COLUMNS)


@pytest.mark.parametrize(("filters", "setting", "expected"), [
    (SYNC_FILTERS, True, "OK"),
    ((), True, "no filter on Course completion › Time completed (completion:timecompleted), Course completion › "
               "Time started (completion:timestarted), Enrolment › Time created (enrolment:timecreated)"),
    (SYNC_FILTERS[:2], True, "no filter on Enrolment › Time created (enrolment:timecreated): a DELTA would read"),
    (SYNC_FILTERS, False, "has the DELTA date filters: lmsync integrations update"),
    ((), False, "OK"),
])
def test_the_delta_date_filters_are_checked(admin_env, filters, setting, expected):
    """With report_delta_filters a DELTA narrows the report with three date filters: one the report
    lacks is silently ignored by Moodle (the read would be the whole report), so it is probed."""
    report_obj = _good(admin_env.site, filters=filters)
    entry, report = _scope(admin_env, report_obj.id, report_delta_filters=setting)
    if expected == "OK":
        assert (entry.status, entry.detail) == ("OK", ""), entry
    elif setting:
        _assert_misconfigured(entry, report, expected)
    else:
        assert entry.status == "OK" and expected in entry.detail, entry
    assert report_obj.user_filters.get(2) is None, "the probe left filter values behind"
