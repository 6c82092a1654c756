"""Dashboard pages and the local web chat, server-rendered with Jinja2.

Every page reads the store in a worker thread (one unit of work per request)
and renders a template; nothing here writes except the chat, which goes
through the same core entry points as every chat adapter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from bot.dashboard import auth, exports, holders, queries, sources, trends
from bot.dashboard.metrics import METRICS, Registry
from bot.dashboard.zones import PageZone, page_zone
from bot.turn import Ask, ChatUser, Click, Request
from handlers.reply import Reply, reply_from_dict, reply_to_dict, row_id
from notifications import outbox

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
UTC_ZONE = PageZone("UTC", "UTC")
STATIC_PREFIX = "/dashboard-static"
PLATFORM = "web"


def _fmt_ts(value: dt.datetime | None, zone: PageZone | None = None) -> str:
    """A time in the page's zone, with its abbreviation (UTC only where a page has no zone)."""
    return (zone or UTC_ZONE).fmt(value)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["ts"] = _fmt_ts
    env.filters["duration"] = trends.duration
    env.filters["bdays"] = trends.bdays
    env.globals["static"] = STATIC_PREFIX
    return env


ENV = environment()


def page(template: str, status: int = 200, **context: Any) -> web.Response:
    html = ENV.get_template(template).render(**context)
    return web.Response(text=html, content_type="text/html", status=status)


def _bind_host(container: Container, host: str | None) -> str:
    return host or container.settings.host


def _token(container: Container) -> str | None:
    secret = container.settings.dashboard_token
    return secret.get_secret_value() if secret is not None else None


def _still_allowed(container: Container) -> auth.StillAllowed:
    return holders.still_allowed(container)


def _as_viewer(request: web.Request, person_id: int) -> int:
    """Someone signed in with a personal link talks as themselves only; token holders may pick anyone."""
    viewer = request.get(auth.VIEWER)
    if viewer is not None and person_id != viewer:
        raise web.HTTPForbidden(text="You are signed in with your own link: you can only talk to govbot as yourself.")
    return person_id


def _site(request: web.Request, known: list[str]) -> tuple[str | None, str | None]:
    """(site code, problem): the ``?site=`` a page is scoped to, if the store knows it."""
    wanted = request.query.get("site", "").strip()
    if not wanted:
        return None, None
    if wanted in known:
        return wanted, None
    return None, f"There is no site {wanted!r}; showing every site."


def _day(request: web.Request, name: str, zone: PageZone) -> tuple[dt.datetime | None, str | None]:
    """Local midnight of ``?name=YYYY-MM-DD`` in the page's zone."""
    text = request.query.get(name, "").strip()
    if not text:
        return None, None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, f"{name}: {text!r} is not a date (YYYY-MM-DD); ignored."
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone.tz), None


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


