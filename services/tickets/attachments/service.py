"""Files on an item or on one of its comments.

An attachment is exactly as visible as what it hangs on: a private note's files are private,
whatever the uploader asked, and a client never learns that a private one exists. Uploads are
checked twice: once before the body is read (can this caller attach here at all?) so nobody
without the right fills the disk, and again with the form's fields once they are known.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kit.access import authorizer
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.attachments import repository
from services.tickets.attachments.schemas import AttachmentCreate
from services.tickets.attachments.storage import AttachmentStorage, new_key
from services.tickets.attachments.upload import FileHeader
from services.tickets.conversation import repository as conversation
from services.tickets.ids import new_id, now
from services.tickets.items import service as items
from services.tickets.models import Attachment

DENIED_CONTENT_TYPES = frozenset(
    {
        # Executables and installers.
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msi",
        "application/x-ms-installer",
        "application/x-executable",
        "application/x-elf",
        "application/x-mach-binary",
        "application/java-archive",
        "application/x-java-archive",
        "application/hta",
        # Scripts.
        "application/x-sh",
        "application/x-shellscript",
        "text/x-shellscript",
        "text/x-sh",
        "application/x-csh",
        "application/x-bat",
        "application/bat",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/javascript",
        "text/ecmascript",
        "application/x-httpd-php",
        "application/x-php",
        "application/php",
        "text/x-php",
        "text/php",
        "text/vbscript",
        "application/x-powershell",
        # Documents a browser runs scripts in.
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
    }
)
"""Refused whatever the file is called; a browser or a desktop would run them on a double
click. Downloads are also served inert (see the endpoints); this is the second fence."""

DENIED_EXTENSIONS = frozenset(
    {
        *("exe", "com", "scr", "pif", "msi", "msp", "dll", "cpl", "jar", "hta", "lnk", "reg"),
        *("bat", "cmd", "ps1", "psm1", "vbs", "vbe", "wsf", "wsh", "js", "mjs", "jse"),
        *("sh", "bash", "zsh", "csh", "ksh", "php", "phtml", "php3", "php4", "php5", "phar"),
        *("html", "htm", "xhtml", "shtml", "svg", "svgz"),
    }
)
"""Refused whatever content type the client declares: the declared type is the client's word,
the extension is what the downloader's system will act on."""

FALLBACK_NAME = "attachment"
FALLBACK_CONTENT_TYPE = "application/octet-stream"
MAX_NAME = 255

_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_UNSAFE = frozenset('<>:"/\\|?*')
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)


def display_name(raw: str) -> str:
    """A name safe to show and to offer as a download name on any system.

    Directories are dropped (both separators: old browsers send `C:\\path\\file`), control and
    bidi-override characters removed (`invoice\\u202efdp.exe` would read as a PDF), characters
    Windows forbids replaced, and device names like `CON` defused. Storage never uses it.
    """
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        "_" if ch in _UNSAFE else ch for ch in name if unicodedata.category(ch) not in _INVISIBLE
    )
    name = " ".join(name.split()).strip(" .")
    if not name:
        return FALLBACK_NAME
    if name.split(".")[0].lower() in _RESERVED:
        name = f"_{name}"
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension) > 16:
            return name[:MAX_NAME].rstrip(" .")
        return f"{stem[: MAX_NAME - len(extension) - 1].rstrip(' .')}.{extension}"
    return name


def content_type_of(declared: str) -> str:
    """The declared type without parameters, if it is a well-formed media type at all."""
    kind = declared.split(";", 1)[0].strip().lower()
    if len(kind) <= 127 and _MIME.fullmatch(kind):
        return kind
    return FALLBACK_CONTENT_TYPE


def refused(filename: str, content_type: str) -> bool:
    _, dot, extension = filename.rpartition(".")
    return content_type in DENIED_CONTENT_TYPES or (
        bool(dot) and extension.lower() in DENIED_EXTENSIONS
    )


@dataclass(frozen=True)
class StoredUpload:
    """A file already in storage but not yet recorded: the caller records it or deletes it."""

    key: str
    filename: str
    content_type: str
    size: int


async def admit(uow: UnitOfWork, principal: Principal, item_id: str) -> None:
    """Before any byte is accepted: every upload needs at least `comment` on the item (a
    private one needs more, checked in `attach`)."""
    await items.load(uow, principal, item_id, "comment")


