"""Getting images in: which sources may be ingested (``sources``) and starting an ingest job from the web
app or the CLI (``requests``). The input worker does the listing, reading and extraction."""
