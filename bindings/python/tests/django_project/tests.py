"""imagor.contrib.django under Django's test runner: the template tags, the
IMAGOR_* and THUMBOR_* settings, and django-thumbor parity."""

import itertools

from django.template import Context, Template
from django.test import SimpleTestCase, override_settings

import imagor
from imagor.contrib.django import generate_url, imagor_url, thumbor_url

try:
    import django_thumbor
    from django_thumbor.templatetags import thumbor_tags as dt_tags
except ImportError:  # pragma: no cover - run-tests.sh installs it
    django_thumbor = None


def render(text, **context):
    return Template(text).render(Context(context)).strip()


class FieldFile:
    """What an ImageField gives a template."""

    def __init__(self, url):
        self.url = url


KWARGS = [
    {},
    {"width": 300, "height": 200},
    {"width": 300, "height": 200, "smart": False},
    {"fit_in": True, "width": 100, "height": 100, "filters": ["quality(80)", "format(webp)"]},
    {"full_fit_in": True, "width": 100, "halign": "left", "valign": "bottom"},
    {"flip": True, "flop": True, "meta": True},
    {"crop": ((10, 20), (30, 40)), "trim": True},
    {"unsafe": True, "width": 50},
    {"thumbor_server": "https://other.example.com/", "width": 10},
    {"alias": "thumb"},
    {"alias": "thumb", "width": 20},
]
IMAGES = ["/media/uploads/a.jpg", "http://example.com/b.png", "https://example.com/c.png",
          "plain/key.jpg", FieldFile("/media/field.jpg")]


class ThumborParity(SimpleTestCase):
    """Same settings, same arguments: the same URL as django-thumbor."""

    def setUp(self):
        if django_thumbor is None:
            self.skipTest("django-thumbor is not installed")

    def test_generate_url_matches_django_thumbor(self):
        n = 0
        for image, kwargs in itertools.product(IMAGES, KWARGS):
            with self.subTest(image=image, kwargs=kwargs):
                want = django_thumbor.generate_url(image, **kwargs)
                self.assertEqual(generate_url(image, **kwargs), want)
                self.assertEqual(thumbor_url(image, **kwargs), want)
                n += 1
        self.assertEqual(n, len(IMAGES) * len(KWARGS))

    def test_template_tags_match_django_thumbor(self):
        cases = [
            ('{% thumbor_url "/media/a.jpg" width=300 height=200 %}',
             lambda: dt_tags.thumbor_url("/media/a.jpg", width=300, height=200)),
            ('{% thumbor_url img filters="quality(80):format(webp)" fit_in=True width=9 %}',
             lambda: dt_tags.thumbor_url("/media/x.jpg", filters="quality(80):format(webp)",
                                         fit_in=True, width=9)),
            ('{% thumbor_url img alias="thumb" %}',
             lambda: dt_tags.thumbor_url("/media/x.jpg", alias="thumb")),
        ]
        for library in ("thumbor_tags", "imagor_tags"):
            for text, theirs in cases:
                with self.subTest(library=library, text=text):
                    got = render("{% load " + library + " %}" + text, img="/media/x.jpg")
                    self.assertEqual(got, theirs())

    def test_assign_thumbor_url(self):
        got = render('{% load thumbor_tags %}{% assign_thumbor_url image_url="/media/a.jpg" '
                     'width=300 as thumb %}[{{ thumb }}]')
        self.assertEqual(got, "[" + dt_tags.assign_thumbor_url(image_url="/media/a.jpg",
                                                              width=300) + "]")


class ImagorSettings(SimpleTestCase):
    @override_settings(IMAGOR_SERVER="https://img.example.com", IMAGOR_SECRET="s3cret",
                       IMAGOR_SIGNER_TYPE="sha256", IMAGOR_SIGNER_TRUNCATE=40,
                       IMAGOR_MEDIA_URL="", IMAGOR_ARGUMENTS={})
    def test_imagor_url_signs_with_imagor_settings(self):
        url = render('{% load imagor_tags %}'
                     '{% imagor_url img "fit-in/300x200/filters:format(webp)" %}',
                     img=FieldFile("/media/photos/p.jpg"))
        path = "fit-in/300x200/filters:format(webp)/photos/p.jpg"
        self.assertEqual(url, "https://img.example.com/"
                         + imagor.sign(path, "s3cret", "sha256", 40) + "/" + path)
        self.assertEqual(len(url.split("/")[3]), 40)

    @override_settings(IMAGOR_SERVER="https://img.example.com/", IMAGOR_SECRET="k",
                       IMAGOR_ARGUMENTS={"smart": True}, IMAGOR_MEDIA_URL=None)
    def test_kwargs_path_and_arguments(self):
        url = imagor_url("a.jpg", "fit-in/100x100", filters="format(webp):quality(80)",
                         width=50)
        expect = imagor.url("a.jpg").fit_in(50, 100).smart() \
            .filter("format", "webp").filter("quality", "80").sign("k")
        self.assertEqual(url, "https://img.example.com/" + expect)
        tag = render('{% load imagor_tags %}{% imagor_url "a.jpg" "fit-in/100x100" '
                     'filters="format(webp):quality(80)" width=50 %}')
        self.assertEqual(tag, url)
        unsafe = imagor_url("a.jpg", width=10, unsafe=True, server="http://x")
        self.assertEqual(unsafe, "http://x/unsafe/10x0/smart/a.jpg")
        assigned = render('{% load imagor_tags %}{% imagor_url "a.jpg" width=7 as u %}<{{ u }}>')
        self.assertTrue(assigned.startswith("<https://img.example.com/") and "7x0" in assigned)

    @override_settings(IMAGOR_SECRET="imagor-key", THUMBOR_SECURITY_KEY="thumbor-key",
                       IMAGOR_SERVER="https://imagor.example.com")
    def test_imagor_names_win_over_thumbor_names(self):
        url = thumbor_url("plain/key.jpg", width=10)
        self.assertTrue(url.startswith("https://imagor.example.com/"))
        hash_, path = url.split("/", 3)[3].split("/", 1)
        self.assertTrue(imagor.verify(path, hash_, "imagor-key"))

    @override_settings(IMAGOR_UNSAFE=True)
    def test_unsafe_setting(self):
        self.assertIn("/unsafe/", thumbor_url("k.jpg", width=10))
        self.assertIn("/unsafe/", imagor_url("k.jpg", width=10))

    def test_thumbor_names_are_read(self):
        # From settings.py: THUMBOR_SERVER, THUMBOR_SECURITY_KEY, THUMBOR_MEDIA_URL,
        # THUMBOR_ARGUMENTS (smart).
        url = imagor_url("/media/a.jpg", width=10)
        self.assertTrue(url.startswith("https://thumbor.example.com/"))
        hash_, path = url.split("/", 3)[3].split("/", 1)
        self.assertEqual(path, "10x0/smart/http://origin.example.com/media/a.jpg")
        self.assertTrue(imagor.verify(path, hash_, "thumbor-key"))

    @override_settings(THUMBOR_ALIASES={})
    def test_unknown_alias(self):
        with self.assertRaises(RuntimeError):
            thumbor_url("a.jpg", alias="nope")
