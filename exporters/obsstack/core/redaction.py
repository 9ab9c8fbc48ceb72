"""Finding secrets in text in the forms a dependency may echo them, and cleaning dependency text.

A server, proxy or driver that copies a credential into an error rarely copies it verbatim: it
truncates it, upper-cases it, URL-encodes it, shows the ``Authorization`` header it received
(base64 of ``user:secret``) or a hex dump. :class:`SecretMatcher` knows those forms of every
secret and finds them case-insensitively, including fragments cut short: any run of text that
starts like a form of a secret, for at least :func:`fragment_length` characters.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

# Control characters (C0, DEL, C1), line and paragraph separators, zero-width and bidi controls:
# anything that could end a log line, fake a second one or reorder what a reader sees.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")

# Dependency text is cut to this many characters before scrubbing (bounding its cost), then to
# the caller's limit: a secret cut by the first cut is at worst a fragment shorter than
# fragment_length(), which the final cut removes along with everything past the limit.
_PRE_CUT = 16_384


def fragment_length(length: int) -> int:
    """How many leading characters of a secret (or of one of its forms) count as the secret.

    Eight, or half of a form shorter than 16 characters but never fewer than six; a form
    shorter than six characters only counts whole.
    """
    return min(length, max(6, min(8, (length + 1) // 2)))


def _base64_cores(data: bytes) -> list[bytes]:
    """The secret-only parts of ``data`` base64-encoded after 0, 1 or 2 other bytes.

    Base64 encodes 3 bytes at a time: in base64 of ``user:secret`` the secret's bytes are
    encoded together with the prefix's only up to the next 3-byte boundary; from there on the
    encoding depends on the secret alone, whatever the prefix.
    """
    cores = []
    for skip in range(3):
        body = data[skip:]
        body = body[: len(body) // 3 * 3]
        if body:
            cores.append(body)
    return cores


def secret_forms(value: str) -> list[str]:
    """``value`` as a dependency, proxy or driver may echo it (matched case-insensitively)."""
    forms = [value]
    if len(value) < 4:
        return forms  # derived forms of a tiny secret would match everywhere
    data = value.encode()
    forms += [
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        data.hex(),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        ascii(value)[1:-1],
        str(data)[2:-1],  # bytes repr, as drivers print raw protocol values
        html.escape(value),
        data.decode("latin-1"),  # UTF-8 read as Latin-1
    ]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.append(encode(data).decode())
        forms += [encode(core).decode() for core in _base64_cores(data)]
    return list(dict.fromkeys(form for form in forms if form))


def _lower(text: str) -> str:
    """``text`` lower-cased character by character, positions kept (str.lower() turns U+0130
    into two characters, and capital sigma into one of two letters by its neighbours)."""
    lowered = text.lower()
    if len(lowered) == len(text) and "\u03a3" not in text:
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _same(a: str, b: str) -> bool:
    return a == b or a.lower() == b.lower() or a.casefold() == b.casefold()


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, shared prefixes written once."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class SecretMatcher:
    """Finds every form of a set of secrets in text, whole or as a leading fragment."""

    def __init__(self, secrets: Iterable[str], whole: Iterable[str] = ()) -> None:
        """``whole``: secrets found only whole (in any form), such as a connection URI whose
        leading part (``postgresql://postgres@``) is no secret; its secret parts are added to
        ``secrets`` on their own."""
        # Each form, with how many of its leading characters count as the secret.
        least = {form: fragment_length(len(form)) for s in secrets for form in secret_forms(s)}
        for secret in whole:
            least.update({form: len(form) for form in secret_forms(secret) if form not in least})
        self._least = least
        # Forms by their lower-cased first character: only those are tried at a match.
        self._forms: dict[str, list[str]] = {}
        for form in least:
            self._forms.setdefault(_lower(form[0]), []).append(form)
        # Searched in lower-cased text: a literal pattern lets the regex engine skip ahead fast.
        heads = {_lower(form[:length]) for form, length in least.items()}
        self._pattern = re.compile(_trie_pattern(heads)) if heads else None

    def _span_end(self, text: str, lowered: str, start: int) -> int:
        """The end of the longest form (or fragment of one) starting at ``start``; 0 if none."""
        best = 0
        for form in self._forms.get(lowered[start], ()):
            matched = 0
            for char, expected in zip(text[start : start + len(form)], form, strict=False):
                if not _same(char, expected):
                    break
                matched += 1
            if matched >= self._least[form]:
                best = max(best, start + matched)
        return best

    def sub(self, replacement: str, text: str) -> str:
        """``text`` with every form or fragment of a secret replaced by ``replacement``."""
        if self._pattern is None:
            return text
        lowered = _lower(text)
        out, position = [], 0
        while (match := self._pattern.search(lowered, position)) is not None:
            end = self._span_end(text, lowered, match.start())
            if end <= match.start():  # a case-folded match no form confirms: step over it
                out.append(text[position : match.start() + 1])
                position = match.start() + 1
                continue
            out += [text[position : match.start()], replacement]
            position = end
        out.append(text[position:])
        return "".join(out)


def clean_text(text: str, scrub: Callable[[str], str], limit: int) -> str:
    """Text that came from a dependency, made safe to show: control characters become spaces,
    secrets are scrubbed and the result is cut to ``limit`` characters (marked with ``...``)."""
    text = scrub(_CONTROL.sub(" ", text[:_PRE_CUT]))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
