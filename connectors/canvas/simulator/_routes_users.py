"""Accounts and users: /accounts, /accounts/:id, /accounts/:id/users, /accounts/:id/permissions,
/users/:id, /users/:id/profile, /users/:id/logins (users_controller, accounts_controller,
profile_controller, pseudonyms_controller)."""

from __future__ import annotations

from ._context import Answer, Ctx
from ._json import user_json
from ._model import PERMISSIONS, Account, User
from ._wire import BadRequest, Unauthorized, iso, value_to_boolean

__all__ = ["ROUTES"]

_USER_INCLUDES = {"avatar_url", "email", "last_login", "time_zone", "uuid"}
_BASE_ROLES = {"student": "StudentEnrollment", "teacher": "TeacherEnrollment", "ta": "TaEnrollment",
               "observer": "ObserverEnrollment", "designer": "DesignerEnrollment"}


def _account_json(account: Account, ctx: Ctx) -> dict:
    out = {"id": account.id, "name": account.name, "workflow_state": account.workflow_state,
           "parent_account_id": account.parent_id, "root_account_id": None if account.parent_id is None
           else ctx.site.root_account_id, "uuid": account.uuid, "default_storage_quota_mb": 500,
           "default_user_storage_quota_mb": 50, "default_group_storage_quota_mb": 50,
           "default_time_zone": account.default_time_zone}
    if ctx.can_read_sis:
        out["sis_account_id"] = account.sis_account_id
        out["sis_import_id"] = None
        out["integration_id"] = None
    return out


def list_accounts(ctx: Ctx) -> Answer:
    """GET /api/v1/accounts: the accounts the caller administers."""
    accounts = [a for a in ctx.site.accounts.values()] if ctx.token.is_account_user else []
    return Answer([_account_json(a, ctx) for a in ctx.ordinal(accounts)])


def show_account(ctx: Ctx, account_id: str) -> Answer:
    """GET /api/v1/accounts/:id."""
    account = ctx.account(account_id)
    if not ctx.token.is_account_user:
        raise Unauthorized()
    return Answer(_account_json(account, ctx))


def account_permissions(ctx: Ctx, account_id: str) -> Answer:
    """GET /api/v1/accounts/:id/permissions?permissions[]=…: {name: bool}."""
    ctx.account(account_id)
    if not ctx.token.is_account_user:
        raise Unauthorized()
    return Answer({name: name in PERMISSIONS and ctx.token.can(name) for name in ctx.list_param("permissions")})


def _account_user_ids(ctx: Ctx, account: Account) -> set[int] | None:
    """None for the root account (every user with a login), else users enrolled below it."""
    if account.parent_id is None:
        return None
    accounts = ctx.site.subaccount_ids(account.id)
    courses = {c.id for c in ctx.site.courses.values() if c.account_id in accounts}
    return {e.user_id for e in ctx.site.enrollments.values() if e.course_id in courses}


def _matches(user: User, term: str, ctx: Ctx) -> bool:
    if term.isdigit() and int(term) == user.id:
        return True
    low = term.lower()
    fields = [user.name, user.sortable_name, user.short_name]
    if ctx.token.can("read_email_addresses") and user.email:
        fields.append(user.email)
    for login in user.logins:
        fields.append(login.unique_id)
        if ctx.can_read_sis:
            fields += [login.sis_user_id or "", login.integration_id or ""]
    return any(low in f.lower() for f in fields if f)


