"""JMESPath functions for Moodle's data conventions, offered to mapping specs."""

from __future__ import annotations

from typing import Any

from jmespath.functions import signature

from engine.builtins import html_to_text, unix_to_iso

__all__ = ["FUNCTIONS"]

# Moodle text formats (external_format_value): 0 MOODLE, 1 HTML, 2 PLAIN, 4 MARKDOWN.
_PLAIN_FORMATS = {2, 4}


@signature({"types": ["number", "string", "null", "boolean"]})
def moodle_time(value: Any) -> str | None:
    """``moodle_time(n)``: unix seconds → ISO 8601 UTC; Moodle's "never" (0 or null) → null."""
    if isinstance(value, int | float) and value < 0:
        return None
    return unix_to_iso(value)


@signature({"types": []})
def moodle_bool(value: Any) -> bool | None:
    """``moodle_bool(v)``: Moodle booleans come as 1/0 in some functions and true/false in
    others (OBSERVED-5.0 §4.2); null stays null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


@signature({"types": ["string", "null"]}, {"types": ["number", "string", "null"]})
def moodle_text(text: str | None, text_format: Any) -> str | None:
    """``moodle_text(summary, summaryformat)``: formatted Moodle text → plain text (HTML and
    Moodle-auto formats are stripped; plain and Markdown kept); empty → null."""
    if text is None:
        return None
    try:
        fmt = int(text_format) if text_format is not None else 1
    except ValueError:
        fmt = 1
    out = text.strip() if fmt in _PLAIN_FORMATS else html_to_text(text)
    return out or None


FUNCTIONS = {"moodle_time": moodle_time, "moodle_bool": moodle_bool, "moodle_text": moodle_text}
