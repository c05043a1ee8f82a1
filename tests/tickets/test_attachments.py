"""Attachments through the API (streamed upload, inert download, limits, visibility, isolation)
and the local-disk storage on its own.

Each test points the storage at its own temporary directory through the tickets settings, so
what a test finds on disk is exactly what it caused.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.tickets.attachments.endpoints import content_disposition
from services.tickets.attachments.service import display_name, refused
from services.tickets.attachments.storage import (
    WRITE_BUFFER,
    LocalStorage,
    StoredObjectMissing,
    new_key,
)
from services.tickets.models import Attachment
from services.tickets.settings import get_settings
from tests.tickets.conftest import TicketsApp, User, Workspace


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's storage directory (the service resolves its storage on every request)."""
    directory = tmp_path / "attachments"
    monkeypatch.setattr(get_settings(), "attachment_dir", directory)
    return directory


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


async def new_item(app: TicketsApp, token: str, project_id: str) -> str:
    response = await app.post("/items", token, json={"project_id": project_id, "title": "Logo"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def upload(
    app: TicketsApp,
    token: str,
    item_id: str,
    name: str = "brief.pdf",
    content: bytes = b"%PDF-1.7 brief",
    content_type: str = "application/pdf",
    **fields: str,
) -> httpx.Response:
    return await app.post(
        f"/items/{item_id}/attachments",
        token,
        files={"file": (name, content, content_type)},
        data=fields,
    )


async def uploaded(app: TicketsApp, token: str, item_id: str, **kwargs: Any) -> dict[str, Any]:
    response = await upload(app, token, item_id, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def storage_key(app: TicketsApp, attachment_id: str) -> str:
    async with app.runtime.session_factory() as session:
        row = await session.get(Attachment, attachment_id)
        assert row is not None
        return row.storage_key


def assert_problem(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"/{kind}")


# --- through the API ---------------------------------------------------------------------


async def test_upload_list_download_round_trip(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    content = os.urandom(300_000)  # several read chunks on the way out
    name = "Brief v2 \u2013 \u00e9t\u00e9.pdf"
    created = await uploaded(tickets, ws.admin_token, item_id, name=name, content=content)
    assert {k: v for k, v in created.items() if k not in ("id", "created_at")} == {
        "item_id": item_id,
        "comment_id": None,
        "filename": name,
        "content_type": "application/pdf",
        "size": len(content),
        "visibility": "public",
        "uploaded_by": ws.admin.id,
    }

    listed = (await tickets.get(f"/items/{item_id}/attachments", ws.admin_token)).json()
    assert [a["id"] for a in listed] == [created["id"]]
    meta = await tickets.get(f"/attachments/{created['id']}", ws.admin_token)
    assert meta.json() == created

    download = await tickets.get(f"/attachments/{created['id']}/content", ws.admin_token)
    assert download.status_code == 200
    assert download.content == content
    headers = download.headers
    assert headers["content-type"] == "application/pdf"
    assert headers["content-length"] == str(len(content))
    assert headers["content-disposition"] == (
        'attachment; filename="Brief v2 _ _t_.pdf"; '
        "filename*=UTF-8''Brief%20v2%20%E2%80%93%20%C3%A9t%C3%A9.pdf"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox"
    assert headers["cache-control"] == "private"

    key = await storage_key(tickets, created["id"])
    assert "brief" not in key.lower()
    assert files_in(root) == [root / key], "one file, under its key, no temporary left"
    assert (root / key).read_bytes() == content
    history = (await tickets.get(f"/items/{item_id}/activity", ws.admin_token)).json()
    assert history[-1]["kind"] == "attachment_added"
    assert history[-1]["changes"]["filename"] == name


async def test_too_large_is_refused_and_leaves_nothing(
    tickets: TicketsApp, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "attachment_max_bytes", 1024)
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    refused_upload = await upload(tickets, ws.admin_token, item_id, content=b"x" * 200_000)
    assert_problem(refused_upload, 413, "attachment-too-large")
    assert refused_upload.json()["max_bytes"] == 1024
    just_over = await upload(tickets, ws.admin_token, item_id, content=b"x" * 1025)
    assert_problem(just_over, 413, "attachment-too-large")
    assert files_in(root) == []
    assert (await tickets.get(f"/items/{item_id}/attachments", ws.admin_token)).json() == []
    at_limit = await uploaded(tickets, ws.admin_token, item_id, content=b"x" * 1024)
    assert at_limit["size"] == 1024


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/html"),
        ("notes.txt", "text/html; charset=utf-8"),
        ("logo.png", "image/svg+xml"),
        ("tool.bin", "application/x-msdownload"),
        ("run.txt", "application/x-sh"),
        ("setup.exe", "application/octet-stream"),
        ("LOGO.SVG", "image/png"),
        ("page.htm", "text/plain"),
        ("deploy.sh.", "text/plain"),
        ("invoice\u202efdp.exe", "application/pdf"),
        ("script.js", "text/plain"),
        ("index.php", "text/plain"),
        ("fix.bat", "text/plain"),
        ("fix.cmd", "text/plain"),
        ("page.html", "text/plain"),
    ],
)
async def test_executables_and_scripts_are_refused(
    tickets: TicketsApp, root: Path, name: str, content_type: str
) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    response = await upload(
        tickets, ws.admin_token, item_id, name=name, content=b"<x>", content_type=content_type
    )
    assert_problem(response, 415, "attachment-type-refused")
    assert files_in(root) == []


async def test_a_hostile_filename_is_only_a_display_name(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    unix = await uploaded(tickets, ws.admin_token, item_id, name="../../etc/passwd")
    windows = await uploaded(tickets, ws.admin_token, item_id, name="..\\..\\Windows\\win.ini")
    dots = await uploaded(tickets, ws.admin_token, item_id, name="..")
    assert (unix["filename"], windows["filename"], dots["filename"]) == (
        "passwd",
        "win.ini",
        "attachment",
    )
    keys = [await storage_key(tickets, a["id"]) for a in (unix, windows, dots)]
    assert files_in(root) == sorted(root / key for key in keys)
    download = await tickets.get(f"/attachments/{unix['id']}/content", ws.admin_token)
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
    )


async def test_what_the_form_must_hold(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    path = f"/items/{item_id}/attachments"
    no_file = await tickets.post(path, ws.admin_token, files={"visibility": (None, "public")})
    assert_problem(no_file, 422, "validation-error")
    assert no_file.json()["errors"][0]["location"] == ["body", "file"]
    not_multipart = await tickets.post(path, ws.admin_token, json={"file": "x"})
    assert_problem(not_multipart, 415, "multipart-required")
    bad_visibility = await upload(tickets, ws.admin_token, item_id, visibility="secret")
    assert_problem(bad_visibility, 422, "validation-error")
    two_files = await tickets.post(
        path,
        ws.admin_token,
        files=[("file", ("a.txt", b"a", "text/plain")), ("file", ("b.txt", b"b", "text/plain"))],
    )
    assert_problem(two_files, 422, "one-file-per-upload")
    assert files_in(root) == [], "a refused request keeps no bytes"


async def test_clients_never_see_private_attachments(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    client = await tickets.add_user(ws.id, kind="client")
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    item_id = await new_item(tickets, client.token, ws.support_project_id)
    public = await uploaded(tickets, ws.admin_token, item_id, name="proof.png")
    private = await uploaded(
        tickets, ws.admin_token, item_id, name="margin.xlsx", visibility="private"
    )
    assert private["visibility"] == "private"
    note = await tickets.post(
        f"/items/{item_id}/comments",
        ws.admin_token,
        json={"body": "Internal: cost breakdown", "visibility": "private"},
    )
    on_note = await uploaded(
        tickets, ws.admin_token, item_id, name="costs.csv", comment_id=note.json()["id"]
    )
    assert on_note["visibility"] == "private", "a private note's attachments are private"

    staff_sees = (await tickets.get(f"/items/{item_id}/attachments", ws.admin_token)).json()
    assert len(staff_sees) == 3
    client_sees = (await tickets.get(f"/items/{item_id}/attachments", client.token)).json()
    assert [a["id"] for a in client_sees] == [public["id"]]
    for hidden in (private, on_note):
        for sub in ("", "/content"):
            seen = await tickets.get(f"/attachments/{hidden['id']}{sub}", client.token)
            assert_problem(seen, 404, "not-found")
        assert_problem(
            await tickets.delete(f"/attachments/{hidden['id']}", client.token), 404, "not-found"
        )
    history = str((await tickets.get(f"/items/{item_id}/activity", client.token)).json())
    assert "proof.png" in history
    assert "margin.xlsx" not in history and "costs.csv" not in history

    own_private = await upload(tickets, client.token, item_id, visibility="private")
    assert_problem(own_private, 403, "forbidden")
    onto_note = await upload(tickets, client.token, item_id, comment_id=note.json()["id"])
    assert_problem(onto_note, 404, "not-found")
    mine = await uploaded(tickets, client.token, item_id, name="photo.jpg")
    assert (mine["visibility"], mine["uploaded_by"]) == ("public", client.id)
    assert (await tickets.delete(f"/attachments/{mine['id']}", client.token)).status_code == 204
    assert len(files_in(root)) == 3, "refused client uploads kept nothing; the deleted one went"


async def test_roles_decide_who_uploads_and_deletes(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    people: dict[str, User] = {}
    for role in ("viewer", "contributor", "manager"):
        people[role] = await tickets.add_user(ws.id, kind="collaborator")
        await tickets.grant(ws.id, ws.support_project_id, people[role].id, role)
    colleague = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, ws.support_project_id, colleague.id, "contributor")
    stranger = await tickets.add_user(ws.id, kind="collaborator")

    assert_problem(await upload(tickets, stranger.token, item_id), 404, "not-found")
    assert_problem(await upload(tickets, people["viewer"].token, item_id), 403, "forbidden")
    first = await uploaded(tickets, people["contributor"].token, item_id)
    second = await uploaded(tickets, people["contributor"].token, item_id)
    viewer_reads = await tickets.get(f"/attachments/{first['id']}/content", people["viewer"].token)
    assert viewer_reads.status_code == 200
    gone = await tickets.get(f"/attachments/{first['id']}", stranger.token)
    assert_problem(gone, 404, "not-found")
    refused_delete = await tickets.delete(f"/attachments/{first['id']}", colleague.token)
    assert_problem(refused_delete, 403, "forbidden")
    own = await tickets.delete(f"/attachments/{first['id']}", people["contributor"].token)
    assert own.status_code == 204
    managed = await tickets.delete(f"/attachments/{second['id']}", people["manager"].token)
    assert managed.status_code == 204
    assert files_in(root) == []


async def test_deleting_removes_the_row_and_the_file(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    kept = await uploaded(tickets, ws.admin_token, item_id, name="keep.pdf")
    doomed = await uploaded(tickets, ws.admin_token, item_id, name="drop.pdf")
    doomed_file = root / await storage_key(tickets, doomed["id"])
    assert doomed_file.is_file()
    response = await tickets.delete(f"/attachments/{doomed['id']}", ws.admin_token)
    assert response.status_code == 204
    assert not doomed_file.exists()
    assert files_in(root) == [root / await storage_key(tickets, kept["id"])]
    for sub in ("", "/content"):
        assert_problem(
            await tickets.get(f"/attachments/{doomed['id']}{sub}", ws.admin_token), 404, "not-found"
        )
    assert_problem(
        await tickets.delete(f"/attachments/{doomed['id']}", ws.admin_token), 404, "not-found"
    )
    listed = (await tickets.get(f"/items/{item_id}/attachments", ws.admin_token)).json()
    assert [a["id"] for a in listed] == [kept["id"]]
    history = (await tickets.get(f"/items/{item_id}/activity", ws.admin_token)).json()
    assert history[-1]["kind"] == "attachment_removed"


async def test_a_deleted_comment_takes_its_attachments_along(
    tickets: TicketsApp, root: Path
) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    reply = await tickets.post(
        f"/items/{item_id}/comments", ws.admin_token, json={"body": "Here it is"}
    )
    attached = await uploaded(
        tickets, ws.admin_token, item_id, name="v1.pdf", comment_id=reply.json()["id"]
    )
    assert attached["comment_id"] == reply.json()["id"]
    await tickets.delete(f"/comments/{reply.json()['id']}", ws.admin_token)
    assert (await tickets.get(f"/items/{item_id}/attachments", ws.admin_token)).json() == []
    assert_problem(
        await tickets.get(f"/attachments/{attached['id']}/content", ws.admin_token),
        404,
        "not-found",
    )


async def test_attaching_to_someone_elses_comment_needs_manager_rights(
    tickets: TicketsApp, root: Path
) -> None:
    ws = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    contributor = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, ws.support_project_id, contributor.id, "contributor")
    reply = await tickets.post(f"/items/{item_id}/comments", ws.admin_token, json={"body": "Hi"})
    refused_upload = await upload(
        tickets, contributor.token, item_id, comment_id=reply.json()["id"]
    )
    assert_problem(refused_upload, 403, "forbidden")
    other_item = await new_item(tickets, ws.admin_token, ws.support_project_id)
    elsewhere = await upload(tickets, ws.admin_token, other_item, comment_id=reply.json()["id"])
    assert_problem(elsewhere, 404, "not-found")
    assert files_in(root) == []


async def test_other_workspaces_see_nothing(tickets: TicketsApp, root: Path) -> None:
    ws = await tickets.new_workspace()
    other: Workspace = await tickets.new_workspace()
    item_id = await new_item(tickets, ws.admin_token, ws.support_project_id)
    created = await uploaded(tickets, ws.admin_token, item_id)
    outsider = other.admin_token
    for method, path in (
        ("GET", f"/attachments/{created['id']}"),
        ("GET", f"/attachments/{created['id']}/content"),
        ("DELETE", f"/attachments/{created['id']}"),
        ("GET", f"/items/{item_id}/attachments"),
    ):
        assert_problem(await tickets.request(method, path, outsider), 404, "not-found")
    assert_problem(await upload(tickets, outsider, item_id), 404, "not-found")
    assert len(files_in(root)) == 1
    assert (await tickets.get(f"/attachments/{created['id']}", ws.admin_token)).status_code == 200


# --- pure policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\Desktop\\brief.docx", "brief.docx"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ('quote"s<and>pipes|?.txt', "quote_s_and_pipes__.txt"),
        ("  spaced   out  .png ", "spaced out .png"),
        (".htaccess", "htaccess"),
        ("...", "attachment"),
        ("", "attachment"),
        ("CON.txt", "_CON.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_display_name(raw: str, expected: str) -> None:
    assert display_name(raw) == expected


def test_refused_by_type_or_by_extension() -> None:
    assert refused("notes.txt", "text/html")
    assert refused("Setup.EXE", "application/octet-stream")
    assert not refused("brief.pdf", "application/pdf")
    assert not refused("archive.zip", "application/zip")
    assert not refused("README", "text/plain")


def test_content_disposition_encodes_for_every_agent() -> None:
    assert content_disposition("plan.pdf") == (
        "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
    )
    assert content_disposition('50% "final" \\ draft.pdf') == (
        'attachment; filename="50_ _final_ _ draft.pdf"; '
        "filename*=UTF-8''50%25%20%22final%22%20%5C%20draft.pdf"
    )
    assert content_disposition("日本.txt") == (
        "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"
    )


# --- local storage -----------------------------------------------------------------------


async def read_all(storage: LocalStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.open(key)])


async def test_local_storage_round_trip_and_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key()
    assert key != new_key()
    await storage.put(key, b"hello")
    assert storage.path(key).parent.parent.parent == storage.root, "two shard levels"
    assert await read_all(storage, key) == b"hello"
    await storage.delete(key)
    assert not storage.path(key).exists()
    await storage.delete(key)  # already gone: not an error
    with pytest.raises(StoredObjectMissing):
        await storage.open(key)


async def test_local_storage_rejects_keys_it_did_not_mint(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    for key in ("../../etc/passwd", "/etc/passwd", "ab/cd/../../../x", "report.pdf"):
        with pytest.raises(ValueError, match="not a storage key"):
            storage.path(key)


async def test_local_storage_writes_atomically(tmp_path: Path) -> None:
    """Until the last byte is in, the key does not exist; only a hidden temporary file does."""
    storage = LocalStorage(tmp_path)
    key = new_key()
    halfway, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * WRITE_BUFFER  # a full buffer: written to disk at once
        halfway.set()
        await finish.wait()
        yield b"tail"

    writing = asyncio.create_task(storage.put(key, slow()))
    await asyncio.wait_for(halfway.wait(), 10)
    assert not storage.path(key).exists()
    (partial,) = files_in(tmp_path)
    assert partial.name.startswith(".") and partial.name.endswith(".part")
    assert partial.stat().st_size == WRITE_BUFFER
    finish.set()
    await writing
    assert files_in(tmp_path) == [storage.path(key)]
    assert await read_all(storage, key) == b"a" * WRITE_BUFFER + b"tail"


async def test_local_storage_keeps_nothing_of_a_failed_or_cancelled_write(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    started = asyncio.Event()

    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * WRITE_BUFFER
        raise RuntimeError("client went away")

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"b" * WRITE_BUFFER
            started.set()
            await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError, match="client went away"):
        await storage.put(new_key(), failing())
    cancelled = asyncio.create_task(storage.put(new_key(), endless()))
    await asyncio.wait_for(started.wait(), 10)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert files_in(tmp_path) == []