class DashboardMount:
    """``/``, ``/systems``, ``/systems/{id}``, ``/raci``, ``/changes``, ``/changes/{number}``,
    ``/metrics-page`` and ``/gaps``.  ``host`` is the address the host binds (default ``GOVBOT_HOST``)."""

    def __init__(self, container: Container, *, host: str | None = None) -> None:
        self.container = container
        self.host = _bind_host(container, host)
        # Refuse here already, so a misconfigured host never starts listening.
        auth.required_token(self.host, _token(container), public_url=container.settings.public_url)
        self.lint = queries.LintCache()

    def mount(self, app: web.Application) -> None:
        auth.install(app, host=self.host, token=_token(self.container), clock=self.container.clock,
                     still_allowed=_still_allowed(self.container), public_url=self.container.settings.public_url)
        r = app.router
        r.add_get("/", self.overview)
        r.add_get("/systems", self.systems)
        r.add_get("/systems/{id:\\d+}", self.system)
        r.add_get("/raci", self.raci)
        r.add_get("/changes", self.changes)
        r.add_get("/changes/{number}", self.change)
        r.add_get("/metrics-page", self.metrics_page)
        r.add_get("/metrics-page/export.csv", self.export_csv)
        r.add_get("/metrics-page/export.xlsx", self.export_xlsx)
        r.add_get("/gaps", self.gaps)
        sources.mount(app, self.container, page)
        r.add_get("/attestation", self.ownership)
        if not any(getattr(res, "canonical", "") == STATIC_PREFIX for res in r.resources()):
            r.add_static(STATIC_PREFIX, HERE / "static")

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            with self.container.unit_of_work() as session:
                return fn(*args, session=session, **kwargs)

        return await asyncio.to_thread(run)

    @property
    def change_manager_role(self) -> str:
        """The change authority's role in the quorum rules: the CAB sits on neither the IT nor the OT side."""
        return self.container.services.policies.default.change_manager_role

    def zone(self, request: web.Request, *, session: Session, site: str | None = None) -> PageZone:
        return page_zone(session=session, chosen=request.query.get("tz"), site=site,
                         viewer_id=request.get(auth.VIEWER))

    def context(self, zone: PageZone) -> dict[str, Any]:
        return {"zone": zone, "zone_label": zone.label(self.container.clock())}

    async def overview(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any]:
            counts, report, as_of = self.lint.get(session=session)
            sites = queries.sites(session=session)
            site, problem = _site(request, [s.code for s in sites])
            zone = self.zone(request, session=session, site=site)
            now = self.container.clock()
            return {**queries.overview(counts, report, session=session, now=now, site=site),
                    **trends.overview_trends(report, session=session, zone=zone, site=site, now=now,
                                             change_manager_role=self.change_manager_role),
                    "site": site or "", "problem": problem, "as_of": as_of, **self.context(zone)}

        return page("overview.html", nav="overview", **(await self.read(load)))

    async def systems(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        gaps_only = request.query.get("gaps") == "1"
        if q:
            def search(*, session: Session) -> tuple[int | None, list[Any], str]:
                resolved = self.container.services.catalog.resolve(q, session=session)
                if resolved.system is not None:
                    return resolved.system.id, [], resolved.resolution.status
                return None, list(resolved.resolution.matches[:10]), resolved.resolution.status

            found, candidates, status = await self.read(search)
            if found is not None:
                raise web.HTTPFound(f"/systems/{found}")
            return page("search.html", nav="systems", q=q, candidates=candidates, match_status=status)
        site = request.query.get("site", "").strip() or None

        def load(*, session: Session) -> dict[str, Any]:
            counts, _report, as_of = self.lint.get(session=session)
            listing = queries.systems_page(counts, session=session, gaps_only=gaps_only, site=site,
                                           page=_page_number(request))
            return {**listing, "as_of": as_of, **self.context(self.zone(request, session=session, site=site))}

        return page("systems.html", nav="systems", gaps_only=gaps_only, site=site or "", q=q, **(await self.read(load)))

    async def system(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any] | None:
            _counts, report, as_of = self.lint.get(session=session)
            data = queries.system_detail(int(request.match_info["id"]), session=session, report=report,
                                         activity_id=request.query.get("activity") or None)
            if data is None:
                return None
            zone = self.zone(request, session=session, site=data["system"].site_code)
            for c in data["changes"]:
                c["trail"] = [queries.audit_line(e, zone) for e in c["trail"]]
            return {**data, "as_of": as_of, **self.context(zone)}

        data = await self.read(load)
        if data is None:
            return page("not_found.html", status=404, nav="systems", what=f"system {request.match_info['id']}")
        return page("system.html", nav="systems", **data)

    async def raci(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any]:
            sites = queries.sites(session=session)
            site = request.query.get("site") or (sites[0].code if sites else None)
            return {"sites": sites, "site": site, **queries.raci_matrix(site, session=session)}

        return page("raci.html", nav="raci", **(await self.read(load)))

    async def changes(self, request: web.Request) -> web.Response:
        now = self.container.clock()

        def load(*, session: Session) -> dict[str, Any]:
            return {"rows": queries.open_changes(session=session, now=now),
                    **self.context(self.zone(request, session=session))}

        return page("changes.html", nav="changes", now=now, **(await self.read(load)))

    async def change(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any] | None:
            data = queries.change_detail(request.match_info["number"], session=session, now=self.container.clock())
            if data is None:
                return None
            zone = self.zone(request, session=session, site=data["site"])
            data["trail"] = [queries.audit_line(e, zone) for e in data["trail"]]
            return {**data, **self.context(zone)}

        data = await self.read(load)
        if data is None:
            return page("not_found.html", status=404, nav="changes", what=f"change {request.match_info['number']}")
        return page("change.html", nav="changes", **data)

    def _metrics_scope(self, request: web.Request, session: Session) -> dict[str, Any]:
        sites = queries.sites(session=session)
        site, problem = _site(request, [s.code for s in sites])
        zone = self.zone(request, session=session, site=site)
        since, bad_from = _day(request, "from", zone)
        until, bad_to = _day(request, "to", zone)
        if until is not None:
            until += dt.timedelta(days=1)  # "to" is the last day shown
        problems = [p for p in (problem, bad_from, bad_to) if p]
        return {"sites": sites, "site": site, "zone": zone, "since": since, "until": until, "problems": problems,
                "business": request.query.get("view") == "business",
                "from_day": zone.day(since) if since else "",
                "to_day": zone.day(until - dt.timedelta(days=1)) if until else ""}

    async def metrics_page(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any]:
            scope = self._metrics_scope(request, session)
            data = trends.metrics_page(session=session, zone=scope["zone"], site=scope["site"],
                                       business=scope["business"], since=scope["since"], until=scope["until"],
                                       change_manager_role=self.change_manager_role)
            return {**scope, **data, **self.context(scope["zone"]), "query": exports.scope_query(request)}

        return page("metrics.html", nav="metrics", **(await self.read(load)))

    async def _export(self, request: web.Request, kind: str) -> web.Response:
        def load(*, session: Session) -> tuple[bytes, str]:
            scope = self._metrics_scope(request, session)
            return exports.render(kind, session=session, tz=scope["zone"].name, site=scope["site"],
                                  since=scope["since"], until=scope["until"], now=self.container.clock(),
                                  table=request.query.get("table"), change_manager_role=self.change_manager_role)

        try:
            body, filename = await self.read(load)
        except exports.UnknownTable as exc:
            return page("not_found.html", status=404, nav="metrics", what=f"metrics table {exc}")
        content_type = exports.CONTENT_TYPES[kind]
        return web.Response(body=body, headers={"Content-Type": content_type,
                                                "Content-Disposition": f'attachment; filename="{filename}"'})

    async def export_csv(self, request: web.Request) -> web.Response:
        return await self._export(request, "csv")

    async def export_xlsx(self, request: web.Request) -> web.Response:
        return await self._export(request, "xlsx")

    async def gaps(self, request: web.Request) -> web.Response:
        def load(*, session: Session) -> dict[str, Any]:
            _counts, report, as_of = self.lint.get(session=session)
            listing = queries.findings_page(report, severity=request.query.get("severity") or None,
                                            code=request.query.get("code") or None, page=_page_number(request))
            return {**listing, "as_of": as_of, **self.context(self.zone(request, session=session))}

        return page("gaps.html", nav="gaps", **(await self.read(load)))

    async def ownership(self, request: web.Request) -> web.Response:
        from bot.dashboard.ownership_page import page_data

        data = await self.read(page_data, now=self.container.clock(), policy=self.container.services.ownership)
        return page("attestation.html", nav="ownership", **data)


# --------------------------------------------------------------------------- web chat


class WebInbox:
    """An outbound port that delivers to people using the web chat, kept in memory per person."""

    platform = PLATFORM

    def __init__(self) -> None:
        self.messages: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._next = 0
        # The worker's scheduler thread and the chat's request threads deliver concurrently.
        self._lock = threading.Lock()

    def can_reach(self, recipient: outbox.Recipient) -> bool:
        return recipient.person_id is not None

    def send(self, recipient: outbox.Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        assert recipient.person_id is not None
        with self._lock:
            self._next += 1
            self.messages[recipient.person_id].append({"id": self._next, "payload": payload, "updated": False})
            return {"person_id": recipient.person_id, "id": self._next}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for msg in self.messages.get(int(ref["person_id"]), []):
                if msg["id"] == ref["id"]:
                    msg["payload"] = payload
                    msg["updated"] = True
        return ref

    def for_person(self, person_id: int) -> list[dict[str, Any]]:
        """A snapshot of one person's deliveries, newest first."""
        with self._lock:
            return [dict(m) for m in reversed(self.messages.get(person_id, []))]


def render_reply(reply: Reply, *, inbox_id: int | None = None) -> str:
    return ENV.get_template("_reply.html").render(reply=reply, inbox_id=inbox_id)


class ChatMount:
    """``/chat`` and its JSON API: act as any person in the directory, see what govbot sent them."""

    def __init__(self, container: Container, inbox: WebInbox | None = None, *, host: str | None = None) -> None:
        self.container = container
        self.inbox = inbox or WebInbox()
        self.host = _bind_host(container, host)
        auth.required_token(self.host, _token(container), public_url=container.settings.public_url)

    def mount(self, app: web.Application) -> None:
        auth.install(app, host=self.host, token=_token(self.container), clock=self.container.clock,
                     still_allowed=_still_allowed(self.container), public_url=self.container.settings.public_url)
        self.registry = app.get(METRICS)
        r = app.router
        r.add_get("/chat", self.chat_page)
        r.add_post("/chat/api/say", self.say)
        r.add_post("/chat/api/click", self.click)
        r.add_get("/chat/api/inbox", self.inbox_api)
        if not any(getattr(res, "canonical", "") == STATIC_PREFIX for res in r.resources()):
            r.add_static(STATIC_PREFIX, HERE / "static")

    # -- helpers

    def _answer(self, kind: str, person_id: int, request: Request) -> Reply:
        """One turn as the person the chat was opened for (the person switcher, or a pass holder)."""
        registry: Registry | None = getattr(self, "registry", None)
        user = ChatUser(platform=PLATFORM, person_id=person_id)
        if registry is not None:
            with registry.answering(kind):
                reply = self.container.pipeline.answer(user, request)
        else:
            reply = self.container.pipeline.answer(user, request)
        self.deliver()
        return reply

    def deliver(self) -> None:
        try:
            outbox.dispatch(self.container.session_factory, [self.inbox], now=self.container.clock(), limit=500)
        except Exception:  # noqa: BLE001 - the worker retries; the answer itself succeeded
            log.warning("web inbox delivery failed; the worker will retry", exc_info=True)

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        # JSON only: a cross-site HTML form cannot send it without a CORS preflight, which is never granted.
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="send application/json")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON body") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        try:
            body["person_id"] = int(body["person_id"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPBadRequest(text="person_id is required") from None
        return body

    @staticmethod
    def _out(reply: Reply) -> web.Response:
        return web.json_response({"reply": reply_to_dict(reply), "html": render_reply(reply)})

    # -- routes

    async def chat_page(self, request: web.Request) -> web.Response:
        def load() -> list[tuple[int, str, str]]:
            with self.container.unit_of_work() as session:
                return [(p.id, p.display_name, p.title or "") for p in queries.people(session=session)]

        people = await asyncio.to_thread(load)
        viewer = request.get(auth.VIEWER)
        if viewer is not None:
            people = [p for p in people if p[0] == viewer]
        wanted = request.query.get("person_id", "")
        selected = viewer if viewer is not None else row_id(wanted) if row_id(wanted) else next(
            (pid for pid, name, _ in people if name == "Luis Ortega"), people[0][0] if people else None)
        return page("chat.html", nav="chat", people=people, selected=selected)

    async def say(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        text = str(body.get("text", "")).strip()
        if not text:
            raise web.HTTPBadRequest(text="text is required")
        reply = await asyncio.to_thread(self._answer, "command", _as_viewer(request, body["person_id"]), Ask(text))
        return self._out(reply)

    async def click(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        action_id = str(body.get("action_id", "")).strip()
        if not action_id:
            raise web.HTTPBadRequest(text="action_id is required")
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise web.HTTPBadRequest(text="inputs must be an object")
        click = Click(action_id, str(body.get("value", "")), tuple((str(k), str(v)) for k, v in inputs.items()))
        reply = await asyncio.to_thread(self._answer, "action", _as_viewer(request, body["person_id"]), click)
        return self._out(reply)

    async def inbox_api(self, request: web.Request) -> web.Response:
        try:
            person_id = _as_viewer(request, int(request.query.get("person_id", "")))
        except ValueError:
            raise web.HTTPBadRequest(text="person_id is required") from None
        await asyncio.to_thread(self.deliver)
        messages = []
        for msg in self.inbox.for_person(person_id):
            reply = reply_from_dict(msg["payload"])
            messages.append({"id": msg["id"], "updated": bool(msg.get("updated")), "reply": msg["payload"],
                             "html": render_reply(reply, inbox_id=msg["id"])})
        return web.json_response({"person_id": person_id, "messages": messages})


def dashboard_mounts(container: Container, *, host: str | None = None, wanted: bool | None = None) -> list[Any]:
    """The dashboard and ``/metrics`` for ``govbot serve`` (the web chat is for the local demo only:
    its inbox would take deliveries meant for Slack and Teams).

    ``wanted=None`` (the default) serves them on loopback, or anywhere when a dashboard token is set,
    and leaves them out with a warning otherwise; ``wanted=True`` on a network address without a
    token raises :class:`~bot.dashboard.auth.DashboardAuthError`, so the host never starts open.
    """
    from bot.dashboard.metrics import MetricsMount

    where = _bind_host(container, host)
    if wanted is False:
        return []
    public_url = container.settings.public_url
    if wanted is None and not _token(container) and (not auth.is_loopback(where) or auth.published(public_url)):
        why = f"{where} is not a loopback address" if not auth.is_loopback(where) else f"it is published at {public_url}"
        log.warning("the dashboard and /metrics are off: %s and GOVBOT_DASHBOARD_TOKEN is not set", why)
        return []
    return [MetricsMount(container, host=where), DashboardMount(container, host=where)]
