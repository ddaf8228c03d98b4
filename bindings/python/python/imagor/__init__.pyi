"""Type stubs of the imagor package (imagor-rs for Python)."""

import builtins
from typing import (Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, TypedDict, TypeVar,
                    Union, final, overload)

from typing_extensions import Buffer, NotRequired, Self, Unpack

__version__: str
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

_BytesLike = Union[bytes, bytearray, memoryview]
_Secret = Union[str, bytes]
_Number = Union[int, float]
_T = TypeVar("_T")

class _Filter(TypedDict):
    name: str
    args: NotRequired[str]

class _Params(TypedDict, total=False):
    """imagor's params (``/params`` JSON); zero values are left out."""

    path: str
    image: str
    base64_image: bool
    unsafe: bool
    hash: str
    meta: bool
    trim: bool
    trim_by: str
    trim_tolerance: int
    crop_left: float
    crop_top: float
    crop_right: float
    crop_bottom: float
    fit_in: bool
    adaptive_fit_in: bool
    full_fit_in: bool
    stretch: bool
    width: int
    height: int
    padding_left: int
    padding_top: int
    padding_right: int
    padding_bottom: int
    h_flip: bool
    v_flip: bool
    h_align: str
    v_align: str
    smart: bool
    filters: List[_Filter]

class _AverageColor(TypedDict):
    r: int
    g: int
    b: int

class _MetaRegion(TypedDict):
    """A detected region of ``/meta``, in output pixels."""

    left: int
    top: int
    right: int
    bottom: int
    score: NotRequired[float]
    name: NotRequired[str]

class _Meta(TypedDict):
    """imagor's ``/meta`` answer."""

    format: str
    content_type: str
    width: int
    height: int
    orientation: int
    pages: int
    bands: int
    exif: Dict[str, str]
    detected_regions: NotRequired[List[_MetaRegion]]
    blurhash: NotRequired[str]
    thumbhash: NotRequired[str]
    average_color: NotRequired[_AverageColor]
    # Details of the input bytes (sharp's metadata(), snake_case); meta() adds
    # them, imagor's /meta JSON does not.
    size: NotRequired[int]
    has_alpha: NotRequired[bool]
    space: NotRequired[str]
    density: NotRequired[float]
    has_profile: NotRequired[bool]
    profile_name: NotRequired[str]
    is_progressive: NotRequired[bool]
    delay: NotRequired[List[int]]
    loop: NotRequired[int]

# Errors: .status is imagor's HTTP status, .code the stable kind name.

class ImagorError(Exception):
    status: int
    code: str
    message: str

class NotFoundError(ImagorError): ...
class InvalidError(ImagorError, ValueError): ...
class MethodNotAllowedError(ImagorError): ...
class SourceNotAllowedError(ImagorError): ...
class SignatureMismatchError(ImagorError): ...
class TimeoutError(ImagorError, builtins.TimeoutError): ...
class ExpiredError(ImagorError): ...
class UnsupportedFormatError(ImagorError): ...
class MaxSizeExceededError(ImagorError): ...
class MaxResolutionExceededError(ImagorError): ...
class TooManyRequestsError(ImagorError): ...
class LimitExceededError(ImagorError): ...
class CancelledError(ImagorError): ...
class DetectorError(ImagorError): ...
class ProcessingError(ImagorError): ...
class StatusError(ImagorError): ...
class InternalError(ImagorError): ...
class ImagorWarning(UserWarning): ...

# Signing and paths.

def sign(path: Union[str, bytes], secret: _Secret, signer_type: Optional[str] = "sha1",
         truncate: int = 0) -> str: ...
def verify(path: Union[str, bytes], hash: str, secret: _Secret, signer_type: Optional[str] = "sha1",
           truncate: int = 0) -> bool: ...
def parse(path: str, /) -> _Params: ...
def generate(params: Union[_Params, Dict[str, Any]], secret: Optional[_Secret] = None,
             unsafe: bool = False, signer_type: Optional[str] = "sha1",
             truncate: int = 0) -> str: ...

# Processing. Keyword options are Imagor's (see option_names()).

