"""``imagor.CryptoURL``: libthumbor's URL builder, on imagor's core.

libthumbor code works by changing the import::

    from imagor import CryptoURL      # was: from libthumbor import CryptoURL
    crypto = CryptoURL(key="my-security-key")
    crypto.generate(width=300, height=200, smart=True, image_url="a.com/b.jpg")
    # '/HASH/300x200/smart/a.com/b.jpg', byte for byte what libthumbor returns

This module only maps libthumbor's keyword arguments onto imagor's params;
the path and its signature come from the core (``imagor.generate``).

Where the output differs from libthumbor's (both forms mean the same to
thumbor and imagor):

- ``trim=("top-left", n)`` is written ``trim:n`` and ``trim=(None, n)``
  ``trim:n`` (top-left is the default; libthumbor writes ``trim:top-left:n``
  and ``trim::n``);
- an image URL holding ``?``, ``(``, ``)`` or ``,``, or starting with a path
  keyword (``top/``, ``smart/`` ...), is path-escaped as imagor does, where
  libthumbor writes it raw (which breaks the URL);
- several fit-in flags at once give one ``full-``/``adaptive-`` segment
  instead of libthumbor's repeated segments;
- a ``str`` ``filters`` is one filter (libthumbor splits it into letters);
- unknown keyword arguments raise ``TypeError`` (libthumbor ignores them).

Extensions: ``key=None`` gives unsafe URLs; ``signer_type`` and ``truncate``
select imagor's other signers; ``stretch=True``; thumbor's
``horizontal_flip``/``vertical_flip`` and ``crop_left``... spellings.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from ._imagor import generate

_FIT_IN = ("fit_in", "full_fit_in", "adaptive_fit_in", "adaptive_full_fit_in")
_KNOWN = frozenset(
    (
        "image_url", "unsafe", "meta", "trim", "crop", "crop_left", "crop_top",
        "crop_right", "crop_bottom", "width", "height", "flip", "flop",
        "horizontal_flip", "vertical_flip", "halign", "valign", "smart", "filters",
        "stretch",
    )
    + _FIT_IN
)


def _int(name: str, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be int, not {type(value).__name__}")
    return value


def _number(name: str, value: Any) -> Union[int, float]:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    return value


def _filter(text: Any) -> Dict[str, str]:
    if not isinstance(text, str):
        raise TypeError(f"filters must be str items, not {type(text).__name__}")
    name, paren, rest = text.partition("(")
    if not name or not paren or not rest.endswith(")"):
        raise ValueError(f"filter {text!r} is not of the form name(args)")
    return {"name": name, "args": rest[:-1]}


def thumbor_params(options: Dict[str, Any]) -> Dict[str, Any]:
    """libthumbor ``generate()`` keyword arguments as imagor params."""
    if not _KNOWN.issuperset(options):
        unknown = sorted(set(options) - _KNOWN)
        raise TypeError(f"generate() got an unexpected keyword argument {unknown[0]!r}")
    try:
        image = options["image_url"]
    except KeyError:
        raise ValueError("The image_url argument is mandatory.") from None
    params: Dict[str, Any] = {
        "image": image if type(image) is str else "" if image is None else str(image)
    }
    get = options.get
    width = get("width") or 0
    height = get("height") or 0
    if type(width) is not int:
        width = _int("width", width)
    if type(height) is not int:
        height = _int("height", height)
    if width:
        params["width"] = width
    if height:
        params["height"] = height

    rare = _RARE.intersection(options)
    if rare:
        _rare_params(options, rare, params, width, height)

    halign = get("halign", "center")
    if halign != "center":
        if halign not in ("left", "right"):
            raise ValueError('Only "left", "center" and "right" are valid values for '
                             'horizontal alignment.')
        params["h_align"] = halign
    valign = get("valign", "middle")
    if valign != "middle":
        if valign not in ("top", "bottom"):
            raise ValueError('Only "top", "middle" and "bottom" are valid values for '
                             'vertical alignment.')
        params["v_align"] = valign

    if get("smart"):
        params["smart"] = True

    filters = get("filters")
    if filters:
        items: List[Any] = [filters] if isinstance(filters, str) else filters
        params["filters"] = [_filter(f) for f in items]
    return params


_RARE = frozenset(
    ("meta", "trim", "crop", "crop_left", "crop_top", "crop_right", "crop_bottom", "stretch",
     "flip", "flop", "horizontal_flip", "vertical_flip") + _FIT_IN
)


def _rare_params(options: Dict[str, Any], rare: Any, params: Dict[str, Any], width: int,
                 height: int) -> None:
    get = options.get
    if get("meta"):
        params["meta"] = True

    trim = get("trim")
    if trim:
        params["trim"] = True
        if not isinstance(trim, bool):
            by, tolerance = trim[0], trim[1]
            if by not in (None, "", "top-left", "bottom-right"):
                raise ValueError('trim must be True or ("top-left"|"bottom-right", tolerance)')
            if by:
                params["trim_by"] = by
            params["trim_tolerance"] = _int("trim tolerance", tolerance)

    crop = get("crop")
    if crop:
        (left, top), (right, bottom) = crop
        params.update(crop_left=left, crop_top=top, crop_right=right, crop_bottom=bottom)
    for side in ("crop_left", "crop_top", "crop_right", "crop_bottom"):
        value = _number(side, params.get(side, get(side)))
        if value:
            params[side] = value
        else:
            params.pop(side, None)

    if get("fit_in") or get("full_fit_in") or get("adaptive_fit_in") or \
            get("adaptive_full_fit_in"):
        if not (width or height):
            raise ValueError(
                "When using fit-in or full-fit-in, you must specify width and/or height."
            )
        params["fit_in"] = True
        if get("full_fit_in") or get("adaptive_full_fit_in"):
            params["full_fit_in"] = True
        if get("adaptive_fit_in") or get("adaptive_full_fit_in"):
            params["adaptive_fit_in"] = True
    if get("stretch"):
        params["stretch"] = True

    # libthumbor negates the width for a flip, which a zero width next to a
    # height cannot show: the flip is dropped there, and kept as `-0` when
    # neither size is given.
    if (get("flip") or get("horizontal_flip")) and (width or not height):
        params["h_flip"] = True
    if (get("flop") or get("vertical_flip")) and (height or not width):
        params["v_flip"] = True


class CryptoURL:
    """libthumbor's ``CryptoURL``: ``CryptoURL(key).generate(**options)``.

    `key` signs with HMAC-SHA1 as thumbor does (``signer_type``/``truncate``
    select imagor's sha256/sha512 and truncated signatures); ``key=None``
    produces unsafe URLs.
    """

    __slots__ = ("key", "signer_type", "truncate")

    def __init__(self, key: Optional[Union[str, bytes]] = None, signer_type: str = "sha1",
                 truncate: int = 0) -> None:
        if key is not None and not isinstance(key, (str, bytes)):
            raise TypeError(f"key must be str or bytes, not {type(key).__name__}")
        self.key = key
        self.signer_type = signer_type
        self.truncate = truncate

    def generate(self, **options: Any) -> str:
        """The URL path for libthumbor's options: ``/HASH/path`` when signed,
        ``unsafe/path`` with ``unsafe=True`` or without a key (libthumbor's
        forms, the unsafe one without the leading ``/``)."""
        params = thumbor_params(options)
        if options.get("unsafe") or self.key is None:
            return generate(params, unsafe=True)
        return "/" + generate(params, self.key, signer_type=self.signer_type,
                              truncate=self.truncate)

    def __repr__(self) -> str:
        signed = "unsigned" if self.key is None else self.signer_type
        return f"CryptoURL({signed})"
