"""The topic words of a resident's question: its nouns and noun compounds, found by a Japanese
morphological analyser (Sudachi, with its core dictionary), and Latin words for other languages.

Cutting a sentence into runs of one script made topics of fragments ("一度送" from もう一度送って,
"一人暮" from 一人暮らし); a dictionary knows the words. A compound ("接種会場", "回収日") is a
topic, and so is each of its nouns that stands on its own ("接種", "会場"), so that questions
about the same thing meet however they were worded.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from functools import cache

from sudachipy import Dictionary, SplitMode

# Nouns that say nothing of a topic on their own.
_JA_STOP_WORDS = frozenset({"こと", "もの", "ため", "よう", "ところ", "とき", "場合", "感じ", "件",
                            "方", "何", "なに", "それ", "これ", "あれ", "どこ", "いつ", "お願い"})
_LATIN_STOP_WORDS = frozenset({"the", "and", "for", "about", "with", "from", "that", "this",
                               "not", "please", "want", "know", "what", "when", "where", "how",
                               "can", "you", "your", "have", "has", "there", "would", "like"})
_LATIN_WORD = re.compile(r"[a-z][a-z0-9']{2,}")
_local = threading.local()
# Topic words of this many subjects are remembered (by digest) before starting afresh: more than
# the analytics page reads (inquiry_analytics.TOPIC_SAMPLE), a few megabytes at most.
REMEMBERED_SUBJECTS = 20_000
_remembered: dict[bytes, tuple[str, ...]] = {}


@cache
def _dictionary() -> Dictionary:
    """The core dictionary, loaded once per process (tens of megabytes, read-only)."""
    return Dictionary(dict="core")


def _tokenizer():
    """A tokenizer of this thread: Sudachi's tokenizers are not to be shared between threads."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        # Mode C keeps compounds the dictionary knows whole ("固定資産税", "一人暮らし").
        tokenizer = _local.tokenizer = _dictionary().tokenizer(mode=SplitMode.C)
    return tokenizer


def _is_noun(pos: tuple[str, ...]) -> bool:
    return pos[0] == "名詞" and pos[1] not in ("数詞", "代名詞")


def _is_numeral(pos: tuple[str, ...]) -> bool:
    return pos[0] == "名詞" and pos[1] == "数詞"


def _joins_noun(pos: tuple[str, ...]) -> bool:
    """A suffix that makes a noun part of a compound (回数 "目", 料金 "代")."""
    return pos[0] == "接尾辞" and pos[1] == "名詞的"


def _stands_alone(word: str, pos: tuple[str, ...]) -> bool:
    """A single noun that names a topic: two characters or more, not an adverb-like noun."""
    return len(word) >= 2 and pos[2] != "副詞可能" and word not in _JA_STOP_WORDS


def _compounds(text: str) -> list[list[tuple[str, tuple[str, ...]]]]:
    """Runs of nouns (with noun-making suffixes) in the text, each as (surface, POS) pairs."""
    runs: list[list[tuple[str, tuple[str, ...]]]] = []
    current: list[tuple[str, tuple[str, ...]]] = []
    for morpheme in _tokenizer().tokenize(text):
        surface, pos = morpheme.surface(), tuple(morpheme.part_of_speech())
        if surface.isascii():
            pos = ("latin", "*", "*")
        if _is_noun(pos) or _is_numeral(pos) or (current and _joins_noun(pos)):
            current.append((surface, pos))
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs


def topic_words(subject: str) -> list[str]:
    """The distinct topic words of a subject, in order of appearance (remembered per process)."""
    # Keyed by a digest, so the cache holds no resident's sentence; reports read the same few
    # thousand latest subjects on every view, and analysing them was a fifth of a year's page.
    key = hashlib.blake2b(subject.encode("utf-8"), digest_size=16).digest()
    words = _remembered.get(key)
    if words is None:
        words = tuple(_analysed(subject))
        if len(_remembered) >= REMEMBERED_SUBJECTS:
            _remembered.clear()
        _remembered[key] = words
    return list(words)


def _analysed(subject: str) -> list[str]:
    text = unicodedata.normalize("NFKC", subject).lower()
    words: list[str] = []
    for run in _compounds(text):
        whole = [surface for surface, pos in run if _is_noun(pos) and _stands_alone(surface, pos)]
        if len(run) == 1:
            words.extend(whole)
            continue
        # A count ("二回目") is no topic; the nouns around it may be.
        if not any(_is_numeral(pos) for _, pos in run):
            words.append("".join(surface for surface, _ in run))
        # Its parts count too when every one is a word of its own ("ワクチン" + "接種"), not
        # when one is a fragment ("見" + "守り", "回収" + "日").
        if len(whole) == len(run):
            words.extend(whole)
    words.extend(word for word in _LATIN_WORD.findall(text) if word not in _LATIN_STOP_WORDS)
    return list(dict.fromkeys(words))
