"""Searches of the sandbox's CodeOcean API: data assets (capsules and pipelines to come).

The rules, and what each rests on, are in the docstring of
:mod:`aind_session.testing.codeocean_server`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    ASSET_READ,
    ApiError,
    body,
    int_field,
    json_response,
    public_asset,
    route,
)
from aind_session.testing.world import CODEOCEAN_BUCKET

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
NAME_QUIRK_LENGTH = 20
KNOWN_FIELDS = ("name", "tag", "description", "run_script", "commit_id", "contained_data_id")
SORT_FIELDS = ("created", "type", "name", "size")
ASSET_TYPES = ("dataset", "result", "combined", "model")

ROUTES = [route("data_assets/search", "POST", "search_assets", ASSET_READ)]


class SearchMixin:
    """The search endpoints of :class:`~aind_session.testing.codeocean_server.CodeOceanApp`."""

    world: Any
    name_quirk: bool
    _lock: Any
    _custom_fields: list[str]

    def _search_assets(self, request: Request) -> Response:
        params = body(request)
        limit = int_field(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = int_field(params, "offset", 0, 0, None)
        if params.get("next_token"):
            offset = _decode_token(params["next_token"])
        sort_field, sort_order = params.get("sort_field"), params.get("sort_order")
        if sort_field is not None and sort_field not in SORT_FIELDS:
            raise ApiError(400, f"sort_field must be one of {', '.join(SORT_FIELDS)}.")
        if sort_order is not None and sort_order not in ("asc", "desc"):
            raise ApiError(400, "sort_order must be 'asc' or 'desc'.")
        if sort_order is not None and sort_field is None:
            raise ApiError(400, "sort_order must be given together with sort_field.")
        if params.get("type") is not None and params["type"] not in ASSET_TYPES:
            raise ApiError(400, f"type must be one of {', '.join(ASSET_TYPES)}.")
        if params.get("origin") not in (None, "internal", "external"):
            raise ApiError(400, "origin must be 'internal' or 'external'.")
        query = params.get("query") or ""
        if not isinstance(query, str):
            raise ApiError(400, "query must be a string.")
        filters = params.get("filters") or []
        if not isinstance(filters, list) or not all(
            isinstance(f, dict) and isinstance(f.get("range") or {}, dict) for f in filters
        ):
            raise ApiError(400, "filters must be a list of {key, value | values | range} objects.")
        terms = self._parse_query(query)
        with self._lock:
            assets = [a for a in self.world.data_assets.values() if self._matches(a, params, terms)]
        if sort_field:
            assets.sort(
                key=lambda a: (a.get(sort_field) is None, a.get(sort_field) or 0, a["id"]),
                reverse=sort_order == "desc",
            )
        else:
            assets.sort(key=lambda a: (a["created"], a["id"]), reverse=True)
        page = assets[offset : offset + limit]
        has_more = offset + limit < len(assets)
        result: dict[str, Any] = {"has_more": has_more, "results": [public_asset(a) for a in page]}
        if has_more:
            result["next_token"] = page_token(offset + limit)
        return json_response(result)

    def _parse_query(self, query: str) -> dict[str, list[str]]:
        fields = sorted({*KNOWN_FIELDS, *self._custom_fields}, key=len, reverse=True)
        pattern = re.compile(
            r"(?:(?P<field>" + "|".join(map(re.escape, fields)) + r"):)?"
            r"(?P<value>\"[^\"]*\"|\S+)",
            re.IGNORECASE,
        )
        terms: dict[str, list[str]] = {}
        for match in pattern.finditer(query):
            field = (match["field"] or "").lower()
            value = match["value"].strip('"').lower()
            if value:
                terms.setdefault(field, []).append(value)
        return terms

    def _matches(
        self, asset: Mapping[str, Any], params: Mapping[str, Any], terms: Mapping[str, list[str]]
    ) -> bool:
        if bool(asset.get("archived")) != bool(params.get("archived")):
            return False
        if params.get("favorite") and not asset.get("favorite"):
            return False
        if params.get("type") and asset["type"] != params["type"]:
            return False
        if params.get("origin") and _origin(asset) != params["origin"]:
            return False
        for flt in params.get("filters") or []:
            if not _filter_matches(asset, flt):
                return False
        name = asset["name"].lower()
        description = (asset.get("description") or "").lower()
        tags = [t.lower() for t in asset.get("tags") or []]
        custom = {
            str(k).lower(): str(v).lower() for k, v in (asset.get("custom_metadata") or {}).items()
        }
        provenance = asset.get("provenance") or {}
        for field, values in terms.items():
            if field == "":
                haystacks = [name, description, *tags, *custom.values()]
                if not all(any(v in h for h in haystacks) for v in values):
                    return False
                continue
            if field == "name":
                ok = any(
                    v in name and not (self.name_quirk and len(v) > NAME_QUIRK_LENGTH)
                    for v in values
                )
            elif field == "tag":
                ok = any(v in tags for v in values)
            elif field == "description":
                ok = any(v in description for v in values)
            elif field in ("run_script", "commit_id"):
                key = "commit" if field == "commit_id" else field
                ok = any(v == str(provenance.get(key) or "").lower() for v in values)
            elif field == "contained_data_id":
                contained = {
                    str(c.get("id")).lower() for c in asset.get("contained_data_assets") or []
                }
                ok = any(v in contained for v in values)
            else:
                ok = any(v == custom.get(field) for v in values)
            if not ok:
                return False
        return True


def page_token(offset: int) -> str:
    """The search ``next_token`` that asks for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: Any) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError(400, "next_token is not valid; pass the token from the previous page as is.")


def _origin(asset: Mapping[str, Any]) -> str:
    bucket = asset.get("source_bucket") or {}
    if bucket.get("external") is not None:
        return "external" if bucket["external"] else "internal"
    external = bucket.get("origin") in ("aws", "gcp") and bucket.get("bucket") not in (
        None,
        CODEOCEAN_BUCKET,
    )
    return "external" if external else "internal"


def _filter_matches(asset: Mapping[str, Any], flt: Any) -> bool:
    if not isinstance(flt, dict) or not flt.get("key"):
        raise ApiError(400, "Each filter needs a 'key'.")
    key = str(flt["key"]).lower()
    if key in ("name", "description"):
        have = [str(asset.get(key) or "").lower()]
    elif key in ("tag", "tags"):
        have = [t.lower() for t in asset.get("tags") or []]
    else:
        custom = {str(k).lower(): v for k, v in (asset.get("custom_metadata") or {}).items()}
        have = [] if custom.get(key) is None else [str(custom[key]).lower()]
    wanted = [flt["value"]] if flt.get("value") is not None else list(flt.get("values") or [])
    if flt.get("range"):
        low, high = flt["range"].get("min"), flt["range"].get("max")
        try:
            numbers = [float(h) for h in have]
        except ValueError:
            numbers = []
        hit = any((low is None or n >= low) and (high is None or n <= high) for n in numbers)
    else:
        hit = any(str(w).lower() in have for w in wanted)
    return hit != bool(flt.get("exclude"))