async def store(
    storage: AttachmentStorage,
    header: FileHeader,
    chunks: AsyncIterator[bytes],
    *,
    max_bytes: int,
) -> StoredUpload:
    """Type refused from the headers, before anything is written; size counted while the bytes
    stream into storage, which drops the partial file when the limit is crossed."""
    if header.field != "file":
        raise Problem(422, "file-field-expected", "Send the file in the `file` field.")
    filename = display_name(header.filename)
    content_type = content_type_of(header.content_type)
    if refused(filename, content_type):
        raise Problem(
            415,
            "attachment-type-refused",
            "Executables, scripts and web pages cannot be attached; send them zipped.",
            filename=filename,
            content_type=content_type,
        )
    size = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise Problem(
                    413,
                    "attachment-too-large",
                    f"Attachments may be at most {max_bytes} bytes.",
                    max_bytes=max_bytes,
                )
            yield chunk

    key = new_key()
    await storage.put(key, counted())
    return StoredUpload(key, filename, content_type, size)


async def attach(
    uow: UnitOfWork,
    principal: Principal,
    item_id: str,
    form: AttachmentCreate,
    stored: StoredUpload,
) -> Attachment:
    if form.visibility == "private" and principal.is_client:
        raise Problem(403, "forbidden", "Clients cannot upload private attachments.")
    loaded = await items.load(uow, principal, item_id, "comment")
    visibility = form.visibility
    if form.comment_id is not None:
        comment = await conversation.comment(uow.session, principal.workspace_id, form.comment_id)
        if (
            comment is None
            or comment.item_id != loaded.row.id
            or (principal.is_client and comment.visibility == "private")
        ):
            raise Problem(404, "not-found", "No such comment on this item.")
        if comment.visibility == "private":
            visibility = "private"
        if comment.author_id != principal.subject:
            # Adding a file changes what someone else's comment says, as editing it would.
            await authorizer.require_on_item(uow.session, principal, "delete_item", loaded.facts())
    if visibility == "private":
        await authorizer.require_on_item(uow.session, principal, "comment_private", loaded.facts())
    row = Attachment(
        id=new_id(),
        workspace_id=loaded.row.workspace_id,
        item_id=loaded.row.id,
        comment_id=form.comment_id,
        filename=stored.filename,
        content_type=stored.content_type,
        size=stored.size,
        storage_key=stored.key,
        visibility=visibility,
        uploaded_by=principal.subject if principal.kind != "service" else None,
        created_at=now(),
    )
    repository.add(uow.session, row)
    items.record(
        uow,
        loaded.row,
        principal,
        "attachment_added",
        {
            "attachment_id": row.id,
            "filename": row.filename,
            "size": row.size,
            "comment_id": row.comment_id,
        },
        visibility,
    )
    return row


async def _sees_private(uow: UnitOfWork, principal: Principal, loaded: items.LoadedItem) -> bool:
    return await authorizer.can_on_item(uow.session, principal, "view_private", loaded.facts())


async def listing(uow: UnitOfWork, principal: Principal, item_id: str) -> list[Attachment]:
    loaded = await items.load(uow, principal, item_id, "view")
    return await repository.attachments(
        uow.session,
        principal.workspace_id,
        loaded.row.id,
        public_only=not await _sees_private(uow, principal, loaded),
    )


async def visible(
    uow: UnitOfWork, principal: Principal, attachment_id: str
) -> tuple[Attachment, items.LoadedItem]:
    """The attachment and its item, or 404 alike for one that does not exist, sits in another
    workspace, on an item the caller cannot see, or is private and the caller is a client."""
    row = await repository.attachment(uow.session, principal.workspace_id, attachment_id)
    if row is None:
        raise Problem(404, "not-found", "No such attachment.")
    try:
        loaded = await items.load(uow, principal, row.item_id, "view")
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "not-found", "No such attachment.") from None
        raise
    if row.visibility == "private" and not await _sees_private(uow, principal, loaded):
        raise Problem(404, "not-found", "No such attachment.")
    return row, loaded


async def remove(uow: UnitOfWork, principal: Principal, attachment_id: str) -> str:
    """Delete the row; returns the storage key, for the edge to delete the bytes once the
    transaction committed (the other order could leave a row whose file is gone)."""
    row, loaded = await visible(uow, principal, attachment_id)
    if row.uploaded_by != principal.subject:
        await authorizer.require_on_item(uow.session, principal, "delete_item", loaded.facts())
    items.record(
        uow,
        loaded.row,
        principal,
        "attachment_removed",
        {"attachment_id": row.id, "filename": row.filename},
        row.visibility,
    )
    await repository.remove(uow.session, row)
    return row.storage_key
