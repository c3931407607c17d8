"""Request forms: ``req.form()`` for application/x-www-form-urlencoded and
multipart/form-data. Both are parsed natively (``_native.parse_urlencoded``,
``_native.MultipartParser``: a streaming state machine run off the GIL); file parts
above ``spool_threshold`` go to a temp file while they arrive, smaller ones stay in
memory. Temp files are removed after the response (and background tasks) are done."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from typing import IO, Any, Generator, Iterator, Mapping, Sequence, TypeVar, Union

from . import _native
from ._request_body import request_stream
from .datastructures import Headers
from .errors import HTTPError

_T = TypeVar("_T")

MiB = 1 << 20
DEFAULTS: dict[str, Any] = {
    "max_parts": 1000,  # parts (or urlencoded fields) in one form
    "max_part_size": None,  # bytes of one file part (None: only the server's max_body_size)
    "max_field_size": MiB,  # bytes of one non-file field (kept in memory)
    "max_field_name_length": 1024,
    "max_part_header_bytes": 16 * 1024,
    "spool_threshold": MiB,  # file parts above this go to a temp file
    "spool_dir": None,  # None: tempfile.gettempdir()
}


class UploadFile:
    """A file part: ``filename``, ``content_type``, ``headers``, ``size``, ``file`` (a
    binary file object at offset 0), ``read()``, ``save(path)``, ``move(path)``."""

    __slots__ = ("filename", "content_type", "headers", "size", "file", "_path", "_closed")

    def __init__(self, filename: str, content_type: str | None, headers: Headers, size: int, file: IO[bytes],
                 path: str | None) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.size = size
        self.file = file
        self._path = path
        self._closed = False

    @property
    def in_memory(self) -> bool:
        return self._path is None

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int) -> int:
        return self.file.seek(offset)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Copy the content to ``path``."""
        self.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self.file, out, 1 << 20)
        self.file.seek(0)

    def move(self, path: str | os.PathLike[str]) -> None:
        """Put the content at ``path``: a rename of the temp file when it is on the same
        file system (no copy), else a copy. The UploadFile is closed afterwards."""
        if self._path is not None:
            try:
                os.replace(self._path, path)
                self._path = None
                self.release()
                return
            except OSError:
                pass
        self.save(path)
        self.release()

    def close(self) -> None:
        self.release()

    def release(self) -> None:
        """Close the file and remove its temp file (``close``; what the server calls after
        the response, whatever ``close`` is in a subclass: FastAPI's is async)."""
        if self._closed:
            return
        self._closed = True
        self.file.close()
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            self._path = None

    def __del__(self) -> None:
        # A handler that raised never reaches the cleanup after the response: the temp
        # file goes when the request (and its form) is dropped.
        if not getattr(self, "_closed", True):
            try:
                self.release()
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r}, size={self.size})"

    # pydantic: a model's field may be a file (a form model's, Annotated[Upload, Form()])
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema
        return core_schema.no_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/octet-stream"}

    @classmethod
    def _validate(cls, value: Any) -> Any:
        if not isinstance(value, UploadFile):
            raise ValueError(f"Expected UploadFile, received: {type(value)}")
        return value


FormValue = Union[str, UploadFile]


class FormData(Mapping[str, FormValue]):
    """The form's fields in order: ``form[name]`` is the first value, ``getlist(name)``
    all of them (repeated names are kept). File parts are UploadFile, the rest str.
    Awaitable (``await req.form()`` gives the same object)."""

    __slots__ = ("_items", "_first")

    def __init__(self, items: Sequence[tuple[str, FormValue]]) -> None:
        self._items = list(items)
        first: dict[str, FormValue] = {}
        for k, v in items:
            first.setdefault(k, v)
        self._first = first

    def __getitem__(self, name: str) -> FormValue:
        return self._first[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, name: str) -> list[FormValue]:
        return [v for k, v in self._items if k == name]

    def multi_items(self) -> list[tuple[str, FormValue]]:
        return list(self._items)

    def files(self) -> list[UploadFile]:
        return [v for _, v in self._items if isinstance(v, UploadFile)]

    def close(self) -> None:
        for f in self.files():
            f.release()

    def __await__(self) -> Generator[Any, None, "FormData"]:
        return self
        yield  # pragma: no cover - makes this a generator

    def __repr__(self) -> str:
        return f"FormData({self._items!r})"


