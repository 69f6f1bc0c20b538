"""The rows validation checked, kept next to the file so finalise need not parse and check
them again. Finalise only trusts a complete spool made under the same vocabularies and
mapping; otherwise it reads the file itself (same result, slower).

Each validation part writes its own spool, and a key file listing its valid rows' addresses
for the duplicate-in-file check across parts."""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import pickle  # noqa: S403 (our own file under INLET_DATA_DIR, never user-supplied)
from collections.abc import Iterator
from pathlib import Path

from gateway import runtime, validation
from gateway.imports.models import Import
from gateway.validation import AccountVocabulary

VERSION = 2


def file_path(imp: Import) -> Path:
    """Where the import's file lives (under INLET_DATA_DIR, shared by web and workers)."""
    return runtime.settings().data_dir / imp.path


class Unusable(Exception):
    """The spool is missing, stale or torn: read the file instead."""


def path_for(csv_path: Path, part: str) -> Path:
    """The spool of one validation part (named by its run and number) of an import's file."""
    return csv_path.with_suffix(f".checked-{part}")


def keys_path(csv_path: Path, part: str) -> Path:
    """The key file of one validation part: [(email, record, flags)] of its valid rows."""
    return csv_path.with_suffix(f".keys-{part}")


def write_keys(path: Path, keys: list) -> None:
    """Write a key file whole (a retried part rewrites it)."""
    tmp = path.with_suffix(path.suffix + "-tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(keys, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def read_keys(path: Path) -> list:
    """The keys a part wrote."""
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 (see the import)


@functools.cache
def rules() -> str:
    """A digest of the validation rules' source: what validation accepts, finalise writes,
    so a spool checked under other rules (before an upgrade) is checked again."""
    return hashlib.sha256(Path(validation.__file__).read_bytes()).hexdigest()


def fingerprint(imp: Import, vocab: AccountVocabulary) -> str:
    """What the checked values depend on: the rules, the vocabularies, the columns, the
    mapping and the fixes."""
    basis = [VERSION, rules(), sorted(vocab.languages), sorted(vocab.sources),
             sorted(vocab.preferences), sorted(vocab.interests),
             sorted((k, v[0], list(v[1])) for k, v in vocab.fields.items()),
             imp.columns, imp.mapping, imp.fixes or []]
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


class Writer:
    """Writes (end record, rows covered, [(record, clean)]) chunks, then a trailer."""

    def __init__(self, path: Path, stamp: str):
        self.path, self.stamp = path, stamp
        self.tmp = path.with_suffix(path.suffix + "-tmp")  # one per part: parts run at once

    def __enter__(self) -> Writer:
        self.fh = open(self.tmp, "wb")
        pickle.dump(("inlet-spool", self.stamp), self.fh, protocol=pickle.HIGHEST_PROTOCOL)
        return self

    def write(self, end: int, covered: int, items: list) -> None:
        """One chunk of checked rows."""
        pickle.dump((end, covered, items), self.fh, protocol=pickle.HIGHEST_PROTOCOL)

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            pickle.dump(None, self.fh)  # the trailer: the spool is complete
        self.fh.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_all(paths: list[Path], stamp: str) -> Iterator[tuple[int, int, list]]:
    """The chunks of several part spools in order; raises Unusable if any is unusable."""
    if not paths:
        raise Unusable()
    for path in paths:
        yield from read(path, stamp)


def read(path: Path, stamp: str) -> Iterator[tuple[int, int, list]]:
    """The chunks of a complete spool made under ``stamp``; raises Unusable otherwise."""
    try:
        fh = open(path, "rb")
    except OSError:
        raise Unusable() from None
    with fh:
        try:
            if pickle.load(fh) != ("inlet-spool", stamp):  # noqa: S301 (see the import)
                raise Unusable()
            while (chunk := pickle.load(fh)) is not None:  # noqa: S301
                yield chunk
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError):
            raise Unusable() from None


def remove(csv_path: Path) -> None:
    """Drop every part's spool and key file once the import is done."""
    for pattern in (".checked*", ".keys*"):
        for path in csv_path.parent.glob(glob.escape(csv_path.stem) + pattern):
            path.unlink(missing_ok=True)
