"""Integrations: imagor.contrib.django."""