class _Options(TypedDict, total=False):
    """imagor::Options: Imagor() and process() keyword arguments."""

    secret: str
    signer_type: str
    signer_truncate: int
    unsafe: bool
    max_width: int
    max_height: int
    max_resolution: int
    max_animation_frames: int
    max_filter_ops: int
    disable_blur: bool
    disable_filters: List[str]
    strict_filters: bool
    strip_metadata: bool
    strip_color_profile: bool
    avif_speed: int
    mozjpeg: bool
    fast_shrink_on_load: bool
    unlimited: bool
    concurrency: int
    max_overlay_depth: int
    block_untrusted_loaders: bool
    fail_on: str
    detector_probe_size: int
    face_detector: bool
    face_detector_min_size: int
    face_detector_min_quality: float
    face_detector_max_size: int
    face_detector_iou_threshold: float
    face_detector_cache_size: int
    face_detector_cache_ttl: Union[str, float]
    process_timeout: Union[str, float]
    max_memory: int
    max_total_memory: int
    process_concurrency: int
    process_queue_size: int
    process_slots: int
    request_timeout: Union[str, float]
    load_timeout: Union[str, float]
    save_timeout: Union[str, float]
    http_loader_disable: bool
    http_loader_allowed_sources: List[str]
    http_loader_allowed_source_regexp: str
    http_loader_base_url: str
    http_loader_default_scheme: str
    http_loader_accept: str
    http_loader_forward_headers: List[str]
    http_loader_forward_client_headers: bool
    http_loader_forward_all_headers: bool
    http_loader_override_response_headers: List[str]
    http_loader_max_allowed_size: int
    http_loader_proxy_urls: List[str]
    http_loader_proxy_allowed_sources: List[str]
    http_loader_insecure_skip_verify_transport: bool
    http_loader_block_loopback_networks: bool
    http_loader_block_private_networks: bool
    http_loader_block_link_local_networks: bool
    http_loader_block_networks: List[str]
    file_loader_base_dir: str
    file_loader_path_prefix: str
    file_safe_chars: str
    file_storage_base_dir: str
    file_storage_path_prefix: str
    file_storage_mkdir_permission: str
    file_storage_write_permission: str
    file_storage_expiration: Union[str, float]
    file_result_storage_base_dir: str
    file_result_storage_path_prefix: str
    file_result_storage_mkdir_permission: str
    file_result_storage_write_permission: str
    file_result_storage_expiration: Union[str, float]
    storage_path_style: str
    result_storage_path_style: str
    modified_time_check: bool
    upload_loader_enable: bool
    upload_loader_max_allowed_size: int
    upload_loader_accept: str
    upload_loader_form_field_name: str
    base_params: str
    base_path_redirect: str
    auto_webp: bool
    auto_avif: bool
    auto_jpeg: bool
    cache_header_ttl: Union[str, float]
    cache_header_swr: Union[str, float]
    cache_header_no_cache: bool
    disable_error_body: bool
    disable_params_endpoint: bool
    response_raw_on_error: bool
    aws_region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str
    s3_endpoint: str
    aws_loader_region: str
    aws_loader_access_key_id: str
    aws_loader_secret_access_key: str
    aws_loader_session_token: str
    s3_loader_endpoint: str
    aws_storage_region: str
    aws_storage_access_key_id: str
    aws_storage_secret_access_key: str
    aws_storage_session_token: str
    s3_storage_endpoint: str
    aws_result_storage_region: str
    aws_result_storage_access_key_id: str
    aws_result_storage_secret_access_key: str
    aws_result_storage_session_token: str
    s3_result_storage_endpoint: str
    s3_force_path_style: bool
    s3_safe_chars: str
    s3_loader_bucket: str
    s3_loader_base_dir: str
    s3_loader_path_prefix: str
    s3_loader_bucket_router_config: str
    s3_storage_bucket: str
    s3_storage_base_dir: str
    s3_storage_path_prefix: str
    s3_storage_acl: str
    s3_storage_tagging: str
    s3_storage_expiration: Union[str, float]
    s3_result_storage_bucket: str
    s3_result_storage_base_dir: str
    s3_result_storage_path_prefix: str
    s3_result_storage_acl: str
    s3_result_storage_tagging: str
    s3_result_storage_expiration: Union[str, float]
    s3_storage_class: str
    s3_http_max_idle_conns_per_host: int
    gcloud_safe_chars: str
    gcloud_loader_bucket: str
    gcloud_loader_base_dir: str
    gcloud_loader_path_prefix: str
    gcloud_storage_bucket: str
    gcloud_storage_base_dir: str
    gcloud_storage_path_prefix: str
    gcloud_storage_acl: str
    gcloud_storage_expiration: Union[str, float]
    gcloud_result_storage_bucket: str
    gcloud_result_storage_base_dir: str
    gcloud_result_storage_path_prefix: str
    gcloud_result_storage_acl: str
    gcloud_result_storage_expiration: Union[str, float]
    gcloud_endpoint: str
    object_storage_max_size: int

def process(data: _BytesLike, path: str, **options: Unpack[_Options]) -> bytes: ...
def meta(data: _BytesLike, path: Optional[str] = "") -> _Meta: ...
def process_async(data: _BytesLike, path: str, **options: Unpack[_Options]) -> Awaitable[bytes]: ...
def meta_async(data: _BytesLike, path: Optional[str] = "") -> Awaitable[_Meta]: ...
def process_pixels(pixels: Buffer, path: Optional[str] = "", *, width: Optional[int] = None,
                   height: Optional[int] = None, bands: Optional[int] = None,
                   **options: Unpack[_Options]) -> bytes: ...
def to_pixels(data: Buffer, path: Optional[str] = "", **options: Unpack[_Options]) -> Pixels: ...
def libvips_version() -> Tuple[int, int, int]: ...
def option_names() -> List[str]: ...

class _Formats(TypedDict):
    load: List[str]
    save: List[str]
    libvips: str
    flavour: str

def formats() -> _Formats:
    """What this build loads and saves (imagor's format names), its libvips
    version and flavour (``"bundled"`` in the prebuilt wheel, ``"system"``
    when built against the system libvips)."""
    ...

