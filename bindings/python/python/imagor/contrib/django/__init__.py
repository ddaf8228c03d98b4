"""Django integration: imagor URLs in templates and code.

Add ``"imagor.contrib.django"`` to ``INSTALLED_APPS``, then::

    {% load imagor_tags %}
    <img src="{% imagor_url photo.image "fit-in/300x200/filters:format(webp)" %}">
    <img src="{% imagor_url photo.image width=300 height=200 smart=True %}">

For django-thumbor users, ``{% load thumbor_tags %}`` with ``{% thumbor_url %}``
and ``{% assign_thumbor_url %}`` keep working unchanged (replace
``"django_thumbor"`` by ``"imagor.contrib.django"`` in ``INSTALLED_APPS``;
``generate_url`` is here too).

Settings are read on each call (so ``override_settings`` works), the
``IMAGOR_*`` name first, then django-thumbor's ``THUMBOR_*`` name:

===========================  ==========================  ==========================
setting                      django-thumbor name         default
===========================  ==========================  ==========================
``IMAGOR_SERVER``            ``THUMBOR_SERVER``          ``http://localhost:8000``
``IMAGOR_SECRET``            ``THUMBOR_SECURITY_KEY``    none: unsafe URLs
``IMAGOR_SIGNER_TYPE``                                   ``sha1``
``IMAGOR_SIGNER_TRUNCATE``                               ``0``
``IMAGOR_UNSAFE``                                        ``False`` (``True``: never sign)
``IMAGOR_MEDIA_URL``         ``THUMBOR_MEDIA_URL``       none: image URLs kept as given
``IMAGOR_ARGUMENTS``         ``THUMBOR_ARGUMENTS``       ``{}``
``IMAGOR_ALIASES``           ``THUMBOR_ALIASES``         ``{}``
===========================  ==========================  ==========================

``thumbor_url`` falls back to django-thumbor's own defaults instead
(``http://localhost:8888``, ``MY_SECURE_KEY``, ``http://localhost:8000/media``),
so that its URLs are django-thumbor's byte for byte.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Union

from django.conf import settings

from ... import generate, parse
from ..._libthumbor import CryptoURL

logger = logging.getLogger(__name__)

__all__ = ["generate_url", "imagor_url", "thumbor_url"]

_THUMBOR_DEFAULTS = {
    "SERVER": "http://localhost:8888",
    "SECRET": "MY_SECURE_KEY",
    "MEDIA_URL": "http://localhost:8000/media",
}
_IMAGOR_DEFAULTS = {"SERVER": "http://localhost:8000", "SECRET": None, "MEDIA_URL": None}
_THUMBOR_NAMES = {
    "SERVER": "THUMBOR_SERVER",
    "SECRET": "THUMBOR_SECURITY_KEY",
    "MEDIA_URL": "THUMBOR_MEDIA_URL",
    "ARGUMENTS": "THUMBOR_ARGUMENTS",
    "ALIASES": "THUMBOR_ALIASES",
}


def setting(name: str, default: Any = None) -> Any:
    """``IMAGOR_<name>``, else django-thumbor's name for it, else `default`."""
    for full in ("IMAGOR_" + name, _THUMBOR_NAMES.get(name)):
        if full and hasattr(settings, full):
            return getattr(settings, full)
    return default


def _image_url(image: Any) -> str:
    """A str, or a ``FieldFile``-like object with ``.url``."""
    if not image:
        logger.error("Empty URL. Skipping.")
        return ""
    if hasattr(image, "url"):
        return getattr(image, "url", "")
    return str(image)


def _media(url: str, media_url: Optional[str]) -> str:
    """Replace Django's ``MEDIA_URL`` prefix by the media URL the image
    server loads from (as django-thumbor does)."""
    prefix = getattr(settings, "MEDIA_URL", "")
    if media_url is None or not prefix or not url.startswith(prefix):
        return url
    rest = url[len(prefix):]
    media_url = media_url.rstrip("/")
    return f"{media_url}/{rest}" if media_url else rest.lstrip("/")


