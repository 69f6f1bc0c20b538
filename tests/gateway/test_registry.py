"""The one list of areas: every declared area is in it, and every part it names exists."""

import importlib
from pathlib import Path

import pytest

import gateway.convertors  # noqa: F401  (as in gateway.app: route modules use its convertors)
from gateway.area import Area
from gateway.db import BaseModel, SchemaVersion
from gateway.dotted import resolve
from gateway.registry import AREAS
from gateway.schema import all_models

ROOT = Path(__file__).resolve().parent.parent.parent


def _declarations() -> list[str]:
    """Every module declaring an area: each package's ``area.py``, and the core's."""
    found = ["gateway.core"]
    for package in ("gateway", "forms", "connectors"):
        for path in (ROOT / package).rglob("area.py"):
            if path.parent != ROOT / "gateway":  # gateway/area.py is the contract itself
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


@pytest.mark.parametrize("module", _declarations())
def test_every_declared_area_is_registered(module):
    area = importlib.import_module(module).AREA
    assert isinstance(area, Area) and area in AREAS


def test_area_names_are_unique():
    names = [area.name for area in AREAS]
    assert len(names) == len(set(names))


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_table_belongs_to_an_area():
    for area in AREAS:  # load every area's modules, so no model class is left unimported
        for part in ("public_routes", "routes", "api_routes", "commands"):
            area.load(part)
    models = all_models()
    assert len(models) == len(set(models))
    assert {m for m in _subclasses(BaseModel) if m is not SchemaVersion} <= set(models)


@pytest.mark.parametrize("area", AREAS, ids=lambda area: area.name)
def test_every_named_part_exists(area):
    for part in ("public_routes", "routes", "api_routes", "commands"):
        assert isinstance(area.load(part), list)
    for path in area.sweeps:
        assert callable(resolve(path))
    for name in area.job_modules:
        importlib.import_module(name)