@final
class Output:
    """What Imagor.serve returns."""

    @property
    def data(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def format(self) -> Optional[str]: ...
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class Pixels:
    """What to_pixels returns: 8-bit sRGB(A) samples; numpy.asarray(px) views them."""

    @property
    def data(self) -> bytes: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def bands(self) -> int: ...
    @property
    def pages(self) -> int: ...
    @property
    def shape(self) -> Tuple[int, int, int]: ...
    @property
    def __array_interface__(self) -> Dict[str, Any]: ...
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class Response:
    """What Imagor.handle returns: the HTTP response imagor's server sends."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> List[Tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...
    @overload
    def header(self, name: str) -> Optional[str]: ...
    @overload
    def header(self, name: str, default: _T) -> Union[str, _T]: ...

_Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

_Region = Union[Tuple[float, float, float, float],
                Tuple[float, float, float, float, Optional[float], Optional[str]]]
_Detector = Callable[[bytes, int, int, int], Optional[Iterable[_Region]]]

@final
class Imagor:
    """A configured imagor (options as keyword arguments; ``detectors``:
    callables ``fn(pixels, width, height, bands) -> [(l, t, r, b[, score, name])]``)."""

    def __new__(cls, detectors: Optional[Iterable[_Detector]] = None, *,
                loader: Optional[Callable[[str], Optional[_BytesLike]]] = None,
                **options: Unpack[_Options]) -> Self: ...
    def process(self, data: _BytesLike, path: str) -> bytes: ...
    def meta(self, data: _BytesLike, path: Optional[str] = "") -> _Meta: ...
    def process_pixels(self, pixels: Buffer, path: Optional[str] = "", *, width: Optional[int] = None,
                       height: Optional[int] = None, bands: Optional[int] = None) -> bytes: ...
    def to_pixels(self, data: Buffer, path: Optional[str] = "") -> Pixels: ...
    def serve(self, path: str) -> Output: ...
    def process_async(self, data: _BytesLike, path: str) -> Awaitable[bytes]: ...
    def meta_async(self, data: _BytesLike, path: Optional[str] = "") -> Awaitable[_Meta]: ...
    def serve_async(self, path: str) -> Awaitable[Output]: ...
    def handle(self, method: str, path: str, headers: Optional[_Headers] = None,
               body: Optional[_BytesLike] = None, query: Optional[str] = None) -> Response: ...
    def sign(self, path: str) -> str: ...

# URL building.

class Url:
    def __init__(self, image: str, params: Optional[Dict[str, Any]] = None) -> None: ...
    def meta(self) -> Url: ...
    def trim(self, by: str = "top-left", tolerance: int = 0) -> Url: ...
    def crop(self, left: _Number, top: _Number, right: _Number, bottom: _Number) -> Url: ...
    def resize(self, width: int = 0, height: int = 0) -> Url: ...
    def fit_in(self, width: int = 0, height: int = 0, *, full: bool = False,
               adaptive: bool = False) -> Url: ...
    def stretch(self, width: int = 0, height: int = 0) -> Url: ...
    def flip(self, horizontal: bool = True, vertical: bool = False) -> Url: ...
    def padding(self, left: int, top: int, right: Optional[int] = None,
                bottom: Optional[int] = None) -> Url: ...
    def align(self, horizontal: Optional[str] = None, vertical: Optional[str] = None) -> Url: ...
    def smart(self) -> Url: ...
    def filter(self, name: str, *args: Union[str, _Number, bool]) -> Url: ...
    def base64_image(self) -> Url: ...
    def params(self) -> _Params: ...
    def path(self) -> str: ...
    def unsafe(self) -> str: ...
    def sign(self, key: _Secret, signer_type: str = "sha1", truncate: int = 0) -> str: ...

def url(image: str) -> Url: ...

class CryptoURL:
    """libthumbor's CryptoURL on imagor's core."""

    key: Optional[_Secret]
    signer_type: str
    truncate: int
    def __init__(self, key: Optional[_Secret] = None, signer_type: str = "sha1",
                 truncate: int = 0) -> None: ...
    def generate(
        self,
        *,
        image_url: str,
        width: Optional[int] = ...,
        height: Optional[int] = ...,
        smart: bool = ...,
        meta: bool = ...,
        fit_in: bool = ...,
        full_fit_in: bool = ...,
        adaptive_fit_in: bool = ...,
        adaptive_full_fit_in: bool = ...,
        flip: bool = ...,
        flop: bool = ...,
        horizontal_flip: bool = ...,
        vertical_flip: bool = ...,
        halign: str = ...,
        valign: str = ...,
        trim: Union[bool, Tuple[Optional[str], int]] = ...,
        crop: Tuple[Tuple[_Number, _Number], Tuple[_Number, _Number]] = ...,
        crop_left: _Number = ...,
        crop_top: _Number = ...,
        crop_right: _Number = ...,
        crop_bottom: _Number = ...,
        filters: Union[List[str], str] = ...,
        stretch: bool = ...,
        unsafe: bool = ...,
    ) -> str: ...
