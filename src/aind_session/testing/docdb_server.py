"""A WSGI application that answers AIND's read-only DocDB REST API (``/v1/``) from a world.

The routes, parameters and answers are those the official client uses
(``aind-data-access-api``, ``aind_data_access_api/document_db.py``:
``Client._find_url``, ``_count_url``, ``_aggregate_url``, ``_find_records``,
``_count_records``, ``_aggregate_records``, ``retrieve_docdb_records``; and its
``tests/test_document_db.py``). Queries run in mongomock, so filters,
projections, sorting, paging and aggregation follow MongoDB's semantics as far
as mongomock implements them; nothing here matches records by hand.

Rules, each with its source (``client`` = ``document_db.py``, ``client tests`` =
``tests/test_document_db.py``, ``assumed`` = the client is silent):

- ``GET /v1/{db}/{collection}/find``: query parameters ``filter``,
  ``projection`` and ``sort`` are JSON texts (``json.dumps`` of an object; a
  sort is an object such as ``{"created": -1}``), ``limit`` and ``skip``
  decimal integers (``str(limit)``); ``limit`` 0 means no limit. The answer is
  a JSON list of records, not wrapped in an object (client ``_find_records``
  returns ``response.json()``; client tests).
- ``find`` may answer fewer records than ``limit`` asks for, when they would
  not fit in one API Gateway payload; a client pages on with
  ``skip += len(page)`` until a page is empty (client ``_find_records``
  docstring, ``retrieve_docdb_records``; client tests feed pages of 2, 4, 1, 3,
  then 0 records). Here a page stops before the record that would take its
  JSON past ``max_page_bytes`` (default 10 MB, the client's "max payload for
  the API Gateway"), but always holds at least one record when any remain
  (assumed: an empty page would end the client's paging early).
- ``GET /v1/{db}/{collection}/count_documents``, optional ``filter``: answers
  ``{"total_record_count": <all records>, "filtered_record_count": <matching>}``
  (client ``_count_records`` docstring; client tests).
- ``POST /v1/{db}/{collection}/aggregate``, a JSON body that is the pipeline (a
  list of stage objects): answers a JSON list (client ``_aggregate_records``
  posts ``json=pipeline``; client tests). The API is read-only ("the API
  supports readonly aggregations", client), so ``$out`` and ``$merge`` are
  refused with 400 (assumed status). An answer bigger than ``max_page_bytes``
  is a 413 (client ``_get_records`` docstring: "May raise HTTP 413 error if
  requested records exceed the max payload size").
- No sign-in: reads are not signed (client: only writes go through
  ``_signed_request``; "Do not need to sign request since API supports
  readonly aggregations").
- Errors are HTTP errors (the client calls ``raise_for_status()``) with a JSON
  ``{"message": ...}`` body (assumed: API Gateway's error shape). An invalid
  pipeline is a 400 (client tests: ``$match_invalid`` answered 400); so are, by
  the same rule (assumed), a parameter that is not valid JSON or not an object
  (a list for the pipeline), an unknown query operator, a mixed projection, a
  sort direction other than 1 or -1, and ``limit``/``skip`` that are not
  integers of at least 0. What mongomock does not implement (``$where``, some
  stages) is a 501 naming mongomock, so a test never mistakes it for the real
  API's answer.
- A database or collection the world does not hold answers as an empty one
  (``[]``, counts 0), as MongoDB does for a collection never written (assumed:
  the client is silent). A path that is no route, or a route with another
  method, is a 404 ``{"message": "Not Found"}`` (assumed).
- A request line (method, path and query) longer than 10,240 bytes is a 414:
  API Gateway's quota for REST APIs is 10,240 bytes of request line and
  header values together (AWS, "Amazon API Gateway quotas"; headers are not
  counted here, so the sandbox is a little kinder than the real limit).
- Records keep the key order and values of the world file; values that are not
  JSON (dates made by an aggregation) are sent as ISO 8601 text (assumed: the
  client reads plain JSON).
- The same request (and payload limit) gets the answer it got before without
  running the query again [sandbox: speed only; the records cannot change
  between loads, so the answer is the same; an answer worked out while another
  world was loaded is not kept].
"""

