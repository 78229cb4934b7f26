"""Outcome groups and outcomes (outcome_groups_api_controller, outcomes_api_controller), for
account and course contexts."""

from __future__ import annotations

from ._context import Answer, Ctx
from ._json import group_json, link_json, outcome_json
from ._model import OutcomeGroup
from ._wire import NotFound, Unauthorized

__all__ = ["ROUTES"]


def _context(ctx: Ctx, kind: str, context_id: str) -> tuple[str, int]:
    if kind == "accounts":
        account = ctx.account(context_id)
        if not ctx.token.can("read_outcomes"):
            raise Unauthorized()
        return "Account", account.id
    course = ctx.course(context_id)
    if not (ctx.token.can("read_outcomes") or ctx.enrolled(course)):
        raise Unauthorized()
    return "Course", course.id


def _group(ctx: Ctx, context: tuple[str, int], group_id: str) -> OutcomeGroup:
    group = ctx.site.groups.get(int(group_id)) if group_id.isdigit() else None
    if group is None or (group.context_type, group.context_id) != context or group.workflow_state == "deleted":
        raise NotFound()
    return group


def _groups_in(ctx: Ctx, context: tuple[str, int]) -> list[OutcomeGroup]:
    return sorted((g for g in ctx.site.groups.values()
                   if (g.context_type, g.context_id) == context and g.workflow_state != "deleted"),
                  key=lambda g: g.id)


def _styles(ctx: Ctx) -> dict[str, str]:
    return {"outcome_style": ctx.str_param("outcome_style") or "abbrev",
            "group_style": ctx.str_param("outcome_group_style") or "abbrev"}


def list_groups(ctx: Ctx, kind: str, context_id: str) -> Answer:
    """GET /api/v1/{accounts|courses}/:id/outcome_groups: every group of the context."""
    context = _context(ctx, kind, context_id)
    return Answer([group_json(g, ctx) for g in ctx.ordinal(_groups_in(ctx, context))])


def root_group(ctx: Ctx, kind: str, context_id: str) -> Answer:
    """GET /api/v1/{accounts|courses}/:id/root_outcome_group: a redirect to the root group."""
    context = _context(ctx, kind, context_id)
    group = ctx.site.root_group(*context)
    return Answer(None, 302, {"Location": f"{ctx.host}/api/v1/{kind}/{context[1]}/outcome_groups/{group.id}"})


def show_group(ctx: Ctx, kind: str, context_id: str, group_id: str) -> Answer:
    """GET /api/v1/{accounts|courses}/:id/outcome_groups/:group_id."""
    context = _context(ctx, kind, context_id)
    return Answer(group_json(_group(ctx, context, group_id), ctx))


def group_outcomes(ctx: Ctx, kind: str, context_id: str, group_id: str) -> Answer:
    """GET …/outcome_groups/:group_id/outcomes: the group's OutcomeLinks (outcome_style=full)."""
    context = _context(ctx, kind, context_id)
    group = _group(ctx, context, group_id)
    links = sorted((link for link in ctx.site.links.values()
                    if link.group_id == group.id and link.workflow_state == "active"), key=lambda link: link.id)
    style = _styles(ctx)
    return Answer([link_json(link, ctx, outcome_style=style["outcome_style"]) for link in ctx.ordinal(links)])


def subgroups(ctx: Ctx, kind: str, context_id: str, group_id: str) -> Answer:
    """GET …/outcome_groups/:group_id/subgroups (abbreviated groups)."""
    context = _context(ctx, kind, context_id)
    group = _group(ctx, context, group_id)
    children = [g for g in _groups_in(ctx, context) if g.parent_id == group.id]
    return Answer([group_json(g, ctx, abbreviated=True) for g in ctx.ordinal(children)])


def group_links(ctx: Ctx, kind: str, context_id: str) -> Answer:
    """GET /api/v1/{accounts|courses}/:id/outcome_group_links: every outcome link of the context."""
    context = _context(ctx, kind, context_id)
    links = sorted((link for link in ctx.site.links.values()
                    if (link.context_type, link.context_id) == context and link.workflow_state == "active"),
                   key=lambda link: link.id)
    style = _styles(ctx)
    return Answer([link_json(link, ctx, outcome_style=style["outcome_style"], group_style=style["group_style"])
                   for link in ctx.ordinal(links)])


def show_outcome(ctx: Ctx, outcome_id: str) -> Answer:
    """GET /api/v1/outcomes/:id (full form)."""
    outcome = ctx.site.outcomes.get(int(outcome_id)) if outcome_id.isdigit() else None
    if outcome is None:
        raise NotFound()
    linked_courses = {link.context_id for link in ctx.site.links.values()
                      if link.outcome_id == outcome.id and link.context_type == "Course"}
    if not ctx.token.can("read_outcomes") and not any(
            ctx.enrolled(ctx.site.courses[cid]) for cid in linked_courses):
        raise Unauthorized()
    return Answer(outcome_json(outcome, ctx))


ROUTES = [("GET", "/api/v1/outcomes/{outcome_id}", show_outcome)]
for _kind in ("accounts", "courses"):
    def _bind(handler, kind=_kind):
        def bound(ctx: Ctx, **path: str) -> Answer:
            return handler(ctx, kind, **path)
        bound.__name__ = handler.__name__
        bound.__doc__ = handler.__doc__
        return bound
    ROUTES += [
        ("GET", f"/api/v1/{_kind}/{{context_id}}/outcome_groups", _bind(list_groups)),
        ("GET", f"/api/v1/{_kind}/{{context_id}}/root_outcome_group", _bind(root_group)),
        ("GET", f"/api/v1/{_kind}/{{context_id}}/outcome_groups/{{group_id}}", _bind(show_group)),
        ("GET", f"/api/v1/{_kind}/{{context_id}}/outcome_groups/{{group_id}}/outcomes", _bind(group_outcomes)),
        ("GET", f"/api/v1/{_kind}/{{context_id}}/outcome_groups/{{group_id}}/subgroups", _bind(subgroups)),
        ("GET", f"/api/v1/{_kind}/{{context_id}}/outcome_group_links", _bind(group_links)),
    ]
