"""Privacy tests drive imports as the import tests do."""

from __future__ import annotations

import pytest

from tests.gateway.imports.conftest import Importer, csv_bytes  # noqa: F401


@pytest.fixture
def importer(client, tenant, run_jobs) -> Importer:
    return Importer(client, tenant, run_jobs)


from tests.connectors.conftest import hooks  # noqa: E402, F401 (shared fixtures)
from tests.forms.conftest import make_form, visitor  # noqa: E402, F401
from tests.gateway.admin.conftest import admin, admin_client, admin_page  # noqa: E402, F401
