"""imagor's own signing and path vectors (testdata/vectors), every one."""

import pytest

import imagor
from conftest import vectors

SIGNING = vectors("signing.json")["cases"]
PATHS = vectors("path_parse.json")


def ids(cases):
    return [c["id"] for c in cases]


@pytest.mark.parametrize("case", SIGNING, ids=ids(SIGNING))
def test_sign(case):
    args = (case["secret"], case["alg"], case["truncate"])
    assert imagor.sign(case["path"], *args) == case["expect_hash"]
    assert imagor.verify(case["path"], case["expect_hash"], *args)
    assert not imagor.verify(case["path"], case["expect_hash"] + "x", *args)
    assert not imagor.verify(case["path"] + "x", case["expect_hash"], *args)
    # Keyword spelling, bytes secrets and bytes paths give the same.
    assert imagor.sign(case["path"], case["secret"].encode(), signer_type=case["alg"],
                       truncate=case["truncate"]) == case["expect_hash"]
    assert imagor.sign(case["path"].encode(), *args) == case["expect_hash"]
    assert imagor.verify(case["path"].encode(), case["expect_hash"], *args)


def test_a_bytes_path_is_signed_as_its_bytes():
    # HMAC-SHA1 of the bytes `caf\xE9.png`, which imagor also accepts for
    # `caf%E9.png`; no str has those bytes as UTF-8.
    path = b"caf\xe9.png"
    assert imagor.sign(path, "mysecret") == "lK5m5Kx0mYPQVuaN4ft_MQk4cgg="
    assert imagor.verify(path, "lK5m5Kx0mYPQVuaN4ft_MQk4cgg=", "mysecret")
    assert not imagor.verify("caf\ufffd.png", "lK5m5Kx0mYPQVuaN4ft_MQk4cgg=", "mysecret")
    with pytest.raises(TypeError, match="path must be str or bytes, not int"):
        imagor.sign(42, "mysecret")


@pytest.mark.parametrize("case", PATHS["parse"], ids=ids(PATHS["parse"]))
def test_parse(case):
    expect = dict(case["expect"])
    # `params` (the /params/ endpoint prefix) is not part of imagor's JSON.
    expect.pop("params", None)
    assert imagor.parse(case["path"]) == expect


@pytest.mark.parametrize("case", PATHS["generate"], ids=ids(PATHS["generate"]))
def test_generate(case):
    params = case["params"]
    fn = case["fn"]
    if fn == "GeneratePath":
        got = imagor.generate(params)
    elif fn == "GenerateUnsafe":
        got = imagor.generate(params, unsafe=True)
    else:
        signer = case.get("signer", {})
        got = imagor.generate(params, signer.get("secret", ""),
                              signer_type=signer.get("alg", "sha1"),
                              truncate=signer.get("truncate", 0))
    assert got == case["expect_path"]


@pytest.mark.parametrize("case", PATHS["parse"], ids=ids(PATHS["parse"]))
def test_parse_dict_feeds_generate(case):
    """parse's dict is generate's input, with nothing lost on the way:
    it generates what the expected params generate."""
    expect = {k: v for k, v in case["expect"].items() if k != "params"}
    assert imagor.generate(imagor.parse(case["path"])) == imagor.generate(expect)


def test_counts():
    """Every public vector is run (guards against a silently shrunken set)."""
    assert len(SIGNING) >= 90
    assert len(PATHS["parse"]) >= 270
    assert len(PATHS["generate"]) >= 50
