"""The material library (素材库): content items, channel variants, tracked links, performance."""
