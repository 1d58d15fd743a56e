"""Names are data, not terminal control: text from the cluster, escaped before it reaches a terminal.

Object names, annotation values and index fields are printed in the table, by `explain` and in
console logs. Printed raw, an ESC sequence recolours or clears the terminal, a newline or a tab
breaks the table, and a bidi control (U+202E) shows a name reversed. `terminal_safe` writes such
characters as Python escapes (`\\x1b`, `\\n`, `\\u202e`) and leaves every other character as it
is, so ordinary names (accents and CJK included) read unchanged. JSON and YAML output are data for
programs and are not passed through it.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the bidi embeddings, overrides, isolates and marks (ALM, LRM,
# RLM); and the line and paragraph separators, which some terminals and editors break lines at.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_safe(text: str) -> str:
    """`text` with every control and bidi character written as an escape; one line, whatever it held."""
    return _UNSAFE.sub(_escape, text)
