"""S3 through the binding: Imagor(s3_loader_bucket=..., s3_endpoint=...)
serves from a real S3 server (s3s-fs on 127.0.0.1, started and stopped
here with tests/services/s3.sh)."""

import subprocess
import tempfile

import pytest

import imagor
from conftest import ROOT, TESTDATA

S3_SH = str(ROOT / "tests" / "services" / "s3.sh")


@pytest.fixture(scope="module")
def s3():
    folder = tempfile.mkdtemp(prefix="imagor-py-s3-")
    out = subprocess.run([S3_SH, "start", folder], check=True, capture_output=True, text=True).stdout
    env = dict(line[len("export ") :].split("=", 1) for line in out.splitlines() if line.startswith("export "))
    try:
        yield {
            "unsafe": True,
            "s3_endpoint": env["S3_ENDPOINT"],
            "s3_force_path_style": True,
            "aws_region": env["AWS_REGION"],
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }
    finally:
        subprocess.run([S3_SH, "stop", folder], check=False)


def test_s3_loader_storage_and_result_storage(s3):
    seeder = imagor.Imagor(file_loader_base_dir=str(TESTDATA), s3_storage_bucket="imagor", s3_storage_base_dir="py", **s3)
    seeder.serve("unsafe/10x10/gopher.png")
    im = imagor.Imagor(
        s3_loader_bucket="imagor",
        s3_loader_base_dir="py",
        s3_result_storage_bucket="imagor",
        s3_result_storage_base_dir="py-results",
        **s3,
    )
    path = "unsafe/fit-in/40x40/filters:format(webp)/gopher.png"
    out = im.serve(path)
    assert out.content_type == "image/webp"
    assert max(imagor.meta(out.data)["width"], imagor.meta(out.data)["height"]) == 40
    results_only = imagor.Imagor(s3_result_storage_bucket="imagor", s3_result_storage_base_dir="py-results", **s3)
    assert results_only.serve(path).data == out.data
    with pytest.raises(imagor.NotFoundError):
        im.serve("unsafe/10x10/missing.png")
    denied = imagor.Imagor(s3_loader_bucket="imagor", **{**s3, "aws_secret_access_key": "wrong"})
    with pytest.raises(imagor.StatusError) as e:
        denied.serve("unsafe/10x10/py/gopher.png")
    assert e.value.status == 403
