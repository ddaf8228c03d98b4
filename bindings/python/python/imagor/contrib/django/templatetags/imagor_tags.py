"""``{% load imagor_tags %}``: ``{% imagor_url %}``, and django-thumbor's
``{% thumbor_url %}`` / ``{% assign_thumbor_url %}``.

    {% imagor_url photo.image "fit-in/300x200/filters:format(webp)" %}
    {% imagor_url photo.image width=300 height=200 smart=True as thumb %}
    {% thumbor_url photo.image width=300 height=200 filters="quality(80):format(webp)" %}
"""

from typing import Any, List

from django import template

from .. import imagor_url as _imagor_url
from .. import thumbor_url as _thumbor_url

register = template.Library()


def _split_filters(filters: str) -> List[str]:
    # django-thumbor's template reading of filters="a(1):b(2)".
    parts = (filters + ":").split("):")
    return [p + ")" for p in parts][:-1]


@register.simple_tag
def imagor_url(image: Any, path: str = "", **kwargs: Any) -> str:
    """The imagor URL of `image` with an imagor `path` and/or params."""
    return _imagor_url(image, path, **kwargs)


@register.simple_tag
def thumbor_url(image_url: Any, **kwargs: Any) -> str:
    """django-thumbor's tag: libthumbor arguments, ``filters`` as a string."""
    filters = kwargs.get("filters")
    if filters and isinstance(filters, str):
        kwargs["filters"] = _split_filters(filters)
    return _thumbor_url(image_url, **kwargs)


@register.simple_tag
def assign_thumbor_url(image_url: Any, **kwargs: Any) -> str:
    """``{% assign_thumbor_url image_url=... width=300 as thumb %}``."""
    return thumbor_url(image_url, **kwargs)
