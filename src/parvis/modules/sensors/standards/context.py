"""JSON-LD contexts for NGSI-LD: term expansion and compaction for flat contexts.

NGSI-LD entity types and attribute names are JSON-LD terms: Parvis stores their full IRIs and
compacts them with the context of each request. The contexts Parvis knows (the NGSI-LD core
context, a merged Smart Data Models context and the contexts of the Smart Data Models subjects
it reads) ship with the package and are served by URL from memory; nothing is fetched at run
time unless an operator lists a URL in an allow-list, and then only through the loader given by
the caller.

Only what NGSI-LD payloads use is supported: term -> IRI (string or ``{"@id": ...}``), compact
IRIs through prefixes (``ngsi-ld:location``), ``@vocab``, and lists mixing URLs and objects. A
scoped context (a term definition with its own ``@context``), which CIM 009 5.5.7 forbids in a
user context, is refused.
Compaction follows JSON-LD 1.1's IRI compaction for these: a term, else the vocabulary's
suffix (unless that suffix is a term of its own), else the shortest compact IRI through a term
that may be a prefix (a plain term whose IRI ends with ``/``, ``#``, ``:``... or one marked
``@prefix``), else the IRI: a default-context attribute read with a context that names another
``almostFull`` comes back as ``ngsi-ld:default-context/almostFull``, as other brokers answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_CONTEXT_URL = "https://smartdatamodels.org/context.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"

CORE_FILE = "ngsi-ld-core-context-v1.8.jsonld"
# The ETSI core context URLs clients send: every version from 1.3 on maps the terms Parvis uses
# (Property, value, object, observedAt, location...) to the same IRIs, so all answer with v1.8.
CORE_CONTEXT_URLS = (
    CORE_CONTEXT_URL,
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    *(f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{minor}.jsonld" for minor in range(3, 8)),
)
# Smart Data Models subjects whose types Parvis reads (traffic, parking, air, waste). Each has its
# own context, published at these URLs and used by the models' examples; Parvis ships, for each,
# the terms it knows with the IRIs that subject's context gives them (they differ between
# subjects for shared names: ``refDevice``, ``category``, ``occupancy``...). A subject's other
# terms fall into the default vocabulary.
SDM_SUBJECTS = ("Environment", "Parking", "Transportation", "WasteManagement")


def _subject_urls(subject: str) -> tuple[str, ...]:
    return (f"https://raw.githubusercontent.com/smart-data-models/dataModel.{subject}/master/context.jsonld",
            f"https://smart-data-models.github.io/dataModel.{subject}/context.jsonld")


# URL -> file shipped in ``contexts/``. The umbrella context in smart-data-models/data-models
# (raw.githubusercontent.com/.../data-models/master/context.jsonld) is not among them: it is an
# obsolete copy with other IRIs (``https://uri.fiware.org/ns/data-models#...``).
SHIPPED: dict[str, str] = {
    **dict.fromkeys(CORE_CONTEXT_URLS, CORE_FILE),
    SDM_CONTEXT_URL: "smart-data-models-context.jsonld",
    **{url: f"smart-data-models-{subject}-context.jsonld"
       for subject in SDM_SUBJECTS for url in _subject_urls(subject)},
}

MAX_CONTEXT_DEPTH = 5
MAX_TERMS = 20_000


class ContextError(Exception):
    """A context that cannot be used: ``kind`` is ``unavailable`` (not shipped, not allowed,
    unreachable) or ``invalid`` (not a JSON-LD context)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# A loader gives the JSON document behind a URL that is not shipped (or raises ContextError).
Loader = Callable[[str], Any]


def refuse(url: str) -> Any:
    raise ContextError("unavailable", f"The context {url} is not available on this server (only the "
                                      "shipped contexts and those the city allows are used).")


def shipped_document(url: str) -> dict[str, Any]:
    return _shipped_file(SHIPPED[url])


@cache
def _shipped_file(name: str) -> dict[str, Any]:
    text = (resources.files(__package__) / "contexts" / name).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Context:
    """The active context of a request: the user's terms, then the core context's (which a
    user context cannot redefine), and a vocabulary for the rest."""

    terms: dict[str, str]
    vocab: str = DEFAULT_VOCAB
    prefixes: frozenset[str] = frozenset()  # the terms that may make compact IRIs (term:suffix)
    links: tuple[str, ...] = ()  # the URLs to announce in a Link header / @context on output
    inline: Any = None  # the @context as given, echoed in application/ld+json answers
    _reverse: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # attribute and type names already checked and expanded (``ngsi_ld._name``): a client sends
    # the same few names in every request, and a batch a thousand times
    checked: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def expand(self, term: str) -> str:
        if term in self.terms:
            return self.terms[term]
        if ":" in term:
            prefix, _, rest = term.partition(":")
            if rest.startswith("//") or prefix in ("urn", "http", "https"):
                return term  # already an IRI
            if prefix in self.terms:
                return self.terms[prefix] + rest
            return term
        return self.vocab + term

    def compact(self, iri: str) -> str:
        if not self._reverse:
            reverse: dict[str, str] = {}
            for term, value in self.terms.items():
                if term.startswith("@") or ":" in term:
                    continue
                best = reverse.get(value)
                if best is None or (len(term), term) < (len(best), best):
                    reverse[value] = term
            self._reverse.update(reverse)
        term = self._reverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab):
            rest = iri[len(self.vocab):]
            if rest and "/" not in rest and "#" not in rest and ":" not in rest and rest not in self.terms:
                return rest
        return self._compact_iri(iri)  # not cached: an IRI a client makes up must not grow memory

    def _compact_iri(self, iri: str) -> str:
        """The shortest ``prefix:suffix`` for ``iri`` (then the first in order), or ``iri``; a
        few prefixes at most (``ngsi-ld``, ``geojson`` and the user's), each one ``startswith``."""
        best: str | None = None
        for term in self.prefixes:
            base = self.terms.get(term)
            if not base or base == iri or not iri.startswith(base):
                continue
            suffix = iri[len(base):]
            if term in _SCHEMES or suffix.startswith("//"):
                continue  # would read back as an IRI of its own, not through the prefix
            candidate = f"{term}:{suffix}"
            if candidate in self.terms and self.terms[candidate] != iri:
                continue
            if best is None or (len(candidate), candidate) < (len(best), best):
                best = candidate
        return best or iri


