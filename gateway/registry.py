"""The one list of areas the gateway is assembled from (see ``gateway.area``).

Its order is the order of tables, routes, commands, OpenAPI parts, job modules and sweeps.
"""

from __future__ import annotations

from connectors.area import AREA as CONNECTORS
from events.area import AREA as EVENTS
from forms.area import AREA as FORMS
from gateway.admin.area import AREA as ADMIN
from gateway.api.area import AREA as API
from gateway.core import AREA as CORE
from gateway.imports.area import AREA as IMPORTS
from privacy.area import AREA as PRIVACY

AREAS = [CORE, API, IMPORTS, FORMS, CONNECTORS, EVENTS, PRIVACY, ADMIN]
