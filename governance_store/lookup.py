"""Fuzzy system resolver: turn "who owns PLC-FIL-L3-07?"-style phrases into systems.

Engineers name systems with typos, aliases, IPs, MACs, serials, asset tags,
German names and free text ("the filler PLC on line 3 in Findlay").
``SystemIndex`` is an in-memory index over every system that answers such a
phrase with a ``Resolution``:

``exact``
    an IP, MAC (any separator or case), serial or asset tag (case and
    punctuation ignored) matched, also inside a sentence ("who owns
    10.41.13.7?"), or the phrase equals a name, alias or hostname after
    normalisation.  Identifiers are tried before names.  When several
    systems share the key (two CMDB rows with one serial) the answer is
    ``ambiguous`` with all of them, never a silent pick.
``confident``
    one clear best fuzzy match: score >= ``CONFIDENT_MIN`` (80), at least
    ``CONFIDENT_MARGIN`` (5) points above the runner-up, some of the
    evidence in a name, alias or hostname (context words alone, such as a
    site or area name, never make a confident answer), and every number in
    the query (``L3``, ``07``, ``Plant 2``) is the system's own: a query for
    ``HMI-FIL-L9-02`` is not confidently ``HMI-FIL-L3-02``.
``ambiguous``
    the best score is >= ``PLAUSIBLE_MIN`` (65) but not confident: up to
    ``limit`` systems scoring within ``AMBIGUOUS_BAND`` (15) of the best and
    >= ``PLAUSIBLE_MIN``, best first.
``not_found``
    nothing reaches ``PLAUSIBLE_MIN``; ``matches`` holds up to ``limit``
    "did you mean" suggestions scoring >= ``SUGGEST_MIN`` (55), possibly none.
    A system none of whose numbers agree with the query's is at most a
    suggestion unless its name is within one slip of the query (a character
    dropped, added, replaced or two swapped: ``SLIP`` = 2 insertions or
    deletions in either form): ``PLC-FIL-L9-99`` is not found, with
    ``PLC-FIL-L1-02`` and its kin offered; ``FU-LND-ETI-L105`` and
    ``EWS-AK-R02`` still find ``FU-LND-ETI-L1-05`` and ``EWS-AKR-02``.

Normalisation.  Every name, alias, hostname and query is casefolded and
transliterated to ASCII (``anyascii``: "Łódź" is ``lodz``, "ø" is ``o``),
every run of other characters (space ``_ - . /`` and the like) becomes one
space, and "line 3" is written ``l3`` (the CMDB's own abbreviation; the
words for a line in other languages, "Linie 3", "línea 3", "linia 3", come
from the :class:`Vocabulary` the index is built with).  Two forms are compared:

* *verbatim* (the German form): ``ä ö ü`` spelt ``ae oe ue``;
* *loose*: ``ä ö ü`` as ``a o u``, and leading zeros dropped from numbers
  (``L03`` -> ``l3``, ``07`` -> ``7``).

So "Abfüllung" meets "Abfuellung" verbatim and "Abfullung" loosely, while
words of other languages are never rewritten ("puebla" stays ``puebla``).

A phrase equal to a key in its verbatim form is an exact hit on that key;
otherwise a loose-form hit is exact too, but several systems can share a
loose key: ``PLC_FIL_L3_7`` loosely equals both ``PLC-FIL-L3-07`` and its
near-duplicate ``PLC-FIL-L03-07``, so the answer is ``ambiguous`` with both,
the one whose words agree verbatim (``l3``) first.  Typing ``plc fil l3 07``
names the live one exactly and is ``exact``.  Stop words ("the", "on",
"in", "der", "die", "das", "who", "owns", ...) are dropped when they stand
alone, not inside an identifier: ``in`` in ``HMI-LND-IN-L11-03`` stays.

Scoring (0-100).  Each query word is matched against the words of the
candidate's name, aliases and hostnames and of its context: class, location,
site code and name, ISA-95 area / line / cell names including local-language
names.  A word matches fully when equal verbatim, 0.97 when equal only in
the loose form (``l3``/``l03``), 0.85 as an abbreviation (``fil`` for
"filler", three letters at least, or the first letter and some consonants:
``ovn`` for "oven"), and up to 0.9 for a typo (``fuzz.ratio`` >= 80, four
letters at least); numbers match exactly or not at all.  A query word also
counts through the words the vocabulary groups with it ("horno", "piec" and
"Ofen" for "oven").

Identifiers nobody has.  A query that names an IP, a MAC, or something shaped
like one of the stored serials or asset tags (``FDL-003999``), and that no
system carries, is ``not_found`` with the systems holding the nearest real
identifiers (``Match.identifier``), never a list of look-alike names.  With
``q_cov`` the mean best match over the query words and ``k_cov`` the best
share of one key's words matched by the query::

    score = max(name_sim, 100 * (0.8 * q_cov + 0.2 * k_cov))

``name_sim`` is the best ``fuzz.ratio`` between the query and a key, in
either form, less 0.02 point per point of verbatim difference so that
twins differing only in zero padding rank apart; it carries typo'd
identifiers.  Ties go to the closer spelling (higher ``name_sim``), then
to the system with more identifiers (IPs, MACs, serial, asset tag,
hostnames), then to the one indexed first.

The thresholds were chosen on ``examples/corvane`` and on generated plants
(``tests/store/test_lookup.py``): a one-character typo in a 15-character
name scores about 96 against its system and about 90 against the names
next to it; the sample's free-text questions score 84-100 for the right
system, the runner-up below 70 (or 94 for the near-duplicate twin of the
100-scoring PLC-FIL-L3-07); unrelated words ("coffee machine", "make me a
sandwich") score below 50.

Speed and memory.  The index is nothing but flat arrays (``SECTIONS``: about
230 bytes per system), so it can be written to one file and mapped, read-only
and shared, by every process of a host (``governance_store.index_file``).
Names, aliases and hostnames are found through one sorted ``uint32`` array of
CRC-32 hashes of their German and loose forms, each hit checked against the
system's keys; IPs, MACs, serials and asset tags through sorted arrays of the
identifiers themselves (which also name the nearest ones).  Fuzzy candidates
come from an inverted index of character trigrams over the loose keys (16-bit
postings, split by the high bits of the system position, weighted by inverse
document frequency) plus a context score per distinct (site, location, class,
context) profile.  Trigrams and context words shared by more than an eighth of
all systems are left out of this coarse pass.  The ``SHORTLIST`` (160) best
are kept; ``FULL_SCORE`` (32) of them, plus the ``RESCUE`` (12) others whose
names are closest by edit distance, get the full score above.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from governance_store.folding import ascii_keeping_umlauts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CONFIDENT_MIN = 80.0
CONFIDENT_MARGIN = 5.0
PLAUSIBLE_MIN = 65.0
AMBIGUOUS_BAND = 15.0
SUGGEST_MIN = 55.0
SLIP = 2  # one character dropped, added, replaced or two swapped: at most two insertions/deletions
SHORTLIST = 160
FULL_SCORE = 32
RESCUE = 12

Status = Literal["exact", "confident", "ambiguous", "not_found"]


@dataclass(frozen=True)
class SystemRecord:
    """What the index needs to know about one system."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()
    serial: str | None = None
    asset_tag: str | None = None
    site_code: str | None = None
    location: str | None = None
    class_name: str | None = None
    # Location words: site name, area / line / cell names including German local names.
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    system_id: int
    name: str
    site_code: str | None
    location: str | None
    class_name: str | None
    score: float
    matched_on: str  # ip, mac, serial, asset_tag, name, alias, hostname or context
    # For a suggestion offered because the query named an identifier nobody has: that system's nearest one.
    identifier: str | None = None


@dataclass(frozen=True)
class Resolution:
    status: Status
    # exact / confident: one match; ambiguous: up to ``limit`` ranked;
    # not_found: nearest names as "did you mean" (may be empty).
    matches: tuple[Match, ...]

    @property
    def best(self) -> Match | None:
        """The resolved system when the answer is exact or confident."""
        return self.matches[0] if self.status in ("exact", "confident") else None


# --------------------------------------------------------------------------- normalisation

