"""Searches of the sandbox's CodeOcean API: data assets, capsules and pipelines.

Sources: [DA] https://docs.codeocean.com/user-guide/code-ocean-api/data-asset (Search
Data Assets); [CA] https://docs.codeocean.com/user-guide/code-ocean-api/capsule (Search
Capsules/Pipelines); [SDK] ``codeocean``'s search classes, alike in 0.12 (``data_asset.py``,
``capsule.py``, ``components.py``) and 0.17 (``models/``); [sandbox]: where they are silent.

Bodies: the fields ``DataAssetSearchParams`` / ``CapsuleSearchParams.to_dict()`` send
(null when unset: absent); another field or a wrong JSON type is a 400 [SDK; ``body()``],
so is a value outside the SDK's enums (``type``, ``origin``, ``ownership``, ``status``,
``sort_field``, ``sort_order``) [SDK]. A filter is ``{key, value | values | range {min,
max}, exclude}`` [DA, SDK]; another key, a wrong type or no value is a 400 [sandbox].
``limit`` is 1 to 1000, default 100 [DA].

Query
- ``field:value`` terms and bare words; a field repeated is OR, different fields and bare
  words AND; case-insensitive; a "quoted" value is one phrase [SDK]. A space may follow
  the colon (``subject id: 676909``) [sandbox].
- Data-asset fields: ``name``, ``tag``, ``run_script``, ``commit_id``, ``contained_data_id``
  [SDK, DA], and each custom-metadata key (``subject id``) [sandbox: the library's own
  searches use it]. Capsule fields: ``id``, ``name``, ``doi``, ``tag``, ``field``,
  ``journal``, ``article``, and ``author``/``affiliation`` (searched in the article's
  citation, the model's only place for them) [SDK]. ``description:`` is no field [SDK:
  free text covers it]; an unknown ``word:value`` is one bare word, matched as written.
- Values match part of a word: ``tag:bioinforma name:Saccro`` [DA example], so
  ``subject id:67690`` finds 676909 and ``tag:sort`` "sorted"; ids, DOIs, run scripts and
  commits only whole [sandbox: keywords]. Bare words search name, description, tags and
  custom-metadata values (capsules: name, description, tags, field, article) [SDK].
- A data-asset ``name:`` value over 20 characters matches nothing, near misses included,
  as observed of the service (``name_quirk=False`` turns that off).

Exact in both modes: ``archived`` true gives archived records only, else none [DA, CA];
``favorite`` true favourites only (no capsule is one: the world has no such flag) [DA,
CA]; ``type`` [DA]; ``origin`` external: files outside CodeOcean (``source_bucket``
``external``, or an aws/gcp bucket not CodeOcean's) [DA]; ``status`` [CA]; ``filters``: a
value equal to the whole field, case-insensitive, or in an inclusive range; ``exclude``
inverts [DA]. ``ownership`` [DA, CA, SDK ``Ownership``]: ``created``: the token user's
(owner :data:`~aind_session.testing.world.SANDBOX_OWNER`); ``shared``: others' that the
user can see; ``private``: the user's and shared with no one (the world records no
sharing: only permissions changed through the API share); absent: all [DA].

Order: ``sort_field`` created, type, name, size (capsules: created, name, last_accessed)
[DA, CA, SDK]; ``sort_order`` asc or desc, asc when absent [sandbox], ignored without
``sort_field`` [DA, CA]. Records lacking the field come last either way, ties by id
[sandbox]. Without ``sort_field``, a query with terms orders by relevance [CA; the same
assumed for data assets]: full matches before near misses, then shorter names first (BM25
scores a match in a shorter field higher), newest, id [sandbox]; without terms, data
assets come newest first (default field created [DA]; newest first as the web UI lists)
and capsules by name [CA].

Near misses (``search="loose"``; ``"strict"`` gives only what the rules above match): a
full-text index returns these, so code that trusts a search too much fails here as it
would against the service. Deterministic:
- (a) a fielded term also finds records whose text (name, description, tags, custom
  values; capsules as bare words) merely holds its value, whatever the field: an index
  scores the words a document holds anywhere (``name:676909`` finds an asset whose
  description mentions 676909);
- (b) a value of digits also finds records whose value for that field holds a run of
  digits one digit off it or sharing all but its last digit: n-grams of other subjects'
  IDs score too (``subject id:676909`` finds 676900 and 676908);
- (c) the demo data asset deployments ship, "Example T1 and T2 MRI Images"
  (:data:`DEMO_ASSET`), comes first in relevance order for every query with terms (a
  popular document outranks better matches). It is in the world in loose mode only, so
  ``GET data_assets/<id>`` serves it and searches without terms list it.

Speed only [sandbox]: each record's text, and each search's order and answered pages,
are kept while the records stay as they were, compared by value (a change made in
place shows at once); the answers are those worked out afresh.

Paging: ``next_token`` wins over ``offset`` [DA, SDK]. A token is opaque and bound to its
search: the endpoint and every field but ``next_token``, ``offset`` and ``limit`` (the
page size may change, as the SDK's iterators keep it). Sent with another search, or not
made here, it is a 400 saying to pass it back with the search that returned it [sandbox].
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    ASSET_READ,
    CAPSULE_READ,
    ApiError,
    body,
    check_type,
    checked_object,
    int_field,
    is_external,
    public_asset,
    route,
)
from aind_session.testing.world import (
    ASSET_DEFAULTS,
    CAPSULE_EXTRAS,
    SANDBOX_OWNER,
)

MAX_LIMIT = 1000
MAX_KEPT_SEARCHES = 256  # the orders of searches kept while the records stay the same
DEFAULT_LIMIT = 100
NAME_QUIRK_LENGTH = 20
ASSET_FIELDS = ("name", "tag", "run_script", "commit_id", "contained_data_id")
CAPSULE_FIELDS = (
    "id",
    "name",
    "doi",
    "tag",
    "field",
    "affiliation",
    "journal",
    "article",
    "author",
)
WHOLE_VALUE_FIELDS = frozenset({"run_script", "commit_id", "contained_data_id", "id", "doi"})
ASSET_TYPES = ("dataset", "result", "combined", "model")
SORT_FIELDS: dict[str, tuple[str, ...]] = {"data_assets": ("created", "type", "name", "size")}
SORT_FIELDS["capsules"] = SORT_FIELDS["pipelines"] = ("created", "name", "last_accessed")
_COMMON: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(("query", "next_token", "sort_field", "sort_order", "ownership"), str),
    **dict.fromkeys(("offset", "limit"), int),
    **dict.fromkeys(("favorite", "archived"), bool),
    "filters": list,
}
PARAMS = {"data_assets": {**_COMMON, "type": str, "origin": str}}
PARAMS["capsules"] = PARAMS["pipelines"] = {**_COMMON, "status": str}
ENUMS = {
    "sort_order": ("asc", "desc"),
    "ownership": ("private", "shared", "created"),
    "type": ASSET_TYPES,
    "origin": ("internal", "external"),
    "status": ("release", "non_release"),
}
_FILTER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "value": (str, float),
    "values": list,
    "range": dict,
    "exclude": bool,
}
DEMO_ASSET_ID = "0b9f5e2c-6d1a-4c3e-9a7b-2e8d4f6a1c35"
DEMO_ASSET: dict[str, Any] = {
    "id": DEMO_ASSET_ID,
    "name": "Example T1 and T2 MRI Images",
    "mount": "Example T1 and T2 MRI Images",
    "description": "Example T1- and T2-weighted MRI images of a human brain.",
    "tags": ["MRI", "example", "neuroimaging"],
    **ASSET_DEFAULTS,  # ready, a dataset
    "owner": "00000000-0000-4000-8000-0000000000de",  # the deployment's, not the user's
    "owner_email": "admin@example.org",
    "created": 1577836800,
    # its files stay in a public bucket (so none is listed, and none needs serving)
    "source_bucket": {
        "origin": "aws",
        "bucket": "example-public-datasets",
        "prefix": "mri/t1-t2",
        "external": True,
    },
    "size": 52428800,
    "files": 2,
    "archived": False,
    "favorite": False,
}
SEARCH_MODES = ("loose", "strict")

ROUTES = [
    route("data_assets/search", "POST", "search_assets", ASSET_READ),
    route("capsules/search", "POST", "search_capsules", CAPSULE_READ),
    route("pipelines/search", "POST", "search_pipelines", CAPSULE_READ),
]

T = TypeVar("T")
_Terms = list[tuple[str, list[str]]]  # (field, values): "" is a bare word, one per group
_STRICT, _NEAR = 1, 2  # relevance tiers; the demo asset is 0
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?")


class SearchMixin:
    """The search endpoints of :class:`~aind_session.testing.codeocean_server.CodeOceanApp`."""

    world: Any
    name_quirk: bool
    _lock: Any
    _search_mode: str = "loose"

    @property
    def search_mode(self) -> str:
        """``"loose"`` or ``"strict"``; changing it takes effect at once (the demo asset
        comes or goes with it)."""
        return self._search_mode

    @search_mode.setter
    def search_mode(self, mode: str) -> None:
        if mode not in SEARCH_MODES:
            raise ValueError(f"search must be one of {', '.join(SEARCH_MODES)}, not {mode!r}.")
        self._search_mode = mode
        if getattr(self, "world", None) is not None:
            with self._lock:
                self._place_demo()

    def _prepare_assets(self) -> None:
        """Called by ``load`` once the world is copied: in loose mode the world also
        holds the demo asset (unless it has an asset of that id)."""
        super()._prepare_assets()  # type: ignore[misc]
        self._demo_placed = False
        self._place_demo()
        self._answered = threading.local()
        self._views: dict[tuple[str, Any], tuple[tuple[Any, ...], Any]] = {}
        # by kind: the records as the last search saw them, and each search's order then
        self._kept: dict[str, tuple[list[dict[str, Any]], dict[Any, Any]]] = {}

    def _place_demo(self) -> None:
        """The demo asset in the world in loose mode, not in strict (under the lock)."""
        assets = self.world.data_assets
        if self._search_mode == "loose" and DEMO_ASSET_ID not in assets:
            assets[DEMO_ASSET_ID] = copy.deepcopy(DEMO_ASSET)
            self._demo_placed = True
        elif self._search_mode == "strict" and self._demo_placed:
            assets.pop(DEMO_ASSET_ID, None)
            self._demo_placed = False

    if TYPE_CHECKING:  # from CodeOceanApp

        def _settle_all(self) -> None: ...

    def _shared_ids(self, kind: str) -> set[str]:
        """Ids of the records of ``kind`` whose permissions were changed to share them
        (under the lock); the world itself records no sharing."""
        if kind == "data_assets":
            table: Mapping[str, Any] = getattr(self, "_permissions", {})
        elif getattr(self, "_capsule_extras_world", None) is self.world:
            extras = getattr(self, "_capsule_extras_by_id", {})
            table = {i: e["permissions"] for i, e in extras.items() if "permissions" in e}
        else:
            table = {}
        return {item_id for item_id, p in table.items() if _is_shared(p)}

    def last_search_key(self) -> str:
        """What binds tokens to the search this thread's last search answered ('' for
        none): :mod:`~aind_session.testing.faults` makes its tokens with it."""
        return str(getattr(self._answered, "key", ""))

    def _search(self, request: Request, kind: str) -> Response:
        params = body(request, PARAMS[kind])
        limit = int_field(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = int_field(params, "offset", 0, 0, None)
        for name, allowed in [*ENUMS.items(), ("sort_field", SORT_FIELDS[kind])]:
            if name in params and params[name] not in allowed:
                raise ApiError(
                    400, f"{name} must be one of {', '.join(allowed)}, not {params[name]!r}."
                )
        for flt in params.get("filters", []):
            _check_filter(flt)
        key = search_key(kind, params)
        if "next_token" in params:
            offset = _decode_token(params["next_token"], key)
        self._answered.key = key
        assets = kind == "data_assets"
        with self._lock:
            self._settle_all()  # drafts due to be ready, releases due to be done
            pool = self.world.data_assets if assets else getattr(self.world, kind)
            records = [dict(r) for r in pool.values()]  # as they are now: read without the lock
            shared = self._shared_ids(kind)
        found, pages = self._found(kind, key, params, records, shared)
        text = pages.get((offset, limit))
        if text is None:
            page = found[offset : offset + limit]
            public = public_asset if assets else _public_capsule
            has_more = offset + limit < len(found)
            result: dict[str, Any] = {"has_more": has_more, "results": [public(r) for r in page]}
            if has_more:
                result["next_token"] = page_token(offset + limit, key)
            text = pages[(offset, limit)] = json.dumps(result)
        return Response(text, status=200, mimetype="application/json")

    def _found(
        self,
        kind: str,
        key: str,
        params: Mapping[str, Any],
        records: list[dict[str, Any]],
        shared: set[str],
    ) -> tuple[list[dict[str, Any]], dict[tuple[int, int], str]]:
        """What a search finds, in order, and its pages answered so far (by offset and
        limit, as sent). Worked out once while every record of ``kind`` stays as it
        was, compared by value: the next page of a search, or the same search again,
        is answered from what was kept."""
        kept = self._kept.get(kind)
        if kept is None or not _same(kept[0], records):
            kept = (_snapshot(records), {})
            self._kept[kind] = kept
        memo = (key, self._search_mode, self.name_quirk, frozenset(shared))
        hit = kept[1].get(memo)  # (one read: another thread may empty the dict)
        if hit is not None:
            order, answered = hit
            return [records[i] for i in order], answered
        # the custom-metadata keys of the assets served now (created ones too)
        custom = {str(k) for r in records for k in (r.get("custom_metadata") or {})}
        assets = kind == "data_assets"
        fields = [*ASSET_FIELDS, *custom] if assets else list(CAPSULE_FIELDS)
        terms = _parse_query(params.get("query", ""), fields)
        view = _asset_view if assets else _capsule_view
        hits = []
        for index, record in enumerate(records):
            chosen = _selected(record, params, record.get("id") in shared)
            tier = self._tier(record, terms, view) if chosen else None
            if tier is not None:
                hits.append((tier, index))
        order = _ordered(hits, records, params, kind, bool(terms))
        if len(kept[1]) >= MAX_KEPT_SEARCHES:
            kept[1].clear()
        pages: dict[tuple[int, int], str] = {}
        kept[1][memo] = (order, pages)
        return [records[i] for i in order], pages

    _search_assets = functools.partialmethod(_search, kind="data_assets")
    _search_capsules = functools.partialmethod(_search, kind="capsules")
    _search_pipelines = functools.partialmethod(_search, kind="pipelines")

    def _view_of(
        self,
        record: Mapping[str, Any],
        view: Callable[[Mapping[str, Any]], tuple[dict[str, list[str]], list[str]]],
    ) -> tuple[dict[str, list[str]], list[str]]:
        """``view(record)``, worked out again only when a field it reads has changed
        since (the lowercased text is most of a search's time; records change
        seldom, through the API or a test's hands, and are compared by value)."""
        fields = _VIEW_FIELDS[view.__name__]
        now = tuple(map(record.get, fields))
        key = (view.__name__, record.get("id"))
        kept = self._views.get(key)
        if kept is not None and _same(kept[0], now):
            return kept[1]
        made = view(record)
        self._views[key] = (_snapshot(now), made)  # a copy: a change in place shows
        return made

    def _tier(
        self,
        record: Mapping[str, Any],
        terms: _Terms,
        view: Callable[[Mapping[str, Any]], tuple[dict[str, list[str]], list[str]]],
    ) -> int | None:
        """The relevance tier of a record for the query's terms, or None: no match."""
        loose = self.search_mode == "loose"
        by_field, text = self._view_of(record, view)
        tier = _STRICT
        for field, values in terms:
            if self.name_quirk and field == "name" and view is _asset_view:
                values = [v for v in values if len(v) <= NAME_QUIRK_LENGTH]
                if not values:
                    return None
            if record.get("id") == DEMO_ASSET_ID and loose:
                tier = 0
                continue
            own = text if field == "" else by_field.get(field, [])
            if any(_matches(field, v, own) for v in values):
                continue
            if loose and any(_near(v, own, text) for v in values):
                tier = max(tier, _NEAR)
                continue
            return None
        return tier if terms else _STRICT


def search_key(kind: str, params: Mapping[str, Any]) -> str:
    """What a page token of a search is bound to: the endpoint and every field of the
    body but ``next_token``, ``offset`` and ``limit``."""
    same = {k: v for k, v in params.items() if k not in ("next_token", "offset", "limit")}
    text = json.dumps([kind, same], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def page_token(offset: int, search: str) -> str:
    """The ``next_token`` asking for the page at ``offset`` of the search whose
    :func:`search_key` is ``search``."""
    raw = json.dumps({"offset": offset, "search": search}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: Any, key: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset, search = decoded["offset"], decoded["search"]
    except (ValueError, KeyError, TypeError):
        offset = search = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ApiError(400, "next_token is not valid; pass the token from the previous page as is.")
    if search != key:
        raise ApiError(
            400,
            "next_token belongs to another search; pass it back with the same search that "
            "returned it (every field but next_token, offset and limit unchanged).",
        )
    return offset


def _parse_query(query: str, fields: list[str]) -> _Terms:
    """The query's terms: one group per field (its values OR-ed), one per bare word."""
    names = sorted({f.lower() for f in fields}, key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\S)(?:(?P<field>" + "|".join(map(re.escape, names)) + r"):\s*)?"
        r"(?P<value>\"[^\"]*\"|\S+)",
        re.IGNORECASE,
    )
    grouped: dict[str, list[str]] = {}
    words: list[str] = []
    for match in pattern.finditer(query):
        value = match["value"].strip('"').lower()
        field = (match["field"] or "").lower()
        if not value or (not field and value.endswith(":") and value[:-1] in names):
            continue  # a field given no value: no term (a bare word like it is one)
        if field:
            grouped.setdefault(field, []).append(value)
        else:
            words.append(value)
    return [*grouped.items(), *(("", [w]) for w in words)]


def _matches(field: str, value: str, haystacks: list[str]) -> bool:
    if field in WHOLE_VALUE_FIELDS:
        return value in haystacks
    return any(value in h for h in haystacks)


def _near(value: str, own: list[str], text: list[str]) -> bool:
    """Near miss (a): the value anywhere in the text; (b): a run of digits in the field
    one digit off the value, or sharing all but its last digit."""
    if any(value in t for t in text):
        return True
    if not value.isdigit() or len(value) < 2:
        return False
    for run in (r for h in own for r in re.findall(r"\d+", h)):
        off = len(run) == len(value) and sum(a != b for a, b in zip(run, value, strict=False)) == 1
        if off or run.startswith(value[:-1]):
            return True
    return False


# the fields each view reads: a record whose values of these are unchanged has the same view
_VIEW_FIELDS = {
    "_asset_view": (
        "name",
        "description",
        "tags",
        "custom_metadata",
        "provenance",
        "contained_data_assets",
    ),
    "_capsule_view": ("id", "slug", "name", "description", "tags", "field", "article"),
}


def _asset_view(asset: Mapping[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """A data asset's text by query field, and its free text (all lowercase)."""
    provenance = asset.get("provenance") or {}
    custom = {
        str(k).lower(): str(v).lower() for k, v in (asset.get("custom_metadata") or {}).items()
    }
    name, tags = str(asset.get("name", "")).lower(), [t.lower() for t in asset.get("tags") or []]
    by_field = {
        "name": [name],
        "tag": tags,
        "run_script": [str(provenance.get("run_script") or "").lower()],
        "commit_id": [str(provenance.get("commit") or "").lower()],
        "contained_data_id": [
            str(c.get("id")).lower() for c in asset.get("contained_data_assets") or []
        ],
        **{k: [v] for k, v in custom.items()},
    }
    return by_field, [name, str(asset.get("description") or "").lower(), *tags, *custom.values()]


def _capsule_view(capsule: Mapping[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """A capsule's or pipeline's text by query field, and its free text (all lowercase)."""
    article = {
        k: str(v).lower() for k, v in (capsule.get("article") or {}).items() if v is not None
    }
    name = str(capsule.get("name", "")).lower()
    tags = [t.lower() for t in capsule.get("tags") or []]
    field, citation = str(capsule.get("field") or "").lower(), article.get("citation", "")
    by_field = {
        "id": [str(capsule.get("id", "")).lower(), str(capsule.get("slug") or "").lower()],
        "name": [name],
        "doi": [article.get("doi", "")],
        "tag": tags,
        "field": [field],
        "journal": [article.get("journal_name", "")],
        "article": [article.get("name", "")],
        "author": [citation],
        "affiliation": [citation],
    }
    description = str(capsule.get("description") or "").lower()
    return by_field, [name, description, *tags, field, article.get("name", ""), citation]


def _is_shared(permissions: Mapping[str, Any]) -> bool:
    users = permissions.get("users") or []
    return (
        permissions.get("everyone", "none") != "none"
        or bool(permissions.get("groups"))
        or any(u.get("role") != "owner" for u in users)
    )


def _selected(record: Mapping[str, Any], params: Mapping[str, Any], shared: bool) -> bool:
    """Whether a record passes the structured parameters (exact in both modes);
    ``shared``: its permissions let someone other than its owner see it."""
    if bool(record.get("archived")) != bool(params.get("archived")):
        return False
    if params.get("favorite") and not record.get("favorite"):
        return False
    ownership = params.get("ownership")
    if ownership is not None and (record.get("owner") == SANDBOX_OWNER) != (ownership != "shared"):
        return False
    if ownership == "private" and shared:
        return False
    for name in ("type", "status"):
        if name in params and record.get(name) != params[name]:
            return False
    if "origin" in params and _origin(record) != params["origin"]:
        return False
    return all(_filter_matches(record, flt) for flt in params.get("filters", []))


def _ordered(
    hits: list[tuple[int, int]],
    records: list[dict[str, Any]],
    params: Mapping[str, Any],
    kind: str,
    terms: bool,
) -> list[int]:
    """The hits' positions in ``records`` in the order the search answers them
    (``hits``: (relevance tier, position))."""
    found = [(tier, records[i], i) for tier, i in hits]
    field = params.get("sort_field")
    if field is not None:
        have = sorted((f for f in found if f[1].get(field) is not None), key=lambda f: f[1]["id"])
        have.sort(key=lambda f: f[1][field], reverse=params.get("sort_order") == "desc")
        lacking = sorted((f for f in found if f[1].get(field) is None), key=lambda f: f[1]["id"])
        return [i for _, _, i in have + lacking]
    if terms:
        found.sort(key=lambda f: (f[0], len(str(f[1]["name"])), -f[1]["created"], f[1]["id"]))
    elif kind == "data_assets":
        found.sort(key=lambda f: (-f[1]["created"], f[1]["id"]))
    else:
        found.sort(key=lambda f: (str(f[1]["name"]), f[1]["id"]))
    return [i for _, _, i in found]


def _same(kept: Any, now: Any) -> bool:
    """Whether records are as they were kept: equal values (JSON's: a world file's, or an
    API body's). A value that cannot be compared (a test's array) counts as changed."""
    try:
        return bool(kept == now)
    except Exception:
        return False


def _snapshot(value: T) -> T:
    """A deep copy, to compare records (or some of their fields) with later (pickled:
    three times as fast as :func:`copy.deepcopy` for JSON data)."""
    import pickle

    try:
        copied: T = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except Exception:  # a value a test put there that does not pickle
        return copy.deepcopy(value)
    return copied


def _public_capsule(capsule: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in capsule.items() if k not in CAPSULE_EXTRAS and v is not None}


def _origin(asset: Mapping[str, Any]) -> str:
    return "external" if is_external(asset) else "internal"


def _check_filter(flt: Any) -> None:
    given = checked_object(flt, _FILTER_FIELDS, "A filter ({key, value | values | range})")
    if not given.get("key"):
        raise ApiError(400, f"Each filter needs a 'key' (a field name); got {json.dumps(flt)}.")
    for item in given.get("values", []):
        check_type("filters.values[]", item, (str, float))
    bounds = {k: v for k, v in given.get("range", {}).items() if v is not None}
    if set(bounds) - {"min", "max"} or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds.values()
    ):
        raise ApiError(400, "A filter's range holds numbers 'min' and/or 'max' only.")
    if not ({"value", "values"} & set(given) or bounds):
        raise ApiError(400, "Each filter needs a value, values or a range.")


def _text(value: Any) -> str:
    """A filter value as text: 12345.0 and 12345 are both '12345'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).lower()


def _filter_matches(record: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    key = str(flt["key"]).lower()
    if key in ("name", "description"):
        have = [str(record.get(key) or "").lower()]
    elif key in ("tag", "tags"):
        have = [t.lower() for t in record.get("tags") or []]
    else:
        custom = {str(k).lower(): v for k, v in (record.get("custom_metadata") or {}).items()}
        have = [] if custom.get(key) is None else [_text(custom[key])]
    bounds = flt.get("range") or {}
    if bounds:
        low, high = bounds.get("min"), bounds.get("max")
        numbers = [float(h) for h in have if _NUMBER.fullmatch(h)]
        hit = any((low is None or n >= low) and (high is None or n <= high) for n in numbers)
    else:
        wanted = [flt["value"]] if flt.get("value") is not None else list(flt.get("values") or [])
        hit = any(_text(w) in have for w in wanted)
    return hit != bool(flt.get("exclude"))
