"""TinyLMS: a made-up LMS with one REST endpoint per model, ``GET {site}/api/{call}``."""