def _arguments(alias: Optional[str], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    args = dict(setting("ARGUMENTS", {}))
    if alias:
        aliases = setting("ALIASES", {})
        if alias not in aliases:
            raise RuntimeError(
                f'Alias "{alias}" not found in alias map IMAGOR_ALIASES/THUMBOR_ALIASES. '
                f"Only found these: {', '.join(aliases)}"
            )
        args.update(aliases[alias])
    args.update(kwargs)
    return args


def _signing() -> Dict[str, Any]:
    return {
        "signer_type": setting("SIGNER_TYPE", "sha1"),
        "truncate": int(setting("SIGNER_TRUNCATE", 0)),
    }


def thumbor_url(image_url: Any, alias: Optional[str] = None, **kwargs: Any) -> str:
    """django-thumbor's ``generate_url``: libthumbor keyword arguments
    (``width``, ``height``, ``smart``, ``fit_in``, ``filters`` ...), merged over
    ``THUMBOR_ARGUMENTS`` and the alias; ``thumbor_server=`` overrides the
    server. Returns ``SERVER/HASH/...`` (or ``SERVER/unsafe/...``)."""
    url = _image_url(image_url)
    url = _media(url, setting("MEDIA_URL", _THUMBOR_DEFAULTS["MEDIA_URL"]))
    if url.startswith("http://"):
        url = url[len("http://"):]
    args = _arguments(alias, kwargs)
    server = args.pop("thumbor_server", args.pop("server", None))
    if server is None:
        server = setting("SERVER", _THUMBOR_DEFAULTS["SERVER"])
    key = None if setting("UNSAFE", False) else setting("SECRET", _THUMBOR_DEFAULTS["SECRET"])
    crypto = CryptoURL(key, **_signing())
    path = crypto.generate(image_url=url, **args).strip("/")
    return f"{str(server).rstrip('/')}/{path}"


generate_url = thumbor_url


def _filters(value: Union[str, Iterable[Any]]) -> List[Dict[str, str]]:
    """``"format(webp):quality(80)"`` or a list of such strings or
    ``{"name", "args"}`` dicts, read by imagor's grammar."""
    if isinstance(value, str):
        filters = parse(f"filters:{value}/_").get("filters", [])
        return [{"name": f["name"], "args": f.get("args", "")} for f in filters]
    out: List[Dict[str, str]] = []
    for item in value:
        out.extend(_filters(item) if isinstance(item, str) else [dict(item)])
    return out


def imagor_url(image: Any, path: str = "", alias: Optional[str] = None, **params: Any) -> str:
    """``SERVER/HASH/path/image`` for `image` (a URL, a key, or a
    ``FieldFile``): `path` is an imagor path without the image
    (``"fit-in/300x200/filters:format(webp)"``) and keyword arguments are
    imagor params (``width=300``, ``fit_in=True``, ``filters="format(webp)"``)
    merged over ``IMAGOR_ARGUMENTS`` and the alias; ``server=`` overrides the
    server, ``unsafe=True`` skips signing."""
    url = _media(_image_url(image), setting("MEDIA_URL", _IMAGOR_DEFAULTS["MEDIA_URL"]))
    args = _arguments(alias, params)
    server = args.pop("server", None) or setting("SERVER", _IMAGOR_DEFAULTS["SERVER"])
    unsafe = bool(args.pop("unsafe", False)) or bool(setting("UNSAFE", False))
    p: Dict[str, Any] = {}
    if path:
        p = dict(parse(path.strip("/") + "/_"))
        for key in ("path", "image", "hash", "unsafe"):
            p.pop(key, None)
    for key, value in args.items():
        if key == "filters":
            p["filters"] = p.get("filters", []) + _filters(value)
        else:
            p[key] = value
    p["image"] = url
    secret = setting("SECRET", _IMAGOR_DEFAULTS["SECRET"])
    if unsafe or not secret:
        out = generate(p, unsafe=True)
    else:
        out = generate(p, secret, **_signing())
    return f"{str(server).rstrip('/')}/{out}"
