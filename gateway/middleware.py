"""Pure-ASGI middleware: security headers on every answer; NUL in a URL refused; the
language of the answer."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders

from gateway import i18n

DEFAULT_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
}


class SecurityHeaders:
    """Adds the default security headers unless a route set its own (embeds relax framing)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)
        await self.app(scope, receive, send_with_headers)


class RefuseNul:
    """400 for a NUL byte in the path or query: PostgreSQL text can't hold one (no 500s)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and ("\x00" in scope["path"]
                                        or b"%00" in scope.get("query_string", b"")):
            from gateway.errors import BadRequest, error_response
            response = error_response(BadRequest("The URL holds a NUL character."))
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


class Language:
    """Texts of the answer in the browser's language (``Accept-Language``); English otherwise.

    Admin pages refine it with the user's own choice (``gateway.admin.pages``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = Headers(scope=scope).get("accept-language")
        with i18n.use(i18n.from_accept_language(header)):
            await self.app(scope, receive, send)
