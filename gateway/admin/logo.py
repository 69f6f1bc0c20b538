"""Settings → Logo: the account's logo, shown next to its name on the thank-you and
confirmation pages a visitor sees after a form.

Kept in ``Account.logo`` as an http(s) address, or, for an uploaded image, as a ``data:`` URI
(small raster images only: no file store to keep, and an SVG could carry script)."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from forms import public
from gateway.admin import csrf
from gateway.admin.account_settings import failed
from gateway.admin.pages import Viewer, page, redirect
from gateway.admin.session import flash
from gateway.errors import ValidationFailed
from gateway.i18n import _, number
from gateway.models import Account
from gateway.validation import single_line
from gateway.web import in_db

MAX_BYTES = 100 * 1024
URL_LIMIT = 2000
# What an image file starts with → its media type.
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def image_type(data: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image, from its first bytes; else None."""
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_url(value: str) -> str:
    """An absolute http(s) address of at most 2,000 characters, or ValidationFailed."""
    url = single_line(value).strip()
    parts = urlsplit(url)
    if len(url) > URL_LIMIT or parts.scheme not in ("http", "https") or not parts.hostname \
            or " " in url:
        raise _invalid("logo_url", _("A web address of an image, such as "
                                     "https://www.example.com/logo.png."))
    return url


def from_upload(data: bytes) -> str:
    """A ``data:`` URI of an uploaded image, or ValidationFailed (too large, not an image)."""
    if len(data) > MAX_BYTES:
        raise _invalid("logo_file", _("The image is over %(size)s KB: make it smaller (a logo "
                                      "needs about 200 pixels wide).")
                       % {"size": number(MAX_BYTES // 1024)})
    kind = image_type(data)
    if kind is None:
        raise _invalid("logo_file", _("Choose a PNG, JPEG, GIF or WebP image."))
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "code": "invalid", "message": message}])


async def _chosen(form) -> str | None:
    """The logo the form asks for: removed, an upload, an address, or unchanged (``...``)."""
    if form.get("remove"):
        return None
    upload = form.get("logo_file")
    if isinstance(upload, UploadFile) and upload.filename:
        return from_upload(await upload.read(MAX_BYTES + 1))
    if str(form.get("logo_url") or "").strip():
        return clean_url(str(form.get("logo_url")))
    raise _invalid("logo_url", _("Give the address of an image, or choose a file."))


@page()
async def save(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/logo (``logo_url``, or ``logo_file``, or ``remove``)."""
    form = await csrf.checked_form(request, max_files=1, max_fields=10)
    try:
        logo = await _chosen(form)
    except ValidationFailed as exc:
        return await failed(request, viewer, "logo", exc,
                            {"logo_url": str(form.get("logo_url") or "")})
    finally:
        await form.close()  # the upload's temporary file

    def store():
        Account.update(logo=logo).where(Account.id == viewer.account_id).execute()
        public.clear_cache()  # visitors' pages show it at once
    await in_db(store)
    flash(request, _("The logo was removed.") if logo is None else
          _("The logo now shows on the pages after your forms."))
    return redirect(request, "settings")
