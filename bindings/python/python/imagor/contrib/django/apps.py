"""The Django app of imagor.contrib.django (template tag libraries
``imagor_tags`` and ``thumbor_tags``)."""

from django.apps import AppConfig


class ImagorConfig(AppConfig):
    name = "imagor.contrib.django"
    label = "imagor"
    verbose_name = "imagor"
