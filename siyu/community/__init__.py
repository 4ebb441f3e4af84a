"""Community operations (社群运营): WeCom customer groups, group live codes, SOPs, moderation
and group health."""
