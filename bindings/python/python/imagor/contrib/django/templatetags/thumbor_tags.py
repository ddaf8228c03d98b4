"""``{% load thumbor_tags %}``: django-thumbor's tag library, drop-in."""

from django import template

from .imagor_tags import assign_thumbor_url, thumbor_url

register = template.Library()
register.simple_tag(thumbor_url)
register.simple_tag(assign_thumbor_url)
