"""Answering a table as CSV when the caller asks for it (`Accept: text/csv`), in the language it asks for."""

from __future__ import annotations

from flask import Response, request

from linli.shared import spreadsheets

VARY = {"Vary": "Accept, Accept-Language"}


def wants_csv() -> bool:
    """Whether the request prefers CSV to JSON (JSON when it names neither)."""
    return request.accept_mimetypes.best_match(["application/json", spreadsheets.MEDIA_TYPE],
                                               default="application/json") == spreadsheets.MEDIA_TYPE


def language() -> str:
    """`zh` unless the request prefers English (`Accept-Language: en`)."""
    return spreadsheets.language_of(request.accept_languages.best_match(["zh-CN", "zh", "en"]))


def csv_answer(body: bytes, language: str, disposition: str) -> Response:
    return Response(body, mimetype=spreadsheets.MEDIA_TYPE, headers={
        **VARY, "Content-Language": spreadsheets.content_language(language), "Content-Disposition": disposition})
