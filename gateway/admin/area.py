"""The admin UI area: server-rendered pages under /admin."""

from __future__ import annotations

from gateway.area import Area

AREA = Area(name="admin", routes="gateway.admin.routes.routes")
