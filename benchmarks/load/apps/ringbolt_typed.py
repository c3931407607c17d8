"""The typed API's cost (issue 51, "Speed"): the same endpoints written with typed
parameters, a body model, a dependency and a response model (``typed_app``, pydantic;
``msgspec_app``, msgspec), and by hand on ``req`` with ``req.json()`` and checks
(``hand_app``). Same paths and answers, so benchmarks/load/instr_per_request.py counts
them side by side (``--peer``):

    GET  /q?limit=20&offset=5&q=abc     three query parameters, two with constraints
    GET  /plain                         the same answer with no parameter read (the floor)
    POST /items?limit=5&verbose=true    a 6-field body (a nested model and a list), two
                                        constrained query parameters, one dependency (a
                                        header), a response model; 201
"""

from __future__ import annotations

from typing import Annotated, Any

from typed_models import ItemIn, ItemOut, MItemIn, MItemOut

from ringbolt import App, Depends, Header, Query, ValidationError


def current_user(x_user: Annotated[str, Header()] = "anonymous") -> str:
    return x_user


def _typed(app: App) -> None:
    @app.get("/q")
    def q(limit: Annotated[int, Query(ge=1, le=100)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
          q: str = "") -> dict[str, Any]:
        return {"limit": limit, "offset": offset, "q": q}

    @app.get("/plain")
    def plain(req: Any) -> dict[str, Any]:
        return {"limit": 20, "offset": 5, "q": "abc"}


def make_typed() -> App:
    app = App()
    _typed(app)

    @app.post("/items", status_code=201)
    def create(item: ItemIn, user: Annotated[str, Depends(current_user)],
               limit: Annotated[int, Query(ge=1, le=100)] = 10, verbose: bool = False) -> ItemOut:
        return ItemOut(id=limit, owner=user, name=item.name, price=item.price, quantity=item.quantity, tags=item.tags)

    return app


def make_msgspec() -> App:
    app = App()
    _typed(app)

    @app.post("/items", status_code=201)
    def create(item: MItemIn, user: Annotated[str, Depends(current_user)],
               limit: Annotated[int, Query(ge=1, le=100)] = 10, verbose: bool = False) -> MItemOut:
        return MItemOut(id=limit, owner=user, name=item.name, price=item.price, quantity=item.quantity,
                        tags=item.tags)

    return app


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _query_int(req: Any, name: str, default: int, lo: int, hi: int | None, errors: list[Any]) -> int:
    text = req.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        errors.append({"loc": ["query", name], "msg": "not an integer"})
        return default
    if value < lo or (hi is not None and value > hi):
        errors.append({"loc": ["query", name], "msg": "out of range"})
    return value


def make_hand() -> App:
    app = App()

    @app.get("/q")
    def q(req: Any) -> dict[str, Any]:
        errors: list[Any] = []
        limit = _query_int(req, "limit", 10, 1, 100, errors)
        offset = _query_int(req, "offset", 0, 0, None, errors)
        text = req.query.get("q", "")
        if errors:
            raise ValidationError("invalid query", errors=errors)
        return {"limit": limit, "offset": offset, "q": text}

    @app.get("/plain")
    def plain(req: Any) -> dict[str, Any]:
        return {"limit": 20, "offset": 5, "q": "abc"}

    @app.post("/items")
    def create(req: Any) -> Any:
        errors: list[Any] = []
        limit = _query_int(req, "limit", 10, 1, 100, errors)
        verbose = req.query.get("verbose", "false").lower() in ("1", "true", "yes", "on")
        user = req.header("x-user") or "anonymous"
        body = req.json()
        if not isinstance(body, dict):
            raise ValidationError("the body must be an object", errors=[{"loc": ["body"], "msg": "not an object"}])
        name, price, quantity = body.get("name"), body.get("price"), body.get("quantity")
        tags, dims, description = body.get("tags"), body.get("dims"), body.get("description")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.append({"loc": ["body", "name"], "msg": "a string of 1-100 characters"})
        if not _number(price) or price < 0:
            errors.append({"loc": ["body", "price"], "msg": "a number >= 0"})
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            errors.append({"loc": ["body", "quantity"], "msg": "an integer >= 0"})
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors.append({"loc": ["body", "tags"], "msg": "a list of strings"})
        if not isinstance(dims, dict):
            errors.append({"loc": ["body", "dims"], "msg": "an object"})
        else:
            for key in ("width", "height"):
                if not _number(dims.get(key)) or dims[key] < 0:
                    errors.append({"loc": ["body", "dims", key], "msg": "a number >= 0"})
        if description is not None and not isinstance(description, str):
            errors.append({"loc": ["body", "description"], "msg": "a string"})
        if errors:
            raise ValidationError("invalid item", errors=errors)
        del verbose
        return {"id": limit, "owner": user, "name": name, "price": float(price), "quantity": quantity,
                "tags": tags}, 201

    return app


typed_app = make_typed()
msgspec_app = make_msgspec()
hand_app = make_hand()
