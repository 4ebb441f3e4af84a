"""Segments: rule trees over traits, tags and behaviour, compiled to SQL; kept-current members."""