_SCHEMES = frozenset({"urn", "http", "https"})  # ``expand`` reads "urn:..." as an IRI, never a prefix
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")


def _merge(source: Any, terms: dict[str, str], state: dict[str, Any], loader: Loader, depth: int) -> None:
    if depth > MAX_CONTEXT_DEPTH:
        raise ContextError("invalid", "The @context nests other contexts too deeply.")
    if source is None:
        return
    if isinstance(source, list):
        for item in source:
            _merge(item, terms, state, loader, depth + 1)
        return
    if isinstance(source, str):
        document = shipped_document(source) if source in SHIPPED else loader(source)
        if not isinstance(document, dict) or "@context" not in document:
            raise ContextError("invalid", f"The document at {source} has no @context.")
        _merge(document["@context"], terms, state, loader, depth + 1)
        return
    if not isinstance(source, dict):
        raise ContextError("invalid", "A @context must be a URL, an object or a list of them.")
    pending: dict[str, str] = {}
    marked: dict[str, bool] = {}  # a term defined by an object: may it be a prefix (@prefix)?
    for key, value in source.items():
        if key == "@vocab":
            if not isinstance(value, str):
                raise ContextError("invalid", "@vocab must be an IRI.")
            state["vocab"] = value
            continue
        if key.startswith("@"):
            continue  # @version, @protected, @language...: no effect on flat term mapping
        if isinstance(value, dict):
            if "@context" in value:  # CIM 009 5.5.7: a user @context holds no scoped context
                raise ContextError("invalid", f"The term {key!r} has a scoped context (its own "
                                   "@context): NGSI-LD does not allow them in a user @context, and "
                                   "Parvis reads a context as a flat map of terms, which cannot "
                                   "honour one.")
            marked[key] = value.get("@prefix") is True
            value = value.get("@id", None)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ContextError("invalid", f"The term {key!r} must map to an IRI.")
        pending[key] = value
    prefixes: set[str] = state.setdefault("prefixes", set())
    for key, value in pending.items():
        terms[key] = _resolve(value, pending, terms)
        simple_prefix = key not in marked and terms[key].endswith(_GEN_DELIMS)
        if (marked.get(key) or simple_prefix) and ":" not in key and "/" not in key:
            prefixes.add(key)
        else:
            prefixes.discard(key)
    if len(terms) > MAX_TERMS:
        raise ContextError("invalid", "The @context defines too many terms.")


def _resolve(value: str, local: dict[str, str], terms: dict[str, str]) -> str:
    if ":" in value and not value.startswith("@"):
        prefix, _, rest = value.partition(":")
        if not rest.startswith("//"):
            base = local.get(prefix) or terms.get(prefix)
            if base and ":" in base:
                return base + rest
    return value


@cache
def _core_terms() -> tuple[tuple[tuple[str, str], ...], str, frozenset[str]]:
    terms: dict[str, str] = {}
    state: dict[str, Any] = {"vocab": DEFAULT_VOCAB}
    _merge(CORE_CONTEXT_URL, terms, state, refuse, 0)
    return tuple(terms.items()), state["vocab"], frozenset(state.get("prefixes", ()))


def build(source: Any, loader: Loader = refuse) -> Context:
    """The active context for ``source`` (a Link header URL, an @context value, or None for the
    core context alone)."""
    terms: dict[str, str] = {}
    state: dict[str, Any] = {"vocab": None}
    _merge(source, terms, state, loader, 0)
    core, core_vocab, core_prefixes = _core_terms()
    terms.update(core)  # the core context's terms are protected: they win
    prefixes = (frozenset(state.get("prefixes", ())) - {term for term, _ in core}) | core_prefixes
    links = tuple(x for x in (source if isinstance(source, list) else [source]) if isinstance(x, str))
    return Context(terms=terms, vocab=state["vocab"] or core_vocab, prefixes=prefixes, links=links,
                   inline=source)


@cache
def core() -> Context:
    return build(None)


@cache
def shipped(url: str) -> Context:
    """A context made of one shipped URL, built once per process."""
    return build(url)
