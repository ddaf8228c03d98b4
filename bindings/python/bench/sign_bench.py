"""URL signing from Python: imagor.sign against the stdlib hmac one-liner
and libthumbor, and imagor.CryptoURL against libthumbor.CryptoURL, in one
process on the same inputs. Prints one JSON line per case."""
import base64
import hashlib
import hmac
import json
import timeit

import libthumbor

import imagor

PATH = "fit-in/500x400/0x20/filters:fill(white)/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png"
KEY = "mysecret"
OPTS = {"width": 300, "height": 200, "smart": True, "filters": ["quality(80)", "format(webp)"],
        "image_url": "raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png"}


def stdlib_sha1(path, key):
    return base64.urlsafe_b64encode(hmac.new(key.encode(), path.encode(), hashlib.sha1).digest()).decode()


def stdlib_sha256(path, key):
    return base64.urlsafe_b64encode(hmac.new(key.encode(), path.encode(), hashlib.sha256).digest()).decode()


def best_ns(fn, repeat=7):
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def main():
    lt_signer = libthumbor.Signer(KEY)
    lt_crypto = libthumbor.CryptoURL(key=KEY)
    im_crypto = imagor.CryptoURL(key=KEY)
    # Same answers first.
    assert imagor.sign(PATH, KEY) == stdlib_sha1(PATH, KEY) == lt_signer.signature(PATH).decode()
    assert imagor.sign(PATH, KEY, "sha256") == stdlib_sha256(PATH, KEY)
    assert im_crypto.generate(**OPTS) == lt_crypto.generate(**OPTS)
    groups = [
        ("sign sha1", [
            ("imagor.sign", lambda: imagor.sign(PATH, KEY)),
            ("stdlib hmac one-liner", lambda: stdlib_sha1(PATH, KEY)),
            ("libthumbor Signer.signature", lambda: lt_signer.signature(PATH)),
        ]),
        ("sign sha256", [
            ("imagor.sign", lambda: imagor.sign(PATH, KEY, "sha256")),
            ("stdlib hmac one-liner", lambda: stdlib_sha256(PATH, KEY)),
        ]),
        ("CryptoURL.generate", [
            ("imagor.CryptoURL", lambda: im_crypto.generate(**OPTS)),
            ("libthumbor.CryptoURL", lambda: lt_crypto.generate(**OPTS)),
        ]),
    ]
    for group, cases in groups:
        for name, fn in cases:
            print(json.dumps({"group": group, "impl": name, "ns_per_op": round(best_ns(fn), 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