def account_users(ctx: Ctx, account_id: str) -> Answer:
    """GET /api/v1/accounts/:id/users (UsersController#api_index): page numbers without a
    total (no rel=last); sort=id switches to bookmarks."""
    account = ctx.account(account_id)
    ctx.require("read_roster")
    include_deleted = value_to_boolean(ctx.params.get("include_deleted_users"))
    allowed = _account_user_ids(ctx, account)
    users = [u for u in ctx.site.users.values() if (include_deleted or not u.deleted)
             and (allowed is None or u.id in allowed)]
    term = ctx.str_param("search_term")
    if term:
        if len(term) < 3:
            raise BadRequest({"errors": [{"field": "search_term", "code": "invalid",
                                          "message": f"search_term of {len(term)} characters is too short"}]})
        users = [u for u in users if _matches(u, term, ctx)]
    role = _BASE_ROLES.get(ctx.str_param("enrollment_type") or "")
    if ctx.str_param("enrollment_type"):
        users = [u for u in users if role and any(e.type == role and e.workflow_state != "deleted"
                                                  for e in ctx.site.enrollments_of_user(u.id))]
    sort = ctx.str_param("sort") or "username"
    desc = ctx.str_param("order") == "desc"
    includes = ctx.includes() & _USER_INCLUDES
    if sort == "id":
        users.sort(key=lambda u: u.id, reverse=desc)
        page = ctx.bookmarked(users, key=(lambda u: [-u.id]) if desc else (lambda u: [u.id]))
    else:
        sort_key = {"email": lambda u: (u.email or "").lower(),
                    "sis_id": lambda u: (u.login.sis_user_id or "") if u.login else "",
                    "integration_id": lambda u: (u.login.integration_id or "") if u.login else "",
                    "last_login": lambda u: u.last_login or 0}.get(sort, lambda u: u.sortable_name.casefold())
        users.sort(key=lambda u: (sort_key(u), u.id), reverse=desc)
        if sort == "last_login":
            includes.add("last_login")
        page = ctx.ordinal(users, with_last=False)
    return Answer([user_json(u, ctx, includes) for u in page])


def _visible_user(ctx: Ctx, user_id: str) -> User:
    user = ctx.user_ref(user_id)
    if user.id != ctx.user.id and not ctx.token.can("read_roster"):
        raise Unauthorized()
    return user


def show_user(ctx: Ctx, user_id: str) -> Answer:
    """GET /api/v1/users/:id (and /users/self)."""
    user = _visible_user(ctx, user_id)
    includes = {"avatar_url", "email", "locale", "effective_locale"} | (ctx.includes() & {"uuid", "last_login"})
    out = user_json(user, ctx, includes)
    out["time_zone"] = user.time_zone
    out["bio"] = user.bio
    out["pronouns"] = user.pronouns
    out["permissions"] = {"can_update_name": user.id == ctx.user.id, "can_update_avatar": user.id == ctx.user.id,
                          "limit_parent_app_web_access": False}
    return Answer(out)


def user_profile(ctx: Ctx, user_id: str) -> Answer:
    """GET /api/v1/users/:id/profile."""
    user = _visible_user(ctx, user_id)
    login = user.login
    out = {"id": user.id, "name": user.name, "short_name": user.short_name, "sortable_name": user.sortable_name,
           "title": None, "bio": user.bio, "pronunciation": None,
           "primary_email": user.email if ctx.token.can("read_email_addresses") or user.id == ctx.user.id else None,
           "login_id": login.unique_id if login else None,
           "avatar_url": f"{ctx.host}/images/messages/avatar-50.png",
           "calendar": {"ics": f"{ctx.host}/feeds/calendars/user_{user.uuid}.ics"},
           "time_zone": user.time_zone, "locale": user.locale, "effective_locale": user.locale or "en",
           "k5_user": False, "use_classic_font_in_k5": False}
    if ctx.can_read_sis:
        out["integration_id"] = login.integration_id if login else None
        out["sis_user_id"] = login.sis_user_id if login else None
    return Answer(out)


def user_logins(ctx: Ctx, user_id: str) -> Answer:
    """GET /api/v1/users/:id/logins (workflow_state tells active from suspended)."""
    user = _visible_user(ctx, user_id)
    logins = [login for login in user.logins if login.workflow_state != "deleted"]
    out = []
    for login in ctx.ordinal(logins):
        item = {"id": login.id, "user_id": user.id, "account_id": login.account_id, "unique_id": login.unique_id,
                "created_at": iso(login.created_at), "workflow_state": login.workflow_state,
                "authentication_provider_id": None, "authentication_provider_type": None}
        if ctx.can_read_sis:
            item.update({"sis_user_id": login.sis_user_id, "integration_id": login.integration_id})
        out.append(item)
    return Answer(out)


ROUTES = [
    ("GET", "/api/v1/accounts", list_accounts),
    ("GET", "/api/v1/accounts/{account_id}", show_account),
    ("GET", "/api/v1/accounts/{account_id}/permissions", account_permissions),
    ("GET", "/api/v1/accounts/{account_id}/users", account_users),
    ("GET", "/api/v1/users/{user_id}", show_user),
    ("GET", "/api/v1/users/{user_id}/profile", user_profile),
    ("GET", "/api/v1/users/{user_id}/logins", user_logins),
]
