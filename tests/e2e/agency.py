"""An agency and its client using Deskline, from the outside only: the public HTTP API
(through whatever serves `/api`), SMTP into the mail listener, a mailbox that receives what
the system sends, and a webhook receiver as a Zapier-style tool. Nothing here reads a
database or the bus, so the same script proves a deployment of separate processes behind
the gateway and `deskline run` alike; only the addresses differ (`Deployment`).

The story (numbers as in the scenario):
1. an admin sets up a workspace: a client folder "Acme Furniture" (and the client
   organisation), a project "Spring campaign" in it, a team, a vendor collaborator who is an
   editor of that project, the rule "when the assignee comments on a New ticket, move it to
   In progress", and the SLA "first response within 4 business hours";
2. a client at Acme mails support: a ticket in that project with the client as requester,
   and an acknowledgement mailed back;
3. staff assign it to the vendor; the vendor's public reply moves it to In progress (the
   rule) and is mailed to the client; a staff private note reaches staff followers only;
4. the client answers by mail: a comment on the same ticket, without the quoted history;
5. the vendor times 2 h on it: its percent complete moves, the client report shows 2 h;
6. the Zapier-style subscriber to "comment added (client-safe)" got every public comment,
   signed, and no private one;
7. the SLA's first response is met, in business time.

`Deployment.between(step)` runs after each numbered step (and `before_step` before it):
the resilience test restarts processes and stops the broker there.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, TypeVar

import httpx

from tests.notifications.sink import SmtpSink
from tests.support.receiver import Receiver

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
WAIT = 90.0
"""Long enough for a service restart or a broker outage of 20 s plus reconnection."""

ASSIGNEE_COMMENTS_STARTS_WORK = {
    "name": "When the assignee comments on a New ticket, move it to In progress",
    "trigger": {"kind": "comment_added"},
    "conditions": {
        "match": "all",
        "conditions": [
            {"type": "actor", "check": "is_assignee"},
            {"type": "field", "field": "status", "op": "is", "value": "New"},
        ],
    },
    "actions": [{"type": "set_status", "status_name": "In progress"}],
}
OFFICE_WEEK = {
    day: [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri")
}

REQUEST_TEXT = "Hello,\n\nthe sofa banner for the spring campaign needs a bluer blue.\n\nCarla"
VENDOR_REPLY = "Here is the new banner with the bluer blue."
PRIVATE_NOTE = "Internal: Vera bills this at the agency rate, keep it from Acme."
CLIENT_ANSWER = "Thanks, the blue looks great now."


def poll(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    """`probe()` until it returns something other than None/False; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            found = probe()
        except (httpx.TransportError, AssertionError) as error:
            found, last_error = None, error
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            detail = f" (last: {last_error!r})" if last_error else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s{detail}")
        time.sleep(0.25)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"no text part in {message['Subject']!r}"
    content: str = part.get_content()
    return content


@dataclass
class Deployment:
    api: str
    """`http://host:port/api` of the gateway (or of `deskline run`)."""
    smtp_host: str
    smtp_port: int
    inbound_domain: str
    mailbox: SmtpSink
    """Where the system's outgoing mail lands (real SMTP)."""
    receiver: Receiver
    between: Callable[[int], None] = lambda step: None
    before_step: Callable[[int], None] = lambda step: None


@dataclass
class Person:
    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Agency:
    """What the story built, for the assertions at the end."""

    slug: str
    admin: Person
    staff: Person
    vendor: Person
    organisation_id: str
    folder_id: str
    project_id: str
    team_id: str
    rule_id: str
    policy_id: str
    hook_secret: str
    hook_path: str
    client_email: str = ""
    item: dict[str, Any] = field(default_factory=dict)
    public_comment_ids: list[str] = field(default_factory=list)
    private_comment_ids: list[str] = field(default_factory=list)


