"""imagor for Python: imagor's (and thumbor's) URL grammar, URL signing and
libvips image processing, from the Rust library imagor-rs.

>>> import imagor
>>> imagor.sign("fit-in/300x200/photo.jpg", "mysecret")
'...'
>>> thumb = imagor.process(open("photo.jpg", "rb").read(), "fit-in/300x200/filters:format(webp)")

The distribution is ``imagor-rs`` (``pip install imagor-rs``); the PyPI name
``imagor`` belongs to an unrelated project.
"""

from ._imagor import (
    CancelledError,
    DetectorError,
    ExpiredError,
    Imagor,
    ImagorError,
    ImagorWarning,
    InternalError,
    InvalidError,
    MaxResolutionExceededError,
    MaxSizeExceededError,
    MethodNotAllowedError,
    NotFoundError,
    Output,
    Pixels,
    ProcessingError,
    Response,
    SignatureMismatchError,
    SourceNotAllowedError,
    StatusError,
    TimeoutError,
    TooManyRequestsError,
    LimitExceededError,
    UnsupportedFormatError,
    __version__,
    formats,
    generate,
    libvips_version,
    meta,
    meta_async,
    option_names,
    parse,
    process,
    process_async,
    process_pixels,
    sign,
    to_pixels,
    verify,
)
from ._libthumbor import CryptoURL
from ._url import Url, url

__all__ = [
    "CancelledError",
    "CryptoURL",
    "DetectorError",
    "ExpiredError",
    "Imagor",
    "ImagorError",
    "ImagorWarning",
    "InternalError",
    "InvalidError",
    "MaxResolutionExceededError",
    "MaxSizeExceededError",
    "MethodNotAllowedError",
    "NotFoundError",
    "Output",
    "Pixels",
    "ProcessingError",
    "Response",
    "SignatureMismatchError",
    "SourceNotAllowedError",
    "StatusError",
    "TimeoutError",
    "TooManyRequestsError",
    "LimitExceededError",
    "UnsupportedFormatError",
    "Url",
    "__version__",
    "formats",
    "generate",
    "libvips_version",
    "meta",
    "meta_async",
    "option_names",
    "parse",
    "process",
    "process_async",
    "process_pixels",
    "sign",
    "to_pixels",
    "url",
    "verify",
]
