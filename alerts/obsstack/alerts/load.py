"""Loading an SLO spec file of any accepted format into an :class:`obsstack.alerts.model.SLOSpec`.

The format is told by the first document: ``version: obsstack/v1`` (``alerts/slos.yaml``, a
single document) or a foreign file, whose documents (``---``) are each read on their own, as
Sloth reads them: ``version: prometheus/v1`` (a Sloth spec), ``apiVersion: openslo/v1alpha``
(the OpenSLO version Sloth reads) or ``apiVersion: openslo/v1`` (OpenSLO documents, which may
refer to each other within the file). An obsstack spec may ``include`` foreign files, so teams
can migrate one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obsstack.alerts import openslo, openslo_v1alpha, sloth
from obsstack.alerts.build import Defaults, Links, check_unique_slos
from obsstack.alerts.model import SLO, Service, SLOSpec
from obsstack.alerts.spec import VERSION, read_document
from obsstack.alerts.windows import WindowTable, builtin_tables
from obsstack.core import plain_yaml
from obsstack.core.root import SLO_SPEC, find_root
from obsstack.core.spec import ConfigError, Environment, Section, load_all_yaml

FOREIGN_VERSIONS = (sloth.VERSION, openslo_v1alpha.VERSION, openslo.VERSION)
FOREIGN_FORMATS = (
    f"version: {sloth.VERSION} (Sloth), apiVersion: {openslo_v1alpha.VERSION} or "
    f"{openslo.VERSION} (OpenSLO)"
)


def display_path(path: Path) -> str:
    """``path`` for messages and headers: relative to the obsstack directory holding it, when
    one does, so the same file is named the same whatever the working directory."""
    resolved = path.resolve()
    try:
        root = find_root(start=resolved.parent)
    except ConfigError:
        return str(path)
    return str(resolved.relative_to(root))


def load_spec(path: Path | str) -> SLOSpec:
    """Read, map and validate a spec file; bad input raises ConfigError (file, key path, reason)."""
    path = Path(path)
    file = display_path(path)
    env = Environment()  # one for every file read, so that no message shows what ${NAME} holds
    documents = load_all_yaml(path, file)
    if not documents:
        raise ConfigError(file, "", "is empty")
    builtin = builtin_tables()
    first = documents[0]
    kind = _format(first)
    if kind == VERSION:
        if len(documents) > 1:
            raise ConfigError(file, "", "an obsstack/v1 spec is a single YAML document")
        document = Section(first, file, base_dir=path.parent, env=env)
        document.string("version", choices=(VERSION,))
        parsed = read_document(document, builtin)
        services, slos = list(parsed.services), list(parsed.slos)
        for included in _includes(path, file, parsed.includes):
            slos += _read_foreign(
                included.path, parsed.defaults, parsed.tables, env, f"{file}: {included.where}"
            )
        services = _with_implicit_services(services, slos)
        links = parsed.defaults.links
    elif kind in FOREIGN_VERSIONS:
        slos = _read_foreign(path, Defaults(), builtin, env)
        services = _with_implicit_services([], slos)
        links = Links()
    else:
        shown = _quoted(kind)
        raise ConfigError(
            file, "version", f"must be {VERSION} (obsstack), {FOREIGN_FORMATS} (got {shown})"
        )
    if not slos:
        raise ConfigError(file, "slos", "must list at least one SLO")
    check_unique_slos(slos, env.hide)
    return SLOSpec(file, tuple(services), tuple(slos), links.grafana.rstrip("/"), links.runbooks)


@dataclass(frozen=True)
class _Include:
    path: Path
    where: str  # key path in the including file


def _includes(path: Path, file: str, includes: list[tuple[str, str]]) -> list[_Include]:
    """The files an obsstack spec includes, each a readable file given once. What keeps a file
    from being read is the including file's error (at ``include[i]``); what is wrong inside an
    included file is the included file's."""
    found: dict[Path, str] = {}
    out = []
    for written, where in includes:
        target = path.parent / written
        if not target.exists():
            raise ConfigError(file, where, "not found")
        try:
            plain_yaml.check_file(target)
        except plain_yaml.FileProblem as problem:
            reason = f"cannot read: {problem.reason}" if problem.os_error else problem.reason
            raise ConfigError(file, where, f"{_quoted(written)} {reason}") from None
        resolved = target.resolve()
        if resolved in found:
            raise ConfigError(file, where, f"includes the file of {found[resolved]} again")
        found[resolved] = where
        out.append(_Include(target, where))
    return out


def load_default_spec(root: Path | None = None) -> SLOSpec:
    """The spec of the obsstack directory (``alerts/slos.yaml``; see :mod:`obsstack.core.root`)."""
    return load_spec(find_root(root) / SLO_SPEC)


def _quoted(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _format(document: Any) -> str:
    if isinstance(document, dict):
        if "apiVersion" in document:
            return str(document["apiVersion"])
        return str(document.get("version", ""))
    return ""


def _read_foreign(
    path: Path,
    defaults: Defaults,
    tables: dict[str, WindowTable],
    env: Environment,
    included_from: str = "",
) -> list[SLO]:
    """Every SLO of a Sloth or OpenSLO file, in document order; each document is read on its
    own (key paths start with ``documents[i]``, but for a file of one Sloth spec)."""
    file = display_path(path)
    documents = load_all_yaml(path, file)
    if not documents:
        raise ConfigError(file, "", "is empty")
    found: list[tuple[int, SLO]] = []
    openslo_v1: list[tuple[int, Any]] = []
    for index, data in enumerate(documents):
        where = f"documents[{index}]"
        kind = _format(data)
        if kind == sloth.VERSION:
            document = Section(data, file, where if len(documents) > 1 else "", env=env)
            found += [(index, slo) for slo in sloth.read(document, defaults, tables)]
        elif kind == openslo_v1alpha.VERSION:
            document = Section(data, file, where, env=env)
            found += [(index, slo) for slo in openslo_v1alpha.read(document, defaults, tables)]
        elif kind == openslo.VERSION:
            openslo_v1.append((index, data))
        else:
            path_in_file = where if len(documents) > 1 else ""
            origin = f" (included from {included_from})" if included_from else ""
            raise ConfigError(file, path_in_file, f"must be {FOREIGN_FORMATS}{origin}")
    found += openslo.read(openslo_v1, file, defaults, tables, env)
    if not found:
        raise ConfigError(file, "", "has no kind: SLO document")
    return [slo for _index, slo in sorted(found, key=lambda pair: pair[0])]


def _with_implicit_services(services: list[Service], slos: list[SLO]) -> list[Service]:
    """Services named only by Sloth or OpenSLO SLOs, added with no dependencies."""
    known = {s.name for s in services}
    for slo in slos:
        if slo.service not in known:
            services.append(Service(slo.service))
            known.add(slo.service)
    return services
