"""The compiled extension; its public names are documented in imagor/__init__.pyi."""

from . import (
    CancelledError as CancelledError,
    DetectorError as DetectorError,
    ExpiredError as ExpiredError,
    Imagor as Imagor,
    ImagorError as ImagorError,
    ImagorWarning as ImagorWarning,
    InternalError as InternalError,
    InvalidError as InvalidError,
    MaxResolutionExceededError as MaxResolutionExceededError,
    LimitExceededError as LimitExceededError,
    MaxSizeExceededError as MaxSizeExceededError,
    MethodNotAllowedError as MethodNotAllowedError,
    NotFoundError as NotFoundError,
    Output as Output,
    Pixels as Pixels,
    ProcessingError as ProcessingError,
    Response as Response,
    SignatureMismatchError as SignatureMismatchError,
    SourceNotAllowedError as SourceNotAllowedError,
    StatusError as StatusError,
    TimeoutError as TimeoutError,
    TooManyRequestsError as TooManyRequestsError,
    UnsupportedFormatError as UnsupportedFormatError,
    __version__ as __version__,
    formats as formats,
    generate as generate,
    libvips_version as libvips_version,
    meta as meta,
    meta_async as meta_async,
    option_names as option_names,
    parse as parse,
    process as process,
    process_async as process_async,
    process_pixels as process_pixels,
    sign as sign,
    to_pixels as to_pixels,
    verify as verify,
)

__all__ = [
    "__version__", "ImagorError", "NotFoundError", "InvalidError", "MethodNotAllowedError",
    "SourceNotAllowedError", "SignatureMismatchError", "TimeoutError", "ExpiredError",
    "UnsupportedFormatError", "MaxSizeExceededError", "MaxResolutionExceededError",
    "TooManyRequestsError", "LimitExceededError", "CancelledError", "DetectorError", "ProcessingError", "StatusError", "InternalError", "sign", "verify",
    "parse", "generate", "process", "meta", "process_async", "meta_async", "ImagorWarning", "libvips_version", "option_names", "formats", "_test_panic",
    "_test_error", "_after_fork_in_child", "Imagor", "Output", "Pixels", "Response", "process_pixels", "to_pixels",
]

def _test_panic(message: str) -> None: ...
def _test_error(message: str, status: int) -> None: ...
def _after_fork_in_child() -> None: ...
