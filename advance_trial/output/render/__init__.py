"""Renderers: figures now; Markdown, HTML and Word reports later. Render never computes a statistic."""