from __future__ import annotations

import datetime
import http
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from aind_session.testing.http_server import ApiError
from aind_session.testing.world import World

MAX_REQUEST_LINE = 10_240  # API Gateway's request line and headers, in bytes

__all__ = ["DEFAULT_MAX_PAGE_BYTES", "READ_ONLY_REFUSED", "DocDBApp"]

# the client: "The max payload for the API Gateway including headers is 10MB"
DEFAULT_MAX_PAGE_BYTES = 10_000_000
READ_ONLY_REFUSED = ("$out", "$merge")
_ROUTE = re.compile(r"^/v1/(?P<db>[^/]+)/(?P<collection>[^/]+)/(?P<action>[a-z_]+)/?$")
_ACTIONS = {"find": "GET", "count_documents": "GET", "aggregate": "POST"}
MAX_KEPT_ANSWERS = 1024


class DocDBApp:
    """The DocDB REST API as a WSGI application over a :class:`World`'s ``docdb`` records.

    Attributes
    ----------
    max_page_bytes
        The most bytes of JSON one ``find`` page or ``aggregate`` answer holds
        (see the module's docstring); lower it to make clients page.
    """

    def __init__(self, world: World, *, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES) -> None:
        self.max_page_bytes = max_page_bytes
        self._lock = threading.Lock()
        # answers by what was asked: mongomock scans every record of a collection for
        # each query, and nothing changes a collection once loaded (the API has no write,
        # and a pipeline's writing stages are refused)
        self._answers: dict[tuple[Any, ...], bytes] = {}
        self._generation = 0  # one more at each load: an answer of an older world is not kept
        self.load(world)

    def load(self, world: World) -> None:
        """Serve ``world``'s DocDB records from now on (fresh mongomock collections)."""
        import mongomock

        client = mongomock.MongoClient()
        for key, records in world.docdb.items():
            db, _, collection = key.partition("/")
            if records:
                client[db][collection].insert_many([dict(r) for r in records])
        with self._lock:
            self._client = client
            self._answers.clear()
            self._generation += 1

    # -- WSGI ------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, payload = self.answer(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            body,
        )
        start_response(
            f"{status} {http.HTTPStatus(status).phrase}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def answer(self, method: str, path: str, query: str, body: bytes = b"") -> tuple[int, bytes]:
        """The status and JSON body of one request (what :meth:`__call__` sends)."""
        try:
            return 200, self._route(method, path, query, body)
        except ApiError as exc:
            return exc.status, _dumps({"message": exc.message})
        except Exception as exc:  # a sandbox bug still answers as the API does: JSON
            message = f"Internal error in the sandbox: {type(exc).__name__}: {exc}"
            return 500, _dumps({"message": message})

    def _route(self, method: str, path: str, query: str, body: bytes) -> bytes:
        if len(method) + len(path) + len(query) + 12 > MAX_REQUEST_LINE:  # " ", "?", " HTTP/1.1"
            raise ApiError(414, "Request-URI Too Long")
        match = _ROUTE.match(path)
        if match is None or _ACTIONS.get(match["action"]) != method:
            raise ApiError(404, "Not Found")
        action = match["action"]
        limit_bytes = self.max_page_bytes  # read once: a test may change it meanwhile
        key = (method, path, query, body, limit_bytes)
        with self._lock:
            kept = self._answers.get(key)
            generation, client = self._generation, self._client
        if kept is not None:
            return kept
        collection = client[match["db"]][match["collection"]]
        answer = self._answer(collection, action, query, body, limit_bytes)  # errors: raised
        with self._lock:
            if generation == self._generation:  # no load meanwhile: the world asked
                if len(self._answers) >= MAX_KEPT_ANSWERS:
                    self._answers.clear()
                self._answers[key] = answer
        return answer

    def _answer(
        self, collection: Any, action: str, query: str, body: bytes, limit_bytes: int
    ) -> bytes:
        args = parse_qs(query, keep_blank_values=True)
        try:
            if action == "find":
                return self._find(collection, args, limit_bytes)
            if action == "count_documents":
                flt = _json_param(args, "filter", dict) or {}
                return _dumps(
                    {
                        "total_record_count": collection.count_documents({}),
                        "filtered_record_count": collection.count_documents(flt),
                    }
                )
            return self._aggregate(collection, body, limit_bytes)
        except ApiError:
            raise
        except NotImplementedError as exc:
            if "is not a valid operator" in str(exc):
                raise ApiError(400, str(exc)) from None
            raise ApiError(501, f"The sandbox (mongomock) cannot do this: {exc}") from None
        except (
            ValueError,
            TypeError,
        ) as exc:  # mongomock's word for a bad spec, e.g. a mixed projection
            raise ApiError(400, f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("mongomock"):  # OperationFailure: unknown operator
                raise ApiError(400, str(exc)) from None
            raise

    def _find(self, collection: Any, args: Mapping[str, list[str]], limit_bytes: int) -> bytes:
        flt = _json_param(args, "filter", dict) or {}
        projection = _json_param(args, "projection", dict)
        sort = _json_param(args, "sort", dict)
        limit = _int_param(args, "limit")
        skip = _int_param(args, "skip")
        cursor = collection.find(flt, projection or None)
        if sort:
            bad = {k: v for k, v in sort.items() if v not in (1, -1) or isinstance(v, bool)}
            if bad:
                raise ApiError(400, f"sort directions must be 1 or -1, got {bad!r}.")
            cursor = cursor.sort(list(sort.items()))
        cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return _page([dict(doc) for doc in cursor], limit_bytes)

    def _aggregate(self, collection: Any, body: bytes, limit_bytes: int) -> bytes:
        try:
            pipeline = json.loads(body) if body.strip() else None
        except ValueError as exc:
            raise ApiError(400, f"The pipeline is not valid JSON: {exc}.") from None
        if not isinstance(pipeline, list) or not all(isinstance(s, dict) for s in pipeline):
            raise ApiError(400, "The body must be a JSON list of pipeline stages (objects).")
        for stage in pipeline:
            refused = sorted(set(stage) & set(READ_ONLY_REFUSED))
            if refused:
                raise ApiError(400, f"{refused[0]} is not allowed: the API is read-only.")
        answer = _dumps([dict(doc) for doc in collection.aggregate(pipeline)])
        if len(answer) > limit_bytes:
            raise ApiError(
                413, f"The answer ({len(answer)} bytes) is bigger than the API Gateway allows."
            )
        return answer


def _page(records: list[dict[str, Any]], limit_bytes: int) -> bytes:
    """The first records whose JSON fits in ``limit_bytes`` (at least one)."""
    parts: list[bytes] = []
    size = 2  # the brackets
    for record in records:
        part = _dumps(record)
        if parts and size + len(part) + 2 > limit_bytes:
            break
        parts.append(part)
        size += len(part) + 2
    return b"[" + b", ".join(parts) + b"]"


def _json_param(args: Mapping[str, list[str]], name: str, kind: type) -> Any:
    """A JSON query parameter, or None when it is not given."""
    if name not in args:
        return None
    text = args[name][-1]
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"Query parameter {name!r} is not valid JSON: {exc}.") from None
    if not isinstance(value, kind):
        raise ApiError(
            400, f"Query parameter {name!r} must be a JSON object, not {type(value).__name__}."
        )
    return value


def _int_param(args: Mapping[str, list[str]], name: str) -> int:
    text = args.get(name, ["0"])[-1].strip()
    if not text.isdigit():
        raise ApiError(400, f"Query parameter {name!r} must be an integer of at least 0.")
    return int(text)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_default).encode()
