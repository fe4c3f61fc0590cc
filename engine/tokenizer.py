"""Build CLIP byte-level BPE tokenizers offline.

Real CLIP vocabularies are downloads; the tiny test kit and the bundled toy model need a
tokenizer with no network, so we write `vocab.json` and `merges.txt` ourselves: every byte
symbol (with and without the end-of-word marker), then merges that spell each given word as
a single token. Words outside the list still tokenize, character by character.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode symbols."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def build_vocab_and_merges(words: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    symbols = list(bytes_to_unicode().values())
    vocab_tokens = symbols + [s + "</w>" for s in symbols]
    merges: list[str] = []
    known = set(vocab_tokens)
    byte_map = bytes_to_unicode()
    for word in sorted({w.lower() for w in words if w}):
        chars = [byte_map[b] for b in word.encode("utf-8")]
        if len(chars) < 2:
            continue
        pieces = chars[:-1] + [chars[-1] + "</w>"]
        merged = pieces[0]
        for piece in pieces[1:]:
            rule = f"{merged} {piece}"
            merged = merged + piece
            if merged not in known:
                merges.append(rule)
                known.add(merged)
                vocab_tokens.append(merged)
    vocab_tokens += [BOS, EOS]
    return {token: index for index, token in enumerate(vocab_tokens)}, merges


def write_clip_tokenizer(folder: str | Path, words: Iterable[str] = (), model_max_length: int = 77):
    """Write a CLIP tokenizer for `words` into `folder` and return it loaded from there."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = build_vocab_and_merges(words)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": model_max_length,
                "bos_token": BOS,
                "eos_token": EOS,
                "unk_token": EOS,
                "pad_token": EOS,
            }
        ),
        encoding="utf-8",
    )
    return CLIPTokenizer.from_pretrained(folder)
