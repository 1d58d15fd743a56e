"""S3's XML answers (ListObjectsV2 pages, error documents), read as botocore reads them.

The standard library's ElementTree over expat, as botocore uses it: UTF-8, CDATA and character
references decoded, comments dropped, element names compared without their namespace, an empty
element read as "". Only what the job uses is taken from the tree (keys and sizes, never
LastModified, whose parsing was most of botocore's cost for a page). A DTD is refused unparsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element, ParseError, XMLParser

from botocore.exceptions import ClientError

from reconciler.errors import SourceError


class NotAnS3Document(ValueError):
    """An answer that is not a well-formed, DTD-free UTF-8 XML document."""


@dataclass(frozen=True)
class ListPage:
    """One ListObjectsV2 page: (key, size) of its objects, and where the listing goes on."""

    objects: list[tuple[str, int]]
    truncated: bool
    token: str | None


def parse_document(body: bytes) -> Element:
    """The root element of an S3 XML answer, read as botocore reads it (UTF-8, ElementTree over expat).

    Hardened against entity expansion by refusing any DTD before parsing: without a DTD, XML has
    no entities beyond the five predefined ones and character references, so nothing can expand
    or reach outside the document; S3 never sends one. This is defusedxml's ``forbid_dtd=True``,
    done before the C parser rather than inside defusedxml's pure-Python one, which reads a
    1,000-key page at twice the cost (bench/README.md, "One S3 path"). The body is decoded as
    UTF-8 first, so a ``<!DOCTYPE`` in any other encoding cannot slip past the check.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotAnS3Document(f"not UTF-8 (byte {exc.start})") from None
    if "<!DOCTYPE" in text:
        raise NotAnS3Document("it declares a DTD (<!DOCTYPE), which S3 never sends; refused unparsed")
    # S314 is defusedxml's advice; the DTD refused above is what it would refuse (docstring).
    parser = XMLParser()  # noqa: S314 - fed a str, expat reads UTF-8 whatever the XML declaration says
    try:
        parser.feed(text)
        root: Element = parser.close()
    except ParseError as exc:
        raise NotAnS3Document(f"not well-formed XML ({exc})") from None
    return root


def _local(tag: str, names: dict[str, str]) -> str:
    """`tag` without its namespace, as botocore compares names (any prefix, any namespace URI)."""
    name = names.get(tag)
    if name is None:
        name = names[tag] = tag.rpartition("}")[2]
    return name


def _children_text(element: Element, wanted: frozenset[str], names: dict[str, str]) -> dict[str, str]:
    """The text of the first child of each wanted name ("" for an empty element, as botocore reads it)."""
    found: dict[str, str] = {}
    for child in element:
        name = _local(child.tag, names)
        if name in wanted and name not in found:
            found[name] = child.text or ""
    return found


_ERROR_FIELDS: Final = frozenset({"Code", "Message"})
_PAGE_FIELDS: Final = frozenset({"IsTruncated", "NextContinuationToken", "EncodingType"})
_OBJECT_FIELDS: Final = frozenset({"Key", "Size"})


def error_of(status: int, body: bytes, operation: str) -> ClientError:
    """The ClientError botocore raises for an S3 error answer (its Code and Message, or none)."""
    code, message = "", ""
    try:
        root = parse_document(body) if body.strip() else None
    except NotAnS3Document:
        root = None
    names: dict[str, str] = {}
    if root is not None and _local(root.tag, names) == "Error":
        fields = _children_text(root, _ERROR_FIELDS, names)
        code, message = fields.get("Code", ""), fields.get("Message", "")
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def parse_list_page(body: bytes, *, where: str) -> ListPage:
    """A ListObjectsV2 answer: each object's Key and Size, IsTruncated and NextContinuationToken.

    Element names are compared without their namespace, and keys URL-decoded when the page says
    `EncodingType` url, as botocore does (the request asks for it). A page botocore would read
    but this job cannot use fails by name: an object without Key or Size, a Size that is not a
    non-negative integer.
    """
    try:
        root = parse_document(body)
    except NotAnS3Document as exc:
        raise SourceError(f"{where}: the answer is not a ListObjectsV2 page: {exc}") from None
    names: dict[str, str] = {}
    if _local(root.tag, names) != "ListBucketResult":
        raise SourceError(f"{where}: the answer is not a ListObjectsV2 page: <{_local(root.tag, names)}> at its root")
    # Key and Size in the page's own namespace are found by ElementTree's C lookups: a page holds
    # up to 1,000 objects of about six elements, and a Python loop over each element costs more
    # than the whole parse. An object whose elements are named otherwise is read name by name.
    ns = root.tag[: root.tag.rfind("}") + 1]
    key_tag, size_tag = ns + "Key", ns + "Size"
    objects: list[tuple[str, int]] = []
    fields: dict[str, str] = {}
    for child in root:
        name = _local(child.tag, names)
        if name == "Contents":
            key, size = child.findtext(key_tag), child.findtext(size_tag)
            if key is None or size is None:
                found = _children_text(child, _OBJECT_FIELDS, names)
                key, size = found.get("Key"), found.get("Size")
            if key is None or size is None:
                raise SourceError(f"{where}: a listing page with an object lacking Key or Size")
            digits = size.strip()
            if not digits.isascii() or not digits.isdigit():
                raise SourceError(f"{where}: a listing page with Size {size[:40]!r}")
            objects.append((key, int(digits)))
        elif name in _PAGE_FIELDS and name not in fields:
            fields[name] = child.text or ""
    if fields.get("EncodingType") == "url":
        objects = [(unquote_plus(k) if "%" in k or "+" in k else k, s) for k, s in objects]
    truncated = fields.get("IsTruncated", "").strip().lower() == "true"
    return ListPage(objects, truncated, fields.get("NextContinuationToken") or None)