def _limits(overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"req.form() got unknown option(s): {', '.join(sorted(unknown))}")
    limits = dict(DEFAULTS, **overrides)
    return limits


def _media(req: Any) -> tuple[str, str]:
    ctype = req.headers.get("content-type") or ""
    return ctype.split(";", 1)[0].strip().lower(), ctype


def _raise(exc: Exception) -> HTTPError:
    status, message = exc.args
    return HTTPError(status, message)


def _new_parser(ctype: str, limits: dict[str, Any]) -> Any:
    boundary = _native.multipart_boundary(ctype)
    if not boundary:
        raise HTTPError(400, "multipart/form-data without a boundary parameter")
    max_part = limits["max_part_size"]
    try:
        return _native.MultipartParser(
            boundary,
            limits["max_parts"],
            (1 << 64) - 1 if max_part is None else int(max_part),
            limits["max_field_size"],
            limits["max_field_name_length"],
            limits["max_part_header_bytes"],
            limits["spool_threshold"],
            limits["spool_dir"] or tempfile.gettempdir(),
        )
    except _native.MultipartError as exc:
        raise _raise(exc) from None


def _form_of(parts: list[Any]) -> FormData:
    items: list[tuple[str, FormValue]] = []
    done = 0  # parts[:done] are in `items` (their temp files are owned by an UploadFile)
    try:
        for name, filename, ctype, headers, value, fd, path, size in parts:
            if filename is None:
                try:
                    items.append((name, value.decode("utf-8")))
                except UnicodeDecodeError:
                    raise HTTPError(400, f"form field {name[:100]!r} is not valid UTF-8") from None
                done += 1
                continue
            file: IO[bytes] = os.fdopen(fd, "rb+") if fd >= 0 else io.BytesIO(value)
            file.seek(0)
            items.append((name, UploadFile(filename, ctype, Headers(headers), size, file, path)))
            done += 1
    except BaseException:
        for _, v in items:
            if isinstance(v, UploadFile):
                v.release()
        for part in parts[done:]:  # temp files not wrapped: close and remove them here
            if part[5] >= 0:
                os.close(part[5])
            if part[6] is not None:
                try:
                    os.unlink(part[6])
                except FileNotFoundError:
                    pass
        raise
    return FormData(items)


def _parse_buffered(req: Any, limits: dict[str, Any]) -> FormData:
    media, ctype = _media(req)
    body = req.body
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = _native.parse_urlencoded(body, limits["max_parts"], limits["max_field_name_length"])
        except _native.MultipartError as exc:
            raise _raise(exc) from None
        return FormData(pairs)
    parser = _new_parser(ctype, limits)
    try:
        parser.feed(body)
        return _form_of(parser.finish())
    except _native.MultipartError as exc:
        raise _raise(exc) from None
    finally:
        parser.close()


async def _parse_streamed(req: Any, limits: dict[str, Any]) -> FormData:
    media, ctype = _media(req)
    if media == "application/x-www-form-urlencoded":
        body = b"".join([chunk async for chunk in request_stream(req)])
        try:
            pairs = _native.parse_urlencoded(body, limits["max_parts"], limits["max_field_name_length"])
        except _native.MultipartError as exc:
            raise _raise(exc) from None
        form = FormData(pairs)
    else:
        parser = _new_parser(ctype, limits)
        try:
            async for chunk in request_stream(req):
                parser.feed(chunk)  # native, GIL released: a part's bytes go to memory or its temp file
            form = _form_of(parser.finish())
        except _native.MultipartError as exc:
            raise _raise(exc) from None
        finally:
            parser.close()
    _remember(req, form)
    return form


def _remember(req: Any, form: FormData) -> None:
    req.__dict__["_rb_form"] = form  # closed (temp files removed) after the response


def _check_media(req: Any) -> None:
    media, ctype = _media(req)
    if media not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise HTTPError(415, "req.form() needs Content-Type application/x-www-form-urlencoded or multipart/form-data"
                        + (f", not {ctype[:100]!r}" if ctype else " (none was sent)"))


def request_form(req: Any, **options: Any) -> Any:
    """``req.form()``: a FormData for a body already read (awaitable too), else (a body
    streamed to an async handler) an awaitable of one."""
    cached = req.__dict__.get("_rb_form")
    if cached is not None:
        return cached
    limits = _limits(options)
    _check_media(req)
    if req._body_stream is not None:
        return _parse_streamed(req, limits)
    form = _parse_buffered(req, limits)
    _remember(req, form)
    return form