_NON_ALNUM = re.compile(r"[^0-9a-zäöü]+")
_NON_ASCII_ALNUM = re.compile(r"[^0-9a-z]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_HAS_DIGIT = re.compile(r"[0-9]")
_HEX12 = re.compile(r"[0-9a-f]{12}")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_COMMON_SEPARATORS = str.maketrans("", "", " -_./:")
_MAC_SEPARATORS = str.maketrans("", "", ":-. \t")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_PLAIN = str.maketrans({"ä": "a", "ö": "o", "ü": "u"})
_UMLAUTS = ("ä", "ö", "ü")

STOP_WORDS = frozenset(
    {
        "a", "an", "and", "at", "by", "for", "from", "in", "into", "is", "of", "on", "or", "the", "to", "with",
        "via", "who", "whom", "whose", "what", "which", "where", "owns", "own", "owner", "owners", "does",
        "do", "please", "me", "my", "our", "this", "that",
        "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines", "im",
        "am", "auf", "aus", "bei", "beim", "mit", "von", "vom", "zu", "zum", "zur", "und", "oder", "fuer",
        "ist", "wer", "wem", "wessen", "gehoert",
    }
)  # fmt: skip


def _canon(text: str) -> str:
    """Casefolded ASCII (``ä ö ü`` kept), every run of other characters one space."""
    t = text.casefold()
    if not t.isascii():
        t = ascii_keeping_umlauts(t)
    return _NON_ALNUM.sub(" ", t).strip()


def german(canonical: str) -> str:
    """``ä ö ü`` of a canonical form spelt ``ae oe ue``: what is compared as the same word."""
    return canonical.translate(_GERMAN) if not canonical.isascii() else canonical


def _basic(text: str) -> str:
    """The German ASCII form of ``text`` with separators unified ("line 3" left as it is)."""
    return german(_canon(text))


class Vocabulary:
    """Words the index treats alike: names for a production line ("line 3", "Linie 3", "línea 3" are all
    written ``l3``) and groups of words with one meaning in several languages ("oven", "horno", "piec").

    The index has no languages of its own; whoever builds it passes the words (``handlers`` reads them
    from its language files).  All words are compared in their plain ASCII form."""

    def __init__(self, *, line_words: Iterable[str] = ("line", "linie"), groups: Iterable[Iterable[str]] = (),
                 stop_words: Iterable[str] = ()) -> None:
        # Small words that are never part of a name when they stand alone ("the", "der", "la", "na").
        self.stop_words = STOP_WORDS | {german(_canon(w)) for w in stop_words if _canon(w)}
        words = sorted({plain(w) for w in line_words if plain(w)}, key=len, reverse=True)
        self.line_words = tuple(words)
        self._line = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\s?(\d+)\b") if words else None
        self._line_hint = tuple({w[:3] for w in words})
        alternatives: dict[str, set[str]] = {}
        for group in groups:
            members = {plain(w) for w in group} - {""}
            for word in members:
                alternatives.setdefault(word, set()).update(members - {word})
        self.alternatives: dict[str, tuple[str, ...]] = {w: tuple(sorted(a)) for w, a in alternatives.items() if a}
        self._memo = _Memo(self._canonical)
        self.key_words = _Memo(lambda canonical: _words(canonical, True, self.stop_words))

    def _canonical(self, text: str) -> str:
        t = _canon(text)
        if self._line is not None and any(h in t for h in self._line_hint):
            t = self._line.sub(r"l\1", t)
        return t

    def digest(self) -> str:
        """A stable fingerprint of the words: an index built with other words is another index."""
        words = (sorted(self.line_words), sorted(self.alternatives.items()), sorted(self.stop_words))
        return hashlib.sha256(repr(words).encode()).hexdigest()[:16]

    def canonical(self, text: str) -> str:
        """Casefold, transliterate (``ä ö ü`` kept), unify separators, write "line 3" as "l3"."""
        return self._memo[text]  # type: ignore[no-any-return]


def plain(text: str) -> str:
    """Casefolded ASCII without diacritics, separators unified: "Łódź" is "lodz", "Müller" is "muller"."""
    return _canon(text).translate(_PLAIN)


def verbatim(text: str) -> str:
    """The German ASCII form with separators unified and "line 3" written "l3" (default vocabulary)."""
    return german(DEFAULT_VOCABULARY.canonical(text))


def loose(canonical: str) -> str:
    """The plain form of a canonical text (``ä ö ü`` as ``a o u``) with leading zeros of numbers dropped.

    Together with :func:`german` this keeps "Abfüllung", "Abfuellung" and "Abfullung" equal without
    rewriting other languages' words ("puebla" stays "puebla")."""
    t = canonical.translate(_PLAIN) if not canonical.isascii() else canonical
    if "0" in t:
        t = _LEADING_ZEROS.sub("", t)
    return t


class _Memo(dict):  # type: ignore[type-arg]
    """Bounded memo of a pure function of one string; emptied when full.

    A plain dict (one container for the garbage collector, unlike ``lru_cache``)."""

    def __init__(self, fn: Any, size: int = 1 << 16) -> None:
        super().__init__()
        self.fn, self.size = fn, size

    def __missing__(self, key: str) -> Any:
        if len(self) >= self.size:
            self.clear()
        value = self[key] = self.fn(key)
        return value


DEFAULT_VOCABULARY = Vocabulary()


def without_stop_words(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> str:
    """The canonical form of ``text`` without whole words that are stop words.

    Only whitespace-separated words count: ``in`` in ``HMI-LND-IN-L11-03`` stays.
    """
    kept = [w for w in text.split() if _basic(w) not in vocabulary.stop_words]
    return vocabulary.canonical(" ".join(kept))


Token = tuple[str, str]  # (German form, loose form)


def _words(canonical: str, drop_stop_words: bool = True, stop_words: frozenset[str] = STOP_WORDS) -> tuple[Token, ...]:
    """The distinct words of a canonical string in their German and loose forms."""
    out: list[Token] = []
    seen: set[str] = set()
    for word in canonical.split():
        g = _GERMAN_WORD[word]
        if (drop_stop_words and g in stop_words) or g in seen:
            continue
        seen.add(g)
        out.append((g, _LOOSE[word]))
    return tuple(out)


_GERMAN_WORD = _Memo(german)
_LOOSE = _Memo(loose)


def _alnum(text: str) -> str:
    """Casefolded letters and digits only (serials and asset tags are compared so)."""
    t = text.casefold().translate(_COMMON_SEPARATORS)
    if t.isascii() and t.isalnum():
        return t
    return _NON_ASCII_ALNUM.sub("", german(_canon(t)))


def normalize_ip(text: str) -> str | None:
    """Canonical text of an IPv4 or IPv6 address, or None."""
    t = text.strip()
    m = _IPV4.fullmatch(t)
    if m:
        a, b, c, d = map(int, m.groups())
        return f"{a}.{b}.{c}.{d}" if a < 256 and b < 256 and c < 256 and d < 256 else None
    if ":" in t:
        try:
            return str(ipaddress.IPv6Address(t.split("%", 1)[0]))
        except ValueError:
            return None
    return None


def normalize_mac(text: str) -> str | None:
    """Twelve lower-case hex digits of a MAC address written with any separators, or None."""
    t = text.casefold().translate(_MAC_SEPARATORS)
    return t if len(t) == 12 and _HEX12.fullmatch(t) else None


_IPV4_IN_TEXT = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_MAC_IN_TEXT = re.compile(
    r"(?<![0-9a-f])(?:[0-9a-f]{2}(?:[:\-. ]?[0-9a-f]{2}){5}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![0-9a-f])"
)
_EDGE_PUNCT = "?!,;:()[]{}\"'`"


# --------------------------------------------------------------------------- trigrams

# Alphabet of the loose form: space, a-z, 0-9, anything else; SEP ends a key.
_ALPHABET = 39
_SEP = 38
_LUT = np.full(256, 37, dtype=np.int64)
_LUT[ord(" ")] = 0
for _i, _c in enumerate("abcdefghijklmnopqrstuvwxyz"):
    _LUT[ord(_c)] = 1 + _i
for _i, _c in enumerate("0123456789"):
    _LUT[ord(_c)] = 27 + _i
_LUT[1] = _SEP
_PY_LUT = [int(v) for v in _LUT]
_N_CODES = _ALPHABET**3
_CHUNK = 65_536


def _trigram_codes(padded: str) -> list[int]:
    """Distinct trigram codes of one padded loose string (for queries)."""
    vals = [_PY_LUT[b] for b in padded.encode("ascii", "replace")]
    return sorted({vals[i] * 1521 + vals[i + 1] * 39 + vals[i + 2] for i in range(len(vals) - 2)})


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class _TrigramBuilder:
    """Collects (trigram, system) pairs chunk by chunk and turns them into CSR postings."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._lengths: list[int] = []
        self._start = 0
        self._codes: list[np.ndarray] = []
        self._sids: list[np.ndarray] = []

    def add(self, text: str) -> None:
        """``text``: the system's loose keys, each as " key " followed by a \\x01 separator."""
        self._texts.append(text)
        self._lengths.append(len(text))
        if len(self._lengths) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._lengths:
            return
        buf = np.frombuffer("".join(self._texts).encode("ascii", "replace"), dtype=np.uint8)
        if len(buf) >= 3:
            sym = _LUT[buf]
            a, b, c = sym[:-2], sym[1:-1], sym[2:]
            valid = (a != _SEP) & (b != _SEP) & (c != _SEP)
            codes = (a * (_ALPHABET * _ALPHABET) + b * _ALPHABET + c)[valid]
            owner = np.repeat(np.arange(self._start, self._start + len(self._lengths), dtype=np.int64), self._lengths)
            owner = owner[:-2][valid]
            pairs = _sorted_unique((owner << 16) | codes)
            self._codes.append((pairs & 0xFFFF).astype(np.uint16))
            self._sids.append((pairs >> 16).astype(np.int32))
        self._start += len(self._lengths)
        self._texts, self._lengths = [], []

    def finish(self, n_systems: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low 16 bits of each posting, segment starts, weight per trigram); see ``_SEGMENT_BITS``."""
        self._flush()
        codes = np.concatenate(self._codes) if self._codes else np.zeros(0, dtype=np.uint16)
        sids = np.concatenate(self._sids) if self._sids else np.zeros(0, dtype=np.int32)
        self._codes, self._sids = [], []
        order = np.argsort(codes, kind="stable")
        postings = sids[order]
        del sids
        counts = np.bincount(codes, minlength=_N_CODES)
        weights = np.zeros(_N_CODES, dtype=np.float64)
        present = counts > 0
        weights[present] = np.log1p(n_systems / counts[present])
        segments = _segments(n_systems)
        bucket = codes[order].astype(np.int64)
        del order, codes
        if segments > 1:
            bucket *= segments
            bucket += postings >> _SEGMENT_BITS
        starts = np.zeros(_N_CODES * segments + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=_N_CODES * segments), out=starts[1:])
        del bucket
        low = (postings & ((1 << _SEGMENT_BITS) - 1)).astype(np.uint16)
        return low, starts.astype(_uint_dtype(int(starts[-1]))), weights


# --------------------------------------------------------------------------- scoring helpers


_VOWELS = frozenset("aeiouy")


def _skeleton_abbreviation(short: str, long_: str) -> bool:
    """``ovn`` for "oven", ``flr`` for "filler", ``pkg`` for "packaging": the first letter, then some
    of the word's consonants in order (vowels are what abbreviations drop)."""
    if len(short) > 4 or short[0] != long_[0] or any(c in _VOWELS for c in short[1:]):
        return False
    rest = iter(c for c in long_[1:] if c not in _VOWELS)
    return all(c in rest for c in short[1:])


def _token_sim(qv: str, ql: str, bv: str, bl: str) -> float:
    """How well one query word matches one system word (0-1)."""
    if qv == bv:
        return 1.0
    if ql == bl:
        return 0.97
    if not (ql.isalpha() and bl.isalpha()):
        return 0.0  # numbers and codes with numbers match exactly or not at all
    short, long_ = (ql, bl) if len(ql) <= len(bl) else (bl, ql)
    if len(short) >= 3 and long_.startswith(short):
        return 0.85
    if len(short) >= 3 and len(long_) > len(short) and _skeleton_abbreviation(short, long_):
        return 0.85
    if len(short) >= 4:
        r = fuzz.ratio(ql, bl, score_cutoff=80)
        if r:
            return 0.9 * r / 100.0
    return 0.0


_KIND_NAMES = {"n": "name", "a": "alias", "h": "hostname"}


@dataclass
class _Query:
    """A query in all its forms, with per-query caches of word and key similarities.

    ``full_v`` and ``strip_v`` are canonical forms (``ä ö ü`` kept); ``full_g`` / ``strip_g`` their German
    forms and ``full_l`` / ``strip_l`` their loose forms."""

    full_v: str
    strip_v: str
    tokens: tuple[Token, ...]
    basic: str = ""  # the query in its German form with separators unified, "line 3" left as it is
    # Per query word: words of the same meaning in other languages (from the vocabulary).
    alternatives: tuple[tuple[Token, ...], ...] = ()
    vocab: Vocabulary = field(default_factory=lambda: DEFAULT_VOCABULARY)
    full_g: str = ""
    strip_g: str = ""
    full_l: str = ""
    strip_l: str = ""
    words: dict[str, tuple[float, ...]] = field(default_factory=dict)
    keys: dict[str, tuple[float, float, list[float], int]] = field(default_factory=dict)
    contexts: dict[int, list[float]] = field(default_factory=dict)

    numeric: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.full_g, self.strip_g = german(self.full_v), german(self.strip_v)
        self.full_l = loose(self.full_v)
        self.strip_l = loose(self.strip_v)
        self.numeric = tuple(i for i, (_, ql) in enumerate(self.tokens) if _HAS_DIGIT.search(ql))
        if not self.alternatives:
            self.alternatives = tuple(() for _ in self.tokens)

    def _word(self, bv: str, bl: str) -> tuple[float, ...]:
        """Similarity of one system word to each query word (or a word meaning the same)."""
        vec = self.words.get(bv)
        if vec is None:
            out = []
            for (qv, ql), alts in zip(self.tokens, self.alternatives, strict=True):
                sim = _token_sim(qv, ql, bv, bl)
                for av, al in alts:
                    if sim >= 1.0:
                        break
                    sim = max(sim, _token_sim(av, al, bv, bl))
                out.append(sim)
            vec = self.words[bv] = tuple(out)
        return vec

    def _vector(self, words: tuple[Token, ...]) -> tuple[list[float], float, int]:
        """Best similarity per query word; summed best similarity per system word; word count."""
        if not words:
            return [0.0] * len(self.tokens), 0.0, 0
        get, word = self.words.get, self._word
        vecs = [get(bv) or word(bv, bl) for bv, bl in words]
        return list(map(max, *vecs)) if len(vecs) > 1 else list(vecs[0]), sum(map(max, vecs)), len(vecs)

    def key(self, kv: str) -> tuple[float, float, list[float], int]:
        """(name similarity, share of the key's words matched, best similarity per query word,
        character insertions and deletions from the query, capped at ``SLIP + 1``)."""
        hit = self.keys.get(kv)
        if hit is not None:
            return hit
        kl = _LOOSE[kv]
        kg = german(kv)
        rv = fuzz.ratio(self.full_g, kg)
        rl = fuzz.ratio(self.full_l, kl) if (kl != kg or self.full_l != self.full_g) else rv
        if self.strip_v != self.full_v:
            rv = max(rv, fuzz.ratio(self.strip_g, kg))
            rl = max(rl, fuzz.ratio(self.strip_l, kl))
        # Loose similarity, nudged by the German one so "l3"/"l03" twins rank apart.
        name_sim = max(rv, rl) - 0.02 * (100.0 - rv)
        slips = min(
            Indel.distance(self.strip_g, kg, score_cutoff=SLIP), Indel.distance(self.strip_l, kl, score_cutoff=SLIP)
        )
        vec, covered, n = self._vector(self.vocab.key_words[kv])
        out = (name_sim, covered / n if n else 0.0, vec, slips)
        self.keys[kv] = out
        return out

    def context(self, pid: int, words: tuple[Token, ...]) -> list[float]:
        hit = self.contexts.get(pid)
        if hit is None:
            hit = self.contexts[pid] = self._vector(words)[0]
        return hit


# --------------------------------------------------------------------------- the index


def _uint_dtype(limit: int) -> type[np.unsignedinteger[Any]]:
    return np.uint32 if limit < 2**32 else np.uint64


class _Strings:
    """Many short strings in one UTF-8 buffer with end offsets: two arrays, no Python object per string.

    The arrays may be views of a shared, read-only file (:mod:`governance_store.index_file`)."""

    __slots__ = ("buf", "ends", "_buf", "_ends")

    def __init__(self, buf: np.ndarray, ends: np.ndarray) -> None:
        self.buf, self.ends = buf, ends
        self._buf = buf.data if len(buf) else memoryview(b"")
        self._ends: list[int] | memoryview = ends.tolist() if len(ends) < 4096 else ends.data

    @classmethod
    def of(cls, strings: Iterable[str]) -> _Strings:
        buf = bytearray()
        ends = array("q")
        for text in strings:
            buf += text.encode()
            ends.append(len(buf))
        dtype = _uint_dtype(len(buf))
        return cls(np.frombuffer(bytes(buf), dtype=np.uint8).copy(),
                   np.frombuffer(ends, dtype=np.int64).astype(dtype) if len(ends) else np.zeros(0, dtype=dtype))

    def __getitem__(self, i: int) -> str:
        ends = self._ends
        return str(self._buf[ends[i - 1] if i else 0 : ends[i]], "utf-8")

    def __len__(self) -> int:
        return len(self.ends)

    def nbytes(self) -> int:
        return int(self.buf.nbytes + self.ends.nbytes)


class _StringsBuilder:
    """Appends strings to a growing buffer; :meth:`finish` makes the :class:`_Strings`."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.ends = array("q")

    def append(self, text: str) -> None:
        self.buf += text.encode()
        self.ends.append(len(self.buf))

    def finish(self) -> _Strings:
        dtype = _uint_dtype(len(self.buf))
        ends = np.frombuffer(self.ends, dtype=np.int64).astype(dtype) if len(self.ends) else np.zeros(0, dtype=dtype)
        buf = np.frombuffer(bytes(self.buf), dtype=np.uint8).copy()
        self.buf, self.ends = bytearray(), array("q")
        return _Strings(buf, ends)


_SHAPE_RUN = re.compile(r"([a-z]+|[0-9]+)")
_HEX = re.compile(r"[0-9a-f]+")


def identifier_shape(value: str) -> str:
    """The look of a serial number or asset tag: ``FDL-003981`` is ``a3-96``, a hex serial ``x8``.

    A question naming something of a shape that only identifiers have is about an identifier."""
    t = value.strip().casefold()
    if _HEX.fullmatch(t) and not t.isdigit() and not t.isalpha():
        return f"x{len(t)}"
    return _SHAPE_RUN.sub(lambda m: ("a" if m.group(0)[0].isalpha() else "9") + str(len(m.group(0))), t)


def _key_hash(text: str) -> int:
    """A stable 32-bit hash of a name key (the same in every process); hits are checked against the keys."""
    return zlib.crc32(text.encode())


_ID_KINDS = ("serial", "asset_tag")


class _Identifiers:
    """Every IP, MAC, serial and asset tag, sorted: exact lookups, and the nearest ones when a query names an
    identifier nobody has."""

    def __init__(self, s: dict[str, np.ndarray]) -> None:
        self.ipv4, self.ipv4_sids = s["ipv4"], s["ipv4_sids"]
        self.ipv6, self.ipv6_sids = _Strings(s["ipv6_buf"], s["ipv6_ends"]), s["ipv6_sids"]
        self.macs, self.mac_sids = s["macs"], s["mac_sids"]
        # Serials and asset tags as written, sorted by their key (``_alnum``), kind, spelling and system.
        self.originals = _Strings(s["idk_buf"], s["idk_ends"])
        self.kinds, self.key_sids = s["idk_kinds"], s["idk_sids"]
        shapes = _Strings(s["shape_buf"], s["shape_ends"])
        self.shapes = frozenset(shapes[i] for i in range(len(shapes)))
        self._keys = _Memo(_alnum)

    def key(self, i: int) -> str:
        return self._keys[self.originals[i]]  # type: ignore[no-any-return]

    def _first(self, key: str) -> int:
        """Position of the first stored key >= ``key``."""
        lo, hi = 0, len(self.originals)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.key(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def ip(self, ip: str) -> list[int]:
        if "." in ip:
            v = np.uint32(int(ipaddress.IPv4Address(ip)))  # the array's own type: no conversion of the array
            a, b = np.searchsorted(self.ipv4, v, "left"), np.searchsorted(self.ipv4, v, "right")
            return self.ipv4_sids[a:b].tolist()  # type: ignore[no-any-return]
        out: list[int] = []
        strings = self.ipv6
        lo, hi = 0, len(strings)
        while lo < hi:
            mid = (lo + hi) // 2
            if strings[mid] < ip:
                lo = mid + 1
            else:
                hi = mid
        while lo < len(strings) and strings[lo] == ip:
            out.append(int(self.ipv6_sids[lo]))
            lo += 1
        return out

    def mac(self, mac: str) -> list[int]:
        v = np.int64(int(mac, 16))
        a, b = np.searchsorted(self.macs, v, "left"), np.searchsorted(self.macs, v, "right")
        return self.mac_sids[a:b].tolist()  # type: ignore[no-any-return]

    def serial_or_tag(self, key: str) -> list[tuple[int, str]]:
        """(system position, kind) of every serial, then every asset tag, whose key is ``key``."""
        i = self._first(key)
        out: list[tuple[int, str]] = []
        while i < len(self.originals) and self.key(i) == key:
            out.append((int(self.key_sids[i]), _ID_KINDS[int(self.kinds[i])]))
            i += 1
        return out

    @staticmethod
    def _closest(values: np.ndarray, sids: np.ndarray, target: int, limit: int) -> list[tuple[int, int]]:
        """(value, system position) of the values nearest ``target``, one per system, nearest first."""
        if not len(values):
            return []
        pos = int(np.searchsorted(values, values.dtype.type(target)))
        lo, hi = max(0, pos - 4 * limit), min(len(values), pos + 4 * limit)
        window = sorted(range(lo, hi), key=lambda i: (abs(int(values[i]) - target), i))
        out: list[tuple[int, int]] = []
        seen: set[int] = set()
        for i in window:
            sid = int(sids[i])
            if sid not in seen:
                seen.add(sid)
                out.append((int(values[i]), sid))
            if len(out) >= limit:
                break
        return out

    def suggest(self, text: str, *, limit: int) -> list[tuple[int, str, str]] | None:
        """``None`` unless ``text`` names an IP, MAC, serial or asset tag; else (system position, kind,
        identifier) of the nearest identifiers the index holds (possibly none)."""
        ip = normalize_ip(text) or next(filter(None, map(normalize_ip, _IPV4_IN_TEXT.findall(text))), None)
        if ip is not None:
            if ":" in ip:
                return []
            near = self._closest(self.ipv4, self.ipv4_sids, int(ipaddress.IPv4Address(ip)), limit)
            return [(sid, "ip", str(ipaddress.IPv4Address(v))) for v, sid in near]
        folded = text.casefold()
        mac = normalize_mac(folded) or next(filter(None, map(normalize_mac, _MAC_IN_TEXT.findall(folded))), None)
        if mac is not None:
            near = self._closest(self.macs, self.mac_sids, int(mac, 16), limit)
            return [(sid, "mac", ":".join(f"{v:012x}"[i:i + 2] for i in range(0, 12, 2))) for v, sid in near]
        token = text.strip().strip(_EDGE_PUNCT)
        if not token or any(c.isspace() for c in token) or not _HAS_DIGIT.search(token):
            return None
        if identifier_shape(token) not in self.shapes:
            return None
        key = _alnum(token)
        n = len(self.originals)
        lo = self._first(key)
        around = range(max(0, lo - 2 * limit), min(n, lo + 2 * limit))

        def closeness(i: int) -> tuple[int, int]:
            stored = self.key(i)
            common = next((j for j, (a, b) in enumerate(zip(stored, key, strict=False)) if a != b), min(len(stored), len(key)))
            return (-common, abs(i - lo))

        out: list[tuple[int, str, str]] = []
        seen: set[int] = set()
        for i in sorted(around, key=closeness):
            sid = int(self.key_sids[i])
            if sid not in seen:
                seen.add(sid)
                out.append((sid, _ID_KINDS[int(self.kinds[i])], self.originals[i].strip()))
            if len(out) >= limit:
                break
        return out

    def nbytes(self) -> int:
        arrays = (self.ipv4, self.ipv4_sids, self.ipv6_sids, self.macs, self.mac_sids, self.kinds, self.key_sids)
        return sum(int(a.nbytes) for a in arrays) + self.ipv6.nbytes() + self.originals.nbytes()


# Postings of one trigram are split by the high bits of the system position, so that each is stored in
# 16 bits: segment ``h`` of trigram ``c`` holds the positions ``h * 65536 + low`` for the ``low`` values
# between ``post_starts[c * H + h]`` and ``post_starts[c * H + h + 1]``.
_SEGMENT_BITS = 16


def _segments(n: int) -> int:
    return max(1, (n + (1 << _SEGMENT_BITS) - 1) >> _SEGMENT_BITS)


# The arrays an index is made of, in the order they are stored (see ``SystemIndex.sections``).
SECTIONS = (
    "ids", "name_buf", "name_ends", "key_buf", "key_ends", "profile", "richness", "name_hashes", "name_hash_sids",
    "post_low", "post_starts", "weights", "profile_members", "profile_offsets", "profile_fields", "string_buf",
    "string_ends", "token_buf", "token_ends", "profile_tok_offsets", "profile_toks", "ctx_word_buf", "ctx_word_ends",
    "ctx_offsets", "ctx_pids", "ctx_reach", "ipv4", "ipv4_sids", "ipv6_buf", "ipv6_ends", "ipv6_sids", "macs",
    "mac_sids", "idk_buf", "idk_ends", "idk_kinds", "idk_sids", "shape_buf", "shape_ends",
)  # fmt: skip


class SystemIndex:
    """Resolver over all systems; build once, query many times.

    Everything it holds is a handful of flat arrays (:meth:`sections`), so an index can be written to a
    file once and mapped, read-only and shared, by every process of a host (:mod:`governance_store.index_file`)."""

    def __init__(self, sections: dict[str, np.ndarray], *, vocabulary: Vocabulary | None = None) -> None:
        missing = [name for name in SECTIONS if name not in sections]
        if missing:
            raise ValueError(f"index sections missing: {', '.join(missing)}")
        self._sections = {name: sections[name] for name in SECTIONS}
        s = self._sections
        self._vocab = vocabulary or DEFAULT_VOCABULARY
        self._ids = s["ids"]
        self._names = _Strings(s["name_buf"], s["name_ends"])
        self._keys = _Strings(s["key_buf"], s["key_ends"])  # per system: kind letter + verbatim key, joined by \x1e
        self._profile = s["profile"]
        self._richness = s["richness"]
        self._name_hashes, self._name_hash_sids = s["name_hashes"], s["name_hash_sids"]
        self._post_low, self._post_starts, self._weights = s["post_low"], s["post_starts"], s["weights"]
        self._n_segments = _segments(len(self._names))
        if len(self._post_starts) != _N_CODES * self._n_segments + 1 or len(self._weights) != _N_CODES:
            raise ValueError("index postings do not match the number of systems")
        self._profile_members, self._profile_offsets = s["profile_members"], s["profile_offsets"]
        self._profile_fields = s["profile_fields"]
        self._strings = _Strings(s["string_buf"], s["string_ends"])
        tokens = _Strings(s["token_buf"], s["token_ends"])
        self._tokens: list[Token] = [tuple(tokens[i].split("\x1f", 1)) for i in range(len(tokens))]  # type: ignore[misc]
        self._profile_tok_offsets, self._profile_toks = s["profile_tok_offsets"], s["profile_toks"]
        self._n_profiles = len(self._profile_offsets) - 1
        words = _Strings(s["ctx_word_buf"], s["ctx_word_ends"])
        self._ctx_words: list[str] = [words[i] for i in range(len(words))]  # sorted
        offsets = s["ctx_offsets"].tolist()
        reach = s["ctx_reach"].tolist()
        pids = s["ctx_pids"]
        self._ctx_vocab: dict[str, np.ndarray] = {w: pids[offsets[i] : offsets[i + 1]] for i, w in enumerate(self._ctx_words)}
        self._ctx_reach: dict[str, int] = dict(zip(self._ctx_words, reach, strict=True))
        self._ids_of = _Identifiers(s)
        self._profile_token_memo: dict[int, tuple[Token, ...]] = {}

    def __len__(self) -> int:
        return len(self._names)

    def sections(self) -> dict[str, np.ndarray]:
        """The arrays the index is made of (by name, in :data:`SECTIONS` order)."""
        return dict(self._sections)

    @property
    def vocabulary(self) -> Vocabulary:
        return self._vocab

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickle_index, ({k: np.array(v) for k, v in self._sections.items()}, self._vocab)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, records: Iterable[SystemRecord], *, vocabulary: Vocabulary | None = None) -> SystemIndex:
        vocab = vocabulary or DEFAULT_VOCABULARY
        ids = array("q")
        names, keys = _StringsBuilder(), _StringsBuilder()
        profile = array("i")
        richness = array("b")
        name_hashes = array("q")
        name_hash_sids = array("i")
        ipv4s, ipv4_sids, macs, mac_sids = array("q"), array("i"), array("q"), array("i")
        ipv6s: list[tuple[str, int]] = []
        id_keys: list[tuple[str, int, str]] = []
        shapes: set[str] = set()
        profiles: dict[tuple[Any, ...], int] = {}
        profile_rows: list[tuple[str | None, str | None, str | None]] = []
        trigrams = _TrigramBuilder()
        vcache, lcache, canon = vocab.canonical, _LOOSE.__getitem__, vocab._canonical
        gcache = _GERMAN_WORD.__getitem__
        ids_append, names_append, keys_append = ids.append, names.append, keys.append
        hashes_append, hash_sids_append = name_hashes.append, name_hash_sids.append
        richness_append, profile_append = richness.append, profile.append

        for sid, rec in enumerate(records):
            ids_append(rec.id)
            names_append(rec.name)
            nv = canon(rec.name)
            verbs = [nv] if nv else []
            entries = ["n" + nv] if nv else []
            for v in map(vcache, rec.aliases):
                if v and v not in verbs:
                    verbs.append(v)
                    entries.append("a" + v)
            for v in map(vcache, rec.hostnames):
                if v and v not in verbs:
                    verbs.append(v)
                    entries.append("h" + v)
            keys_append("\x1e".join(entries))
            looses = [loose(nv), *map(lcache, verbs[1:])] if nv else list(map(lcache, verbs))
            trigrams.add(" " + " \x01 ".join(looses) + " \x01" if looses else "\x01")
            # Every key in its German and its loose form, each once: an exact name, alias or hostname.
            for form in {*map(gcache, verbs), *looses}:
                hashes_append(_key_hash(form))
                hash_sids_append(sid)
            rich = len(rec.hostnames) + (1 if rec.location else 0)
            for ip in rec.ips:
                n_ip = normalize_ip(ip)
                if n_ip:
                    rich += 1
                    if "." in n_ip:
                        ipv4s.append(int(ipaddress.IPv4Address(n_ip)))
                        ipv4_sids.append(sid)
                    else:
                        ipv6s.append((n_ip, sid))
            for mac in rec.macs:
                n_mac = normalize_mac(mac)
                if n_mac:
                    rich += 1
                    macs.append(int(n_mac, 16))
                    mac_sids.append(sid)
            for kind, value in (("s", rec.serial), ("t", rec.asset_tag)):
                if value:
                    key = _alnum(value)
                    if key:
                        rich += 1
                        id_keys.append((key + "\x1f" + kind + "\x1f" + value.strip(), sid, value))
                        if len(shapes) < 4096:
                            shapes.add(identifier_shape(value))
            richness_append(rich if rich < 127 else 127)

            pkey = (rec.site_code, rec.location, rec.class_name, rec.context)
            pid = profiles.get(pkey)
            if pid is None:
                pid = profiles[pkey] = len(profile_rows)
                profile_rows.append((rec.site_code, rec.location, rec.class_name))
            profile_append(pid)

        n = len(ids)
        s: dict[str, np.ndarray] = {}
        s["ids"] = np.frombuffer(ids, dtype=np.int64).copy() if n else np.zeros(0, dtype=np.int64)
        if n and int(s["ids"].min()) >= -(2**31) and int(s["ids"].max()) < 2**31:
            s["ids"] = s["ids"].astype(np.int32)
        names_s, keys_s = names.finish(), keys.finish()
        s["name_buf"], s["name_ends"] = names_s.buf, names_s.ends
        s["key_buf"], s["key_ends"] = keys_s.buf, keys_s.ends
        s["profile"] = np.array(profile, dtype=np.int32)
        s["richness"] = np.array(richness, dtype=np.int8)
        h = np.array(name_hashes, dtype=np.uint32)
        order = np.argsort(h, kind="stable")
        s["name_hashes"] = h[order]
        s["name_hash_sids"] = np.array(name_hash_sids, dtype=np.int32)[order]
        del h, order, name_hashes, name_hash_sids
        s["post_low"], s["post_starts"], s["weights"] = trigrams.finish(n)
        profile_arr = s["profile"]
        s["profile_members"] = np.argsort(profile_arr, kind="stable").astype(np.int32)
        s["profile_offsets"] = np.zeros(len(profile_rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(profile_arr, minlength=len(profile_rows)), out=s["profile_offsets"][1:])
        s.update(cls._profile_sections(profiles, profile_rows, profile_arr, vocab))
        s.update(cls._identifier_sections(ipv4s, ipv4_sids, ipv6s, macs, mac_sids, id_keys, shapes))
        return cls(s, vocabulary=vocab)

    @staticmethod
    def _profile_sections(profiles: dict[tuple[Any, ...], int], rows: list[tuple[str | None, str | None, str | None]],
                          profile: np.ndarray, vocab: Vocabulary) -> dict[str, np.ndarray]:
        """Each profile's site, location and class (indexes into a string table) and context words (indexes
        into a token table), and the context vocabulary: for each word, the profiles it describes."""
        strings: dict[str, int] = {}
        fields = np.full((len(rows), 3), -1, dtype=np.int32)
        for pid, row in enumerate(rows):
            for k, text in enumerate(row):
                if text is not None:
                    fields[pid, k] = strings.setdefault(text, len(strings))
        tokens: dict[Token, int] = {}
        tok_offsets = array("q", [0])
        toks = array("i")
        vocab_pids: dict[str, list[int]] = {}
        for (site_code, location, class_name, context), pid in profiles.items():
            words: dict[str, Token] = {}
            for text in (site_code, location, class_name, *context):
                if text:
                    for tok in vocab.key_words[vocab.canonical(text)]:
                        words.setdefault(tok[0], tok)
            for tok in words.values():
                toks.append(tokens.setdefault(tok, len(tokens)))
            tok_offsets.append(len(toks))
            for lo in {lo for _, lo in words.values()}:
                vocab_pids.setdefault(lo, []).append(pid)
        # Profiles are visited in id order, so every list is sorted and distinct.
        ctx_words = sorted(vocab_pids)
        sizes = np.bincount(profile, minlength=len(rows))
        ctx_offsets = np.zeros(len(ctx_words) + 1, dtype=np.int64)
        np.cumsum([len(vocab_pids[w]) for w in ctx_words], out=ctx_offsets[1:])
        ctx_pids = np.array([p for w in ctx_words for p in vocab_pids[w]], dtype=np.int32)
        reach = np.array([int(sizes[vocab_pids[w]].sum()) for w in ctx_words], dtype=np.int64)
        string_s = _Strings.of(strings)
        token_s = _Strings.of(g + "\x1f" + lo for g, lo in tokens)
        word_s = _Strings.of(ctx_words)
        return {
            "profile_fields": fields, "string_buf": string_s.buf, "string_ends": string_s.ends,
            "token_buf": token_s.buf, "token_ends": token_s.ends,
            "profile_tok_offsets": np.frombuffer(tok_offsets, dtype=np.int64).copy(),
            "profile_toks": np.array(toks, dtype=np.int32),
            "ctx_word_buf": word_s.buf, "ctx_word_ends": word_s.ends, "ctx_offsets": ctx_offsets,
            "ctx_pids": ctx_pids, "ctx_reach": reach,
        }  # fmt: skip

    @staticmethod
    def _identifier_sections(ipv4s: array[int], ipv4_sids: array[int], ipv6s: list[tuple[str, int]], macs: array[int],
                             mac_sids: array[int], id_keys: list[tuple[str, int, str]],
                             shapes: set[str]) -> dict[str, np.ndarray]:
        def sort(values: array[int], sids: array[int], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
            v = np.array(values, dtype=dtype)
            o = np.argsort(v, kind="stable")
            return v[o], np.array(sids, dtype=np.int32)[o]

        s: dict[str, np.ndarray] = {}
        s["ipv4"], s["ipv4_sids"] = sort(ipv4s, ipv4_sids, np.uint32)
        s["macs"], s["mac_sids"] = sort(macs, mac_sids, np.int64)
        ipv6s.sort()
        ipv6 = _Strings.of(ip for ip, _ in ipv6s)
        s["ipv6_buf"], s["ipv6_ends"] = ipv6.buf, ipv6.ends
        s["ipv6_sids"] = np.array([sid for _, sid in ipv6s], dtype=np.int32)
        id_keys.sort()  # by key, kind, spelling, system
        # Stored as written (its key is ``_alnum`` of it, shown stripped): the key need not be stored too.
        originals = _Strings.of(value for _, _, value in id_keys)
        s["idk_buf"], s["idk_ends"] = originals.buf, originals.ends
        s["idk_kinds"] = np.array([entry.split("\x1f", 2)[1] == "t" for entry, _, _ in id_keys], dtype=np.int8)
        s["idk_sids"] = np.array([sid for _, sid, _ in id_keys], dtype=np.int32)
        shape_s = _Strings.of(sorted(shapes))
        s["shape_buf"], s["shape_ends"] = shape_s.buf, shape_s.ends
        return s

    @classmethod
    def from_session(cls, session: Session, *, vocabulary: Vocabulary | None = None) -> SystemIndex:
        """Index every system in the store: three bulk queries, no per-row loading."""
        from sqlalchemy import select

        from governance_store.models import HierarchyNode, Site, System

        site_names = dict(session.execute(select(Site.code, Site.name)).tuples().all())
        node_rows = session.execute(
            select(
                HierarchyNode.id, HierarchyNode.node_id, HierarchyNode.parent_id, HierarchyNode.level,
                HierarchyNode.name, HierarchyNode.local_name, HierarchyNode.site_code,
            )
        ).tuples().all()  # fmt: skip
        context = _ContextBuilder(site_names, node_rows)
        stmt = (
            select(
                System.id, System.name, System.aliases, System.hostnames, System.ips, System.macs,
                System.serial, System.asset_tag, System.site_code, System.location, System.class_name,
                System.node_id,
            )
            .order_by(System.id)
            .execution_options(yield_per=10_000)
        )  # fmt: skip

        def records() -> Iterator[SystemRecord]:
            for row in session.execute(stmt).tuples():
                sid, name, aliases, hostnames, ips, macs, serial, asset, site_code, location, class_name, node = row
                yield SystemRecord(
                    id=sid, name=name, aliases=tuple(aliases or ()), hostnames=tuple(hostnames or ()),
                    ips=tuple(ips or ()), macs=tuple(macs or ()), serial=serial, asset_tag=asset,
                    site_code=site_code, location=location, class_name=class_name,
                    context=context.for_system(node, site_code, location),
                )  # fmt: skip

        return cls.build(records(), vocabulary=vocabulary)

    # ------------------------------------------------------------------ resolving

    def resolve(self, query: str, *, limit: int = 5) -> Resolution:
        """Resolve a phrase naming one system; see the module docstring for the statuses."""
        limit = max(1, limit)
        text = (query or "").strip()
        if not text or not len(self._names):
            return Resolution("not_found", ())

        hits = self._identifier_hits(text)
        if hits:
            return self._exact(hits, None, limit)

        vocab = self._vocab
        full_v = vocab.canonical(text)
        strip_v = without_stop_words(text, vocab)
        tokens = _words(strip_v, False)
        alternatives = tuple(
            tuple((a, a) for a in vocab.alternatives.get(ql, ())) for _, ql in tokens
        ) if vocab.alternatives else ()
        q = _Query(full_v, strip_v, tokens, _basic(text), alternatives, vocab)
        for form in dict.fromkeys(f for f in (full_v, strip_v) if f):
            found = self._name_lookup(german(form), german) or self._name_lookup(loose(form), _LOOSE.__getitem__)
            if found:
                return self._exact(self._name_hits(found, form), q, limit)
        nearby = self._ids_of.suggest(text, limit=limit)
        if nearby is not None:
            # An IP, MAC, serial or asset tag nobody has: the nearest real ones, never look-alike names.
            fuzzy = self._fuzzy(q, limit) if q.tokens else Resolution("not_found", ())
            if fuzzy.status in ("exact", "confident"):
                return fuzzy
            return Resolution("not_found", tuple(
                dataclasses.replace(self._match(sid, 0.0, kind), identifier=ident) for sid, kind, ident in nearby
            ))
        if not q.tokens:
            return Resolution("not_found", ())
        return self._fuzzy(q, limit)

    # exact keys ---------------------------------------------------------

    def _name_lookup(self, form: str, fold: Any) -> list[int]:
        """Systems with a name, alias or hostname whose ``fold`` (German or loose form) is ``form``."""
        if not len(self._name_hashes):
            return []
        h = np.uint32(_key_hash(form))  # the array's own type: no conversion of the array
        a = int(np.searchsorted(self._name_hashes, h, "left"))
        b = int(np.searchsorted(self._name_hashes, h, "right"))
        out: list[int] = []
        for sid in dict.fromkeys(self._name_hash_sids[a:b].tolist()):
            # A 32-bit hash may be shared by another key: keep the systems that really have this one.
            if any(fold(entry[1:]) == form for entry in self._keys[sid].split("\x1e")):
                out.append(sid)
        return out

    def _identifier_hits(self, text: str) -> list[tuple[int, str]]:
        ids = self._ids_of
        out: list[tuple[int, str]] = []
        ip = normalize_ip(text)
        for n in [ip] if ip else (n for n in map(normalize_ip, _IPV4_IN_TEXT.findall(text)) if n):
            out.extend((sid, "ip") for sid in ids.ip(n))
        folded = text.casefold()
        mac = normalize_mac(folded)
        for n in [mac] if mac else (n for n in map(normalize_mac, _MAC_IN_TEXT.findall(folded)) if n):
            out.extend((sid, "mac") for sid in ids.mac(n))
        words = [w for w in (w.strip(_EDGE_PUNCT) for w in text.split()) if w]
        phrases = [text] + [" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
        seen: set[str] = set()
        for phrase in phrases:
            key = _alnum(phrase)
            if len(key) < 3 or key in seen or not _HAS_DIGIT.search(key):
                continue
            seen.add(key)
            out.extend(ids.serial_or_tag(key))
        return out

    def _name_hits(self, found: list[int], form: str) -> list[tuple[int, str]]:
        """Which kind of key (name, alias, hostname) each system matched on."""
        out = []
        g, lo = german(form), loose(form)
        for sid in found:
            kind = "name"
            for entry in self._keys[sid].split("\x1e"):
                if german(entry[1:]) == g or _LOOSE[entry[1:]] == lo:
                    kind = _KIND_NAMES[entry[0]]
                    break
            out.append((sid, kind))
        return out

    def _exact(self, hits: list[tuple[int, str]], q: _Query | None, limit: int) -> Resolution:
        by_sid: dict[int, str] = {}
        for sid, kind in hits:
            by_sid.setdefault(sid, kind)
        if len(by_sid) == 1:
            sid, kind = next(iter(by_sid.items()))
            return Resolution("exact", (self._match(sid, 100.0, kind),))
        # Several systems share the key: never pick one silently.
        ranked = []
        for sid, kind in by_sid.items():
            score, name_sim = 0.0, 0.0
            if q is not None and q.tokens:
                score, _, _, name_sim = self._score(sid, q)
            ranked.append((-round(score, 2), -round(name_sim, 2), -int(self._richness[sid]), sid, kind))
        ranked.sort()
        return Resolution("ambiguous", tuple(self._match(r[3], 100.0, r[4]) for r in ranked[:limit]))

    # fuzzy ------------------------------------------------------------------

    def _shortlist(self, q: _Query) -> list[int]:
        """Up to ``SHORTLIST`` systems by coarse score (shared trigram weight + context), best first."""
        n = len(self._names)
        segments, starts, low, weights = self._n_segments, self._post_starts, self._post_low, self._weights
        spans = []
        for code in _trigram_codes(f" {q.strip_l} "):
            a, b = int(starts[code * segments]), int(starts[(code + 1) * segments])
            if b > a:
                spans.append((b - a, code, float(weights[code])))
        spans.sort()
        # Trigrams found in more than an eighth of all keys barely tell systems apart and cost
        # the most to add up; the precise scorer sees them anyway.
        common = max(n // 8, 10_000)
        rare = [span for span in spans if span[0] <= common] or spans[:3]
        scores = np.zeros(n, dtype=np.float32)
        # ``np.add.at`` adds in place, in order, at each position (one system appears once per trigram): the
        # same float32 sums as ``scores[positions] += w``, several times faster.
        if segments == 1:
            for _, code, w in rare:
                np.add.at(scores, low[int(starts[code]) : int(starts[code + 1])], np.float32(w))
        else:
            # One segment of the scores at a time (256 KB: it stays in the CPU cache while every trigram is
            # added); each system still gets its trigrams' weights in the same order.
            width = 1 << _SEGMENT_BITS
            bounds = [(starts[code * segments : (code + 1) * segments + 1].tolist(), w) for _, code, w in rare]
            for h in range(segments):
                pieces = [(low[edges[h] : edges[h + 1]], w) for edges, w in bounds if edges[h + 1] > edges[h]]
                if pieces:
                    positions = np.concatenate([p for p, _ in pieces])
                    weights_ = np.repeat(np.array([w for _, w in pieces], dtype=np.float32), [len(p) for p, _ in pieces])
                    np.add.at(scores[h * width : (h + 1) * width], positions, weights_)
        profile_scores = self._context_scores(q)
        if profile_scores is not None:
            pids = np.flatnonzero(profile_scores)
            if len(pids):
                starts_p, ends = self._profile_offsets[pids], self._profile_offsets[pids + 1]
                counts = ends - starts_p
                members = self._profile_members[np.repeat(ends - counts.cumsum(), counts) + np.arange(counts.sum())]
                np.add.at(scores, members, np.repeat(profile_scores[pids], counts))
        best = float(scores.max()) if n else 0.0
        if best <= 0:
            return []
        for fraction in (0.5, 0.25, 0.0):
            candidates = np.flatnonzero(scores > best * fraction)
            if len(candidates) >= SHORTLIST:
                break
        order = np.argsort(-scores[candidates], kind="stable")[:SHORTLIST]
        return candidates[order].tolist()  # type: ignore[no-any-return]

    def _context_scores(self, q: _Query) -> np.ndarray | None:
        """Per profile: how well its context words cover the query words (on the trigram-weight scale)."""
        if not self._n_profiles:
            return None
        token_matches: list[tuple[int, str, dict[str, float]]] = []
        for (_, token), alts in zip(q.tokens, q.alternatives, strict=True):
            matches: dict[str, float] = {}
            for ql in (token, *(al for _, al in alts)):
                if ql in self._ctx_vocab:
                    matches[ql] = 1.0
                if not _HAS_DIGIT.search(ql):
                    if len(ql) >= 3:
                        words = self._ctx_words  # sorted: the words starting with ql are adjacent
                        i = bisect_left(words, ql)
                        while i < len(words) and words[i].startswith(ql):
                            matches.setdefault(words[i], 0.85)
                            i += 1
                        for k in range(3, len(ql)):
                            if ql[:k] in self._ctx_vocab:
                                matches.setdefault(ql[:k], 0.85)
                    if len(ql) >= 4:
                        for word, score, _ in process.extract(
                            ql, self._ctx_words, scorer=fuzz.ratio, score_cutoff=80, limit=8
                        ):
                            matches.setdefault(word, 0.9 * score / 100.0)
            if not matches:
                continue
            reach = sum(self._ctx_reach[word] for word in matches)
            token_matches.append((reach, token, matches))
        # Words that describe more than an eighth of all systems ("filling", a class shared by
        # every site) do not narrow anything down; the precise scorer still counts them.
        broad = max(len(self._names) // 8, 10_000)
        chosen = [t for t in token_matches if t[0] <= broad] or sorted(token_matches)[:1]
        total: np.ndarray | None = None
        for _, ql, matches in chosen:
            weight = float(sum(self._weights[c] for c in _trigram_codes(f" {ql} ")))
            best = np.zeros(self._n_profiles, dtype=np.float32)
            for word, sim in matches.items():
                pids = self._ctx_vocab[word]
                best[pids] = np.maximum(best[pids], sim)
            best *= weight
            total = best if total is None else total + best
        return total

    def _profile_tokens(self, pid: int) -> tuple[Token, ...]:
        memo = self._profile_token_memo
        hit = memo.get(pid)
        if hit is None:
            if len(memo) >= 1 << 16:
                memo.clear()
            a, b = int(self._profile_tok_offsets[pid]), int(self._profile_tok_offsets[pid + 1])
            tokens = self._tokens
            hit = memo[pid] = tuple(tokens[t] for t in self._profile_toks[a:b].tolist())
        return hit

    def _score(self, sid: int, q: _Query) -> tuple[float, str, bool, float]:
        """(score, matched_on, evidence in a key, name similarity) of one system against the query."""
        pid = int(self._profile[sid])
        best_q = list(q.context(pid, self._profile_tokens(pid)))
        name_sim, name_kind = 0.0, "name"
        k_cov, k_kind = 0.0, "name"
        slips = SLIP + 1
        for entry in self._keys[sid].split("\x1e"):
            sim, share, vec, key_slips = q.key(entry[1:])
            slips = min(slips, key_slips)
            if sim > name_sim:
                name_sim, name_kind = sim, _KIND_NAMES[entry[0]]
            if share > k_cov:
                k_cov, k_kind = share, _KIND_NAMES[entry[0]]
            best_q = list(map(max, best_q, vec))
        blend = 100.0 * (0.8 * sum(best_q) / len(best_q) + 0.2 * k_cov)
        numbers_agree = [best_q[i] >= 0.97 for i in q.numeric]
        # Evidence for a confident answer: a name, alias or hostname matched, and every
        # number the query names (L3, 07, Plant 2) is the system's own.
        evidence = (k_cov > 0 or name_sim >= CONFIDENT_MIN) and all(numbers_agree)
        score, kind = (name_sim, name_kind) if name_sim >= blend else (blend, k_kind if k_cov > 0 else "context")
        if (
            numbers_agree
            and not any(numbers_agree)
            and slips > SLIP
            and Indel.distance(q.basic, _basic(self._names[sid]), score_cutoff=SLIP) > SLIP
        ):
            # Every number differs and the spelling is more than one slip away: another
            # system (PLC-FIL-L9-99 is not PLC-FIL-L1-02), offered only as "did you mean".
            score = min(score, PLAUSIBLE_MIN - 1.0)
        return score, kind, evidence, name_sim

    def _candidates(self, q: _Query) -> list[int]:
        """The shortlist's best by coarse score, plus the rest's closest names by edit similarity."""
        shortlist = self._shortlist(q)
        head, rest = shortlist[:FULL_SCORE], shortlist[FULL_SCORE:]
        if rest:
            keys = self._keys
            names = [keys[sid].partition("\x1e")[0][1:] for sid in rest]  # each system's name comes first
            for _, _, j in process.extract(q.full_v, names, scorer=fuzz.ratio, limit=RESCUE):
                head.append(rest[j])
        return head

    def _fuzzy(self, q: _Query, limit: int) -> Resolution:
        scored = []
        richness = self._richness
        for sid in self._candidates(q):
            score, kind, evidence, name_sim = self._score(sid, q)
            # Equal scores: the closer spelling first, then the system with more identifiers.
            scored.append((-round(score, 2), -round(name_sim, 2), -int(richness[sid]), sid, kind, evidence))
        scored.sort()
        if not scored or -scored[0][0] < PLAUSIBLE_MIN:
            suggestions = [s for s in scored if -s[0] >= SUGGEST_MIN][:limit]
            return Resolution("not_found", tuple(self._match(s[3], -s[0], s[4]) for s in suggestions))
        best = -scored[0][0]
        runner_up = -scored[1][0] if len(scored) > 1 else 0.0
        if best >= CONFIDENT_MIN and best - runner_up >= CONFIDENT_MARGIN and scored[0][5]:
            return Resolution("confident", (self._match(scored[0][3], best, scored[0][4]),))
        floor = max(PLAUSIBLE_MIN, best - AMBIGUOUS_BAND)
        band = [s for s in scored if -s[0] >= floor][:limit]
        return Resolution("ambiguous", tuple(self._match(s[3], -s[0], s[4]) for s in band))

    def memory_bytes(self) -> int:
        """Size of the index: its arrays (what the shared file holds) and the small tables decoded from them."""
        import sys

        size = sys.getsizeof
        total = sum(int(a.nbytes) for a in self._sections.values())
        total += size(self._ctx_words) + sum(map(size, self._ctx_words)) + size(self._ctx_vocab) + size(self._ctx_reach)
        total += size(self._tokens) + sum(size(t) + size(t[0]) + size(t[1]) for t in self._tokens)
        return total

    def _match(self, sid: int, score: float, matched_on: str) -> Match:
        strings = self._strings
        site_code, location, class_name = (strings[i] if i >= 0 else None
                                           for i in self._profile_fields[int(self._profile[sid])].tolist())
        return Match(
            system_id=int(self._ids[sid]), name=self._names[sid], site_code=site_code, location=location,
            class_name=class_name, score=round(float(score), 1), matched_on=matched_on,
        )  # fmt: skip


def _unpickle_index(sections: dict[str, np.ndarray], vocabulary: Vocabulary) -> SystemIndex:
    return SystemIndex(sections, vocabulary=vocabulary)


class _ContextBuilder:
    """Location words of a system from its ISA-95 node (or, lacking one, its site and location)."""

    def __init__(self, site_names: dict[str, str], node_rows: Iterable[tuple[Any, ...]]) -> None:
        self.site_names = site_names
        self.by_pk: dict[int, tuple[Any, ...]] = {}
        self.by_key: dict[str, tuple[Any, ...]] = {}
        self.areas: dict[str, dict[str, tuple[Any, ...]]] = {}
        for row in node_rows:
            pk, node_id, _parent, level, name, local_name, site_code = row
            self.by_pk[pk] = row
            self.by_key[node_id] = row
            if level == "area" and site_code:
                per_site = self.areas.setdefault(site_code, {})
                for label in (name, local_name):
                    if label:
                        per_site[label.casefold()] = row
        self._cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def for_system(self, node_id: str | None, site_code: str | None, location: str | None) -> tuple[str, ...]:
        key = (node_id, site_code, location)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        words: list[str] = []
        if site_code and site_code in self.site_names:
            words.append(self.site_names[site_code])
        row = self.by_key.get(node_id) if node_id else None
        if row is None and site_code and location:
            # No node: the area named after the last " - " of the location, if the site has one.
            row = self.areas.get(site_code, {}).get(location.rsplit(" - ", 1)[-1].casefold())
        seen: set[int] = set()
        while row is not None and row[0] not in seen and row[3] != "enterprise":
            seen.add(row[0])
            words.extend(w for w in (row[4], row[5]) if w)
            row = self.by_pk.get(row[2]) if row[2] is not None else None
        out = tuple(dict.fromkeys(words))
        self._cache[key] = out
        return out
