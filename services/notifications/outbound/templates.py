"""Mail templates: a built-in HTML and plain-text pair per kind, which a workspace may
replace with its own; both rendered in Jinja2's sandbox (workspace admins write them) with
HTML autoescaped, and wrapped in the workspace's branding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from services.notifications.textparts import header_safe

LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"
 style="background:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0"
 style="max-width:600px;width:100%;background:#ffffff;border-radius:6px;
 font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;
 line-height:1.5;color:#1f2933;">
<tr><td style="background:{{ branding.colour }};padding:16px 24px;border-radius:6px 6px 0 0;
 color:#ffffff;font-size:17px;font-weight:600;">
{% if branding.logo_url %}<img src="{{ branding.logo_url }}" alt="{{ workspace.name }}"
 height="32" style="vertical-align:middle;border:0;">{% else %}{{ workspace.name }}{% endif %}
</td></tr>
{% if branding.header %}<tr><td style="padding:12px 24px 0;color:#52606d;">
{{ branding.header }}</td></tr>{% endif %}
<tr><td style="padding:20px 24px;">{% block content %}{% endblock %}</td></tr>
<tr><td style="padding:12px 24px 20px;border-top:1px solid #e4e7eb;
 color:#7b8794;font-size:12px;">
{% if branding.footer %}{{ branding.footer }}<br>{% endif %}
{% if item %}Reply to this mail to answer on [#{{ item.number }}].{% endif %}
</td></tr></table></td></tr></table></body></html>
"""

DEFAULTS: dict[str, tuple[str, str, str]] = {
    # kind: (subject, text, html content)
    "comment": (
        "{{ item.title }}",
        "{{ author }} wrote on [#{{ item.number }}] {{ item.title }}:\n\n{{ body_text }}\n",
        '{% extends "layout.html" %}{% block content %}'
        '<p style="color:#52606d;margin:0 0 12px;">{{ author }} wrote'
        "{% if private %} a <strong>private note</strong>{% endif %}:</p>"
        '<div style="border-left:3px solid {{ branding.colour }};padding-left:12px;">'
        "{{ body_html | safe }}</div>{% endblock %}",
    ),
    "status": (
        "{{ item.title }}",
        "[#{{ item.number }}] {{ item.title }} is now {{ status }} (was {{ previous }}).\n",
        '{% extends "layout.html" %}{% block content %}'
        "<p><strong>[#{{ item.number }}] {{ item.title }}</strong> is now "
        "<strong>{{ status }}</strong> (was {{ previous }}).</p>{% endblock %}",
    ),
    "acknowledgement": (
        "{{ item.title }}",
        "Hello {{ recipient }},\n\nwe received your request and filed it as [#{{ item.number }}]"
        " {{ item.title }}. We will get back to you soon; reply to this mail to add anything.\n\n"
        "{{ workspace.name }}\n",
        '{% extends "layout.html" %}{% block content %}<p>Hello {{ recipient }},</p>'
        "<p>we received your request and filed it as <strong>[#{{ item.number }}] "
        "{{ item.title }}</strong>. We will get back to you soon; reply to this mail to add "
        "anything.</p><p>{{ workspace.name }}</p>{% endblock %}",
    ),
    "message": (
        "{{ subject }}",
        "{{ body_text }}\n",
        '{% extends "layout.html" %}{% block content %}{{ body_html | safe }}{% endblock %}',
    ),
}
KINDS = tuple(DEFAULTS)

DEFAULT_BRANDING: dict[str, str] = {"colour": "#2f5bea", "logo_url": "", "header": "", "footer": ""}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Source:
    subject: str
    text: str
    html: str


def default_source(kind: str) -> Source:
    subject, text, html = DEFAULTS[kind]
    return Source(subject, text, html)


_html_env = SandboxedEnvironment(
    loader=DictLoader({"layout.html": LAYOUT}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)
_text_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def check(source: Source, sample: dict[str, Any]) -> str | None:
    """The error a workspace's template would raise, or None when it renders."""
    try:
        render(source, sample)
    except TemplateError as error:
        return str(error)
    return None


def render(source: Source, context: dict[str, Any]) -> Rendered:
    """Render a kind's templates; the subject gets the item's number (`[#1042] …`), which
    threads replies even when a mail client drops the headers."""
    branding = {**DEFAULT_BRANDING, **(context.get("branding") or {})}
    values = {**context, "branding": branding}
    subject = header_safe(_text_env.from_string(source.subject).render(values), 500)
    item = context.get("item")
    if item is not None and f"[#{item['number']}]" not in subject:
        subject = f"[#{item['number']}] {subject}"
    values["subject"] = subject
    text = _text_env.from_string(source.text).render(values)
    footer = branding.get("footer")
    if footer:
        text = f"{text.rstrip()}\n\n--\n{footer}\n"
    html = _html_env.from_string(source.html).render(values)
    return Rendered(subject, text, html)


def render_kind(source: Source, kind: str, context: dict[str, Any]) -> Rendered:
    """A workspace's template, or the built-in one should the workspace's fail on these
    values (a mail is never lost to a template)."""
    try:
        return render(source, context)
    except TemplateError:
        return render(default_source(kind), context)


def sample_context() -> dict[str, Any]:
    """What every kind's template may use, with example values (to check a new template)."""
    return {
        "workspace": {"name": "Acme Agency"},
        "branding": dict(DEFAULT_BRANDING),
        "item": {"number": 1042, "title": "Banner", "status": "Open", "url": ""},
        "author": "Ann",
        "recipient": "Carl",
        "body_text": "Hello",
        "body_html": "<p>Hello</p>",
        "private": False,
        "status": "Open",
        "previous": "New",
        "subject": "Hello",
    }
