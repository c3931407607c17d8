"""A FastAPI service of realistic shape (users and their items, nested models,
pagination with limits, a database session dependency with clean-up, a bearer-token
dependency, 404/409 errors), the reference side of tests/py/test_typed_port.py. Its port
to ringbolt is typed_port_ringbolt.py: the same code but for the imports."""

from __future__ import annotations

import itertools
import threading
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI()


class Address(BaseModel):
    street: str = Field(min_length=1)
    city: str = Field(min_length=1, max_length=40)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    age: int = Field(ge=0, le=150)
    address: Address
    tags: list[str] = Field(default=[], max_length=5)


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    address: Address
    tags: list[str]


class ItemIn(BaseModel):
    title: str = Field(min_length=1)
    price: float = Field(gt=0)
    quantity: int = Field(default=1, ge=1)


class ItemOut(BaseModel):
    id: int
    owner_id: int
    title: str
    price: float
    quantity: int


class Session:
    """A stand-in for a database session: the store under a lock, closed after use."""

    store: dict[str, dict[int, Any]] = {"users": {}, "items": {}}
    ids = itertools.count(1)
    lock = threading.Lock()
    opened = 0
    closed = 0

    def __init__(self) -> None:
        with Session.lock:
            Session.opened += 1

    def close(self) -> None:
        with Session.lock:
            Session.closed += 1


def get_db() -> Any:
    db = Session()
    try:
        yield db
    finally:
        db.close()


def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
    if authorization is None or not authorization.startswith("Bearer "):
        raise HTTPException(401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    token = authorization.removeprefix("Bearer ")
    if token != "secret":
        raise HTTPException(403, detail="Invalid token")
    return token


DB = Annotated[Session, Depends(get_db)]


def _user(db: Session, user_id: int) -> dict[str, Any]:
    user = db.store["users"].get(user_id)
    if user is None:
        raise HTTPException(404, detail=f"user {user_id} not found")
    return user


@app.post("/users", status_code=201, response_model=UserOut)
def create_user(user: UserIn, db: DB) -> Any:
    with Session.lock:
        if any(u["email"] == user.email for u in db.store["users"].values()):
            raise HTTPException(409, detail="email already registered")
        uid = next(Session.ids)
        db.store["users"][uid] = {"id": uid, **user.model_dump()}
        return db.store["users"][uid]


@app.get("/users", response_model=list[UserOut])
def list_users(db: DB, skip: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=100)] = 10, tag: str | None = None) -> Any:
    users = [u for u in db.store["users"].values() if tag is None or tag in u["tags"]]
    return users[skip: skip + limit]


@app.get("/users/{user_id}", response_model=UserOut)
def read_user(user_id: Annotated[int, Path(ge=1)], db: DB) -> Any:
    return _user(db, user_id)


@app.put("/users/{user_id}", response_model=UserOut)
def replace_user(user_id: Annotated[int, Path(ge=1)], user: UserIn, db: DB) -> Any:
    _user(db, user_id)
    db.store["users"][user_id] = {"id": user_id, **user.model_dump()}
    return db.store["users"][user_id]


@app.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: Annotated[int, Path(ge=1)], db: DB, token: Annotated[str, Depends(bearer)]) -> None:
    _user(db, user_id)
    del db.store["users"][user_id]


@app.post("/users/{user_id}/items", status_code=201, response_model=ItemOut)
def create_item(user_id: Annotated[int, Path(ge=1)], item: ItemIn, db: DB,
                token: Annotated[str, Depends(bearer)]) -> Any:
    _user(db, user_id)
    with Session.lock:
        iid = next(Session.ids)
    db.store["items"][iid] = {"id": iid, "owner_id": user_id, **item.model_dump()}
    return db.store["items"][iid]


@app.get("/items", response_model=list[ItemOut])
def list_items(db: DB, min_price: Annotated[float, Query(ge=0)] = 0, owner: int | None = None,
               limit: Annotated[int, Query(ge=1, le=50)] = 20) -> Any:
    items = [i for i in db.store["items"].values()
             if i["price"] >= min_price and (owner is None or i["owner_id"] == owner)]
    return items[:limit]


@app.get("/sessions")
def sessions() -> dict[str, int]:
    return {"opened": Session.opened, "closed": Session.closed}
