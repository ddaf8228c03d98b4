"""``imagor.url(image)``: a small typed builder over :func:`imagor.generate`.

Each method returns a new builder, so a base can be shared::

    base = imagor.url("photo.jpg").fit_in(300, 200)
    base.filter("format", "webp").sign("mysecret")   # 'HASH/fit-in/300x200/filters:format(webp)/photo.jpg'
    base.unsafe()                                     # 'unsafe/fit-in/300x200/photo.jpg'

The builder only collects imagor's params; the path and its signature come
from the core (``imagor.generate``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

from ._imagor import generate

Number = Union[int, float]


def _arg(value: Union[str, Number, bool]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Url:
    """An imagor path under construction. Build one with :func:`url`."""

    __slots__ = ("_params",)

    def __init__(self, image: str, params: Optional[Dict[str, Any]] = None) -> None:
        if not isinstance(image, str):
            raise TypeError(f"image must be str, not {type(image).__name__}")
        self._params: Dict[str, Any] = dict(params or {})
        self._params["image"] = image
        self._params.setdefault("filters", [])

    def _with(self, **changes: Any) -> "Url":
        params = dict(self._params)
        params["filters"] = list(self._params["filters"])
        params.update(changes)
        return Url(params["image"], params)

    # Geometry, in the order the path writes it.

    def meta(self) -> "Url":
        """``meta/``: answer with the image's metadata JSON."""
        return self._with(meta=True)

    def trim(self, by: str = "top-left", tolerance: int = 0) -> "Url":
        """``trim/``: remove the border of the colour of the ``top-left`` (or
        ``bottom-right``) pixel, within `tolerance`."""
        if by not in ("top-left", "bottom-right"):
            raise ValueError('trim by must be "top-left" or "bottom-right"')
        return self._with(trim=True, trim_by=by, trim_tolerance=tolerance)

    def crop(self, left: Number, top: Number, right: Number, bottom: Number) -> "Url":
        """``LxT:RxB/``: crop before resizing (values below 1 are fractions)."""
        return self._with(crop_left=left, crop_top=top, crop_right=right, crop_bottom=bottom)

    def resize(self, width: int = 0, height: int = 0) -> "Url":
        """``WxH/``: resize and cover-crop to the size (0 keeps proportion);
        negative values flip."""
        return self._with(width=width, height=height)

    def fit_in(self, width: int = 0, height: int = 0, *, full: bool = False,
               adaptive: bool = False) -> "Url":
        """``fit-in/WxH/``: fit inside the box (``full-``/``adaptive-`` variants)."""
        return self._with(fit_in=True, full_fit_in=full, adaptive_fit_in=adaptive,
                          width=width, height=height)

    def stretch(self, width: int = 0, height: int = 0) -> "Url":
        """``stretch/WxH/``: resize without keeping the aspect ratio."""
        return self._with(stretch=True, width=width, height=height)

    def flip(self, horizontal: bool = True, vertical: bool = False) -> "Url":
        """Flip horizontally and/or vertically (``-W``/``-H``)."""
        return self._with(h_flip=horizontal, v_flip=vertical)

    def padding(self, left: int, top: int, right: Optional[int] = None,
                bottom: Optional[int] = None) -> "Url":
        """``LxT/`` or ``LxT:RxB/``: padding around the fitted image."""
        return self._with(padding_left=left, padding_top=top,
                          padding_right=left if right is None else right,
                          padding_bottom=top if bottom is None else bottom)

    def align(self, horizontal: Optional[str] = None, vertical: Optional[str] = None) -> "Url":
        """Crop alignment: ``left``/``center``/``right`` and ``top``/``middle``/``bottom``."""
        changes: Dict[str, Any] = {}
        if horizontal is not None:
            if horizontal not in ("left", "center", "right"):
                raise ValueError('horizontal alignment must be "left", "center" or "right"')
            changes["h_align"] = horizontal
        if vertical is not None:
            if vertical not in ("top", "middle", "bottom"):
                raise ValueError('vertical alignment must be "top", "middle" or "bottom"')
            changes["v_align"] = vertical
        return self._with(**changes)

    def smart(self) -> "Url":
        """``smart/``: focus the crop on detected features."""
        return self._with(smart=True)

    def filter(self, name: str, *args: Union[str, Number, bool]) -> "Url":
        """Append ``name(arg1,arg2,...)`` to ``filters:``, e.g.
        ``.filter("format", "webp")`` or ``.filter("watermark", "logo.png", 10, 10, 50)``."""
        if not isinstance(name, str) or not name:
            raise ValueError("filter name must be a non-empty str")
        url = self._with()
        url._params["filters"].append({"name": name, "args": ",".join(map(_arg, args))})
        return url

    def base64_image(self) -> "Url":
        """Write the image as ``b64:`` + base64url."""
        return self._with(base64_image=True)

    # Output.

    def params(self) -> Dict[str, Any]:
        """The params dict (imagor's field names), as :func:`imagor.generate` takes it."""
        params = dict(self._params)
        params["filters"] = [dict(f) for f in self._params["filters"]]
        return params

    def path(self) -> str:
        """The bare path, without ``unsafe/`` or a signature."""
        return generate(self._params)

    def unsafe(self) -> str:
        """``unsafe/`` + the path."""
        return generate(self._params, unsafe=True)

    def sign(self, key: Union[str, bytes], signer_type: str = "sha1", truncate: int = 0) -> str:
        """``HASH/`` + the path, signed with `key`."""
        if key is None:
            # generate() reads a missing secret as "the bare path": a key
            # from an unset environment variable would give an unsigned URL.
            raise TypeError(
                "key must be str or bytes, not None (is the secret, e.g. IMAGOR_SECRET, set?)"
            )
        return generate(self._params, key, signer_type=signer_type, truncate=truncate)

    def __str__(self) -> str:
        return self.path()

    def __repr__(self) -> str:
        return f"imagor.url({self._params['image']!r}) -> {self.path()!r}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Url) and other.params() == self.params()

    __hash__ = None  # type: ignore[assignment]


def url(image: str) -> Url:
    """Start building the imagor path of `image`:
    ``imagor.url("photo.jpg").fit_in(300, 200).filter("format", "webp").sign(key)``."""
    return Url(image)