class AgencyScenario:
    def __init__(self, deployment: Deployment, http: httpx.Client) -> None:
        self.d = deployment
        self.http = http
        self.tag = uuid.uuid4().hex[:8]

    # --- HTTP, as a client of the public API -----------------------------------------------

    def call(
        self, method: str, path: str, who: Person | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers |= who.auth
        return self.http.request(method, f"{self.d.api}{path}", headers=headers, **kwargs)

    def expect(
        self, status: int, method: str, path: str, who: Person | None = None, **kwargs: Any
    ) -> Any:
        response = self.call(method, path, who, **kwargs)
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def until_accepted(
        self, status: int, method: str, path: str, who: Person | None = None, **kwargs: Any
    ) -> Any:
        """A write that the owning service refuses until an event has reached it (a new
        workspace, person or grant is known a moment later there): retried, as a client
        would, until it answers `status`."""

        last: list[str] = ["no answer"]

        def attempt() -> Any:
            response = self.call(method, path, who, **kwargs)
            if response.status_code == status:
                return response.json() if response.content else {}
            last[0] = f"{response.status_code} {response.text[:1000]}"
            assert response.status_code in (401, 403, 404, 409, 422, 502, 503, 504), last[0]
            return None

        try:
            return poll(f"{method} {path} answering {status}", attempt)
        except AssertionError as error:
            raise AssertionError(f"{error}; its last answer: {last[0]}") from None

    # --- mail -----------------------------------------------------------------------------

    def send_mail(self, message: EmailMessage, to: str) -> None:
        with smtplib.SMTP(self.d.smtp_host, self.d.smtp_port, timeout=30) as smtp:
            smtp.send_message(message, to_addrs=[to])

    def mails_to(self, address: str) -> list[EmailMessage]:
        return self.d.mailbox.to(address)

    def mail_containing(self, address: str, text: str) -> EmailMessage:
        def found() -> EmailMessage | None:
            return next((m for m in self.mails_to(address) if text in text_of(m)), None)

        return poll(f"a mail to {address} containing {text!r}", found)

    def accept_invitation(self, email: str, name: str) -> Person:
        invitation = self.mail_containing(email, "token=")
        token = re.search(r"token=([A-Za-z0-9_\-.~%]+)", text_of(invitation))
        assert token, text_of(invitation)
        pair = self.expect(
            200,
            "POST",
            "/identity/invitations/accept",
            json={"token": token.group(1), "password": PASSWORD, "display_name": name},
        )
        me = self.expect(200, "GET", "/identity/me", Person("", email, pair["access_token"]))
        return Person(me["user_id"], email, pair["access_token"])

    # --- the story ------------------------------------------------------------------------

    def run(self) -> Agency:
        steps: list[Callable[[Agency], None]] = [
            self.client_mails_support,
            self.vendor_answers_and_staff_note,
            self.client_replies_by_mail,
            self.vendor_logs_two_hours,
            self.subscriber_got_public_comments_only,
            self.first_response_met_in_business_time,
        ]
        self.d.before_step(1)
        agency = self.set_up_agency()
        self.d.between(1)
        for number, step in enumerate(steps, start=2):
            self.d.before_step(number)
            step(agency)
            self.d.between(number)
        self.nothing_sent_twice(agency)
        return agency

    def set_up_agency(self) -> Agency:
        slug = f"northwind-{self.tag}"
        admin_email = f"ada@{slug}.test"
        self.expect(
            201,
            "POST",
            "/identity/workspaces",
            json={
                "name": "Northwind Agency",
                "slug": slug,
                "time_zone": "Europe/Paris",
                "admin": {"email": admin_email, "display_name": "Ada Admin", "password": PASSWORD},
            },
        )
        login = self.expect(
            200,
            "POST",
            "/identity/auth/login",
            json={"workspace": slug, "email": admin_email, "password": PASSWORD},
        )
        me = self.expect(200, "GET", "/identity/me", Person("", admin_email, login["access_token"]))
        admin = Person(me["user_id"], admin_email, login["access_token"])

        organisation = self.expect(
            201, "POST", "/identity/client-organisations", admin, json={"name": "Acme Furniture"}
        )
        folder = self.until_accepted(
            201, "POST", "/tickets/folders", admin, json={"name": "Acme Furniture"}
        )
        project = self.until_accepted(
            201,
            "POST",
            "/tickets/projects",
            admin,
            json={
                "name": "Spring campaign",
                "folder_ids": [folder["id"]],
                "client_organisation_id": organisation["id"],
            },
        )

        staff_email = f"sam@{slug}.test"
        self.expect(
            201,
            "POST",
            "/identity/users/invitations",
            admin,
            json={"email": staff_email, "display_name": "Sam Staff", "kind": "staff"},
        )
        staff = self.accept_invitation(staff_email, "Sam Staff")
        team = self.expect(
            201,
            "POST",
            "/identity/teams",
            admin,
            json={"name": "Studio", "member_ids": [admin.id, staff.id]},
        )
        self.until_accepted(
            201,
            "POST",
            f"/identity/projects/{project['id']}/grants",
            admin,
            json={"subject_type": "team", "subject_id": team["id"], "role": "manager"},
        )

        vendor_email = f"vera@vendor-{self.tag}.test"
        self.until_accepted(
            201,
            "POST",
            "/identity/users/invitations",
            admin,
            json={
                "email": vendor_email,
                "display_name": "Vera Vendor",
                "kind": "collaborator",
                "grants": [{"project_id": project["id"], "role": "editor"}],
            },
        )
        vendor = self.accept_invitation(vendor_email, "Vera Vendor")

        rule = self.expect(
            201, "POST", "/automation/rules", admin, json=ASSIGNEE_COMMENTS_STARTS_WORK
        )
        calendar = self.expect(
            201,
            "POST",
            "/automation/calendars",
            admin,
            json={"name": "Paris office", "time_zone": "Europe/Paris", "week": OFFICE_WEEK},
        )
        policy = self.expect(
            201,
            "POST",
            "/automation/sla-policies",
            admin,
            json={
                "name": "First response within 4 business hours",
                "calendar_id": calendar["id"],
                "applies_to": {"project_ids": [project["id"]]},
                "targets": {"first_response": 240},
            },
        )

        # The agency's Zapier connection: an API key, and a REST hook on public comments.
        key = self.expect(
            201, "POST", "/identity/api-keys", admin, json={"name": "Zapier", "scopes": ["read"]}
        )
        hook_path = f"/zapier/{self.tag}"
        hook = self.until_accepted(
            201,
            "POST",
            "/integrations/v1/hooks",
            headers={"X-API-Key": key["key"]},
            json={
                "target_url": self.d.receiver.url(hook_path),
                "event": "comment_added",
                "client_safe": True,
                "filters": {"project_id": project["id"]},
            },
        )
        return Agency(
            slug=slug,
            admin=admin,
            staff=staff,
            vendor=vendor,
            organisation_id=organisation["id"],
            folder_id=folder["id"],
            project_id=project["id"],
            team_id=team["id"],
            rule_id=rule["id"],
            policy_id=policy["id"],
            hook_secret=hook["secret"],
            hook_path=hook_path,
        )

    def client_mails_support(self, agency: Agency) -> None:
        agency.client_email = f"carla@acme-{self.tag}.test"
        support = f"{agency.slug}+spring-campaign@{self.d.inbound_domain}"
        request = EmailMessage()
        request["From"] = f"Carla Client <{agency.client_email}>"
        request["To"] = support
        request["Subject"] = "Sofa banner: bluer blue"
        request["Message-ID"] = make_msgid(domain=f"acme-{self.tag}.test")
        request.set_content(REQUEST_TEXT)
        self.send_mail(request, support)

        def filed() -> dict[str, Any] | None:
            page = self.expect(
                200, "GET", "/tickets/items", agency.admin, params={"project_id": agency.project_id}
            )
            return page["items"][0] if page["items"] else None

        item = poll("the mailed request filed as a ticket", filed)
        assert item["title"] == "Sofa banner: bluer blue"
        assert item["project_id"] == agency.project_id
        assert item["status_category"] == "new"
        requester = self.expect(200, "GET", f"/identity/users/{item['requester_id']}", agency.admin)
        assert (requester["email"], requester["kind"]) == (agency.client_email, "client")
        agency.item = item

        def acknowledged() -> EmailMessage | None:
            mails = self.mails_to(agency.client_email)
            assert len(mails) <= 1, "one acknowledgement, nothing else yet"
            return mails[0] if mails else None

        acknowledgement = poll("the client's acknowledgement", acknowledged)
        assert acknowledgement["Subject"] == f"[#{item['number']}] Sofa banner: bluer blue"
        assert acknowledgement["Auto-Submitted"] == "auto-generated"
        assert str(acknowledgement["Reply-To"]).startswith("reply+")

    def vendor_answers_and_staff_note(self, agency: Agency) -> None:
        item_id = agency.item["id"]
        self.expect(
            200,
            "PUT",
            f"/tickets/items/{item_id}/assignees",
            agency.admin,
            json={"assignees": [{"type": "user", "id": agency.vendor.id}]},
        )
        self.expect(
            200, "PATCH", f"/tickets/items/{item_id}", agency.admin, json={"estimate_minutes": 240}
        )
        self.expect(
            200, "PUT", f"/tickets/items/{item_id}/followers/{agency.staff.id}", agency.admin
        )
        reply = self.until_accepted(
            201,
            "POST",
            f"/tickets/items/{item_id}/comments",
            agency.vendor,
            json={"body": VENDOR_REPLY, "visibility": "public"},
        )
        agency.public_comment_ids.append(reply["id"])

        def started() -> dict[str, Any] | None:
            item = self.expect(200, "GET", f"/tickets/items/{item_id}", agency.admin)
            return item if item["status_name"] == "In progress" else None

        poll("the rule moving the ticket to In progress", started)
        answer = self.mail_containing(agency.client_email, VENDOR_REPLY)
        assert answer["Subject"].endswith(f"[#{agency.item['number']}] Sofa banner: bluer blue")

        note = self.expect(
            201,
            "POST",
            f"/tickets/items/{item_id}/comments",
            agency.admin,
            json={"body": PRIVATE_NOTE, "visibility": "private"},
        )
        agency.private_comment_ids.append(note["id"])
        self.mail_containing(agency.staff.email, PRIVATE_NOTE)
        self.mail_containing(agency.vendor.email, PRIVATE_NOTE)  # collaborators are staff-side
        assert not [m for m in self.mails_to(agency.client_email) if PRIVATE_NOTE in text_of(m)]

    def client_replies_by_mail(self, agency: Agency) -> None:
        answered = self.mail_containing(agency.client_email, VENDOR_REPLY)
        reply_to = str(answered["Reply-To"])
        reply = EmailMessage()
        reply["From"] = f"Carla Client <{agency.client_email}>"
        reply["To"] = reply_to
        reply["Subject"] = f"Re: {answered['Subject']}"
        reply["Message-ID"] = make_msgid(domain=f"acme-{self.tag}.test")
        reply["In-Reply-To"] = str(answered["Message-ID"])
        reply["References"] = f"{answered.get('References', '')} {answered['Message-ID']}".strip()
        quoted = "\n".join(f"> {line}" for line in text_of(answered).splitlines())
        reply.set_content(
            f"{CLIENT_ANSWER}\n\nOn {datetime.now(UTC):%a, %d %b %Y at %H:%M}, "
            f"Northwind Agency <{reply_to}> wrote:\n{quoted}\n"
        )
        self.send_mail(reply, reply_to)
        item_id = agency.item["id"]

        def commented() -> dict[str, Any] | None:
            comments = self.expect(200, "GET", f"/tickets/items/{item_id}/comments", agency.admin)
            return next((c for c in comments if CLIENT_ANSWER in c["body"]), None)

        comment = poll("the client's mailed answer as a comment", commented)
        assert comment["author_id"] == agency.item["requester_id"]
        assert comment["visibility"] == "public"
        assert VENDOR_REPLY not in comment["body"], "the quoted history is stripped"
        agency.public_comment_ids.append(comment["id"])

    def vendor_logs_two_hours(self, agency: Agency) -> None:
        item_id = agency.item["id"]
        self.until_accepted(
            201, "POST", "/timetracking/timers", agency.vendor, json={"item_id": item_id}
        )
        began = datetime.now(UTC) - timedelta(hours=2)
        self.expect(
            200,
            "PATCH",
            "/timetracking/timers/current",
            agency.vendor,
            json={"started_at": began.isoformat(), "note": "Banner rework"},
        )
        entry = self.expect(200, "POST", "/timetracking/timers/current/stop", agency.vendor)
        assert entry["minutes"] in (120, 121)

        def progressed() -> dict[str, Any] | None:
            item = self.expect(200, "GET", f"/tickets/items/{item_id}", agency.admin)
            return item if item["percent_complete"] >= 50 else None

        item = poll("the item's percent complete following the time logged", progressed)
        assert item["percent_complete"] == entry["minutes"] * 100 // 240

        def reported() -> dict[str, Any] | None:
            report = self.expect(200, "GET", "/timetracking/reports/clients", agency.admin)
            return next(
                (r for r in report["rows"] if r["organisation_id"] == agency.organisation_id), None
            )

        row = poll("Acme Furniture in the client report", reported)
        assert row["organisation_name"] == "Acme Furniture"
        assert row["used_minutes"] == entry["minutes"]

    def subscriber_got_public_comments_only(self, agency: Agency) -> None:
        def delivered() -> list[Any] | None:
            got = self.d.receiver.at(agency.hook_path)
            ids = {r.verified(agency.hook_secret)["data"]["comment_id"] for r in got}
            return got if ids >= set(agency.public_comment_ids) else None

        deliveries = poll("every public comment at the subscriber", delivered)
        documents = [r.verified(agency.hook_secret) for r in deliveries]  # raises if not signed
        assert {d["type"] for d in documents} == {"comment_added"}
        payloads = [d["data"] for d in documents]
        assert {p["visibility"] for p in payloads} == {"public"}
        assert {p["comment_id"] for p in payloads} == set(agency.public_comment_ids)
        assert not {p["comment_id"] for p in payloads} & set(agency.private_comment_ids)
        assert all(PRIVATE_NOTE not in r.body.decode() for r in deliveries)

    def first_response_met_in_business_time(self, agency: Agency) -> None:
        def met() -> dict[str, Any] | None:
            sla = self.expect(
                200, "GET", f"/automation/items/{agency.item['id']}/sla", agency.admin
            )
            clock = next((c for c in sla["clocks"] if c["target"] == "first_response"), None)
            return clock if clock and clock["met_at"] else None

        clock = poll("the first response recorded as met", met)
        assert clock["policy_id"] == agency.policy_id
        assert clock["breached"] is False
        assert 0 <= clock["used_minutes"] <= 240

    def nothing_sent_twice(self, agency: Agency) -> None:
        """One mail per (event, recipient) and one webhook per event, whatever restarted."""
        seen: set[tuple[str, str, str]] = set()
        for received in self.d.mailbox.received:
            for recipient in received.recipients:
                key = (
                    recipient.lower(),
                    str(received.message["Subject"]),
                    text_of(received.message),
                )
                assert key not in seen, f"mailed twice to {recipient}: {key[1]!r}"
                seen.add(key)
        ids = [r.headers["webhook-id"] for r in self.d.receiver.at(agency.hook_path)]
        assert len(ids) == len(set(ids)), f"a webhook delivered twice: {ids}"
