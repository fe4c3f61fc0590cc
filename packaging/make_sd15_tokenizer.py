"""Write the real CLIP BPE tokenizer (vocab.json + merges.txt) from OpenAI's merges file.

The CLIP text encoders of Stable Diffusion 1.x, 2.x and SDXL all use the same 49408-token
byte-level BPE vocabulary (openai/clip-vit-large-patch14). It cannot be downloaded at run
time, but OpenAI's merges list, `bpe_simple_vocab_16e6.txt.gz`, ships inside the
`open_clip_torch` wheel on PyPI:

    pip download --no-deps open_clip_torch -d /tmp/oc
    python -m zipfile -e /tmp/oc/open_clip_torch-*.whl /tmp/oc/x
    python packaging/make_sd15_tokenizer.py /tmp/oc/x/open_clip/bpe_simple_vocab_16e6.txt.gz

This rebuilds the vocabulary exactly as CLIP's `SimpleTokenizer.__init__` does (byte symbols,
then each with `</w>`, then one token per merge, then the two special tokens) and writes the
Hugging Face files into every shipped config folder's tokenizer directory (or `--out` folders).
The output is deterministic: the same .gz always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
VOCAB_SIZE = 49408
# CLIP keeps the first 49152 - 256 - 2 merges (the file has more).
NUM_MERGES = 49152 - 256 - 2

CONFIGS = Path(__file__).resolve().parent.parent / "resources" / "configs"
# tokenizer folder -> padding token. SD 1.x pads with <|endoftext|>; OpenCLIP-trained text
# encoders (SD 2.x, SDXL's second encoder) pad with "!" (id 0), as their released tokenizers do.
DEFAULT_TARGETS = {
    "sd15/tokenizer": EOS,
    "sd21/tokenizer": "!",
    "sdxl/tokenizer": EOS,
    "sdxl/tokenizer_2": "!",
}


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable unicode map, in CLIP's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build(bpe_gz: str | Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
    if len(merges) != NUM_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"{bpe_gz} does not look like CLIP's bpe_simple_vocab_16e6.txt.gz")
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m) for m in merges]
    tokens += [BOS, EOS]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise ValueError(f"expected {VOCAB_SIZE} tokens, built {len(vocab)}")
    return vocab, merges


def tokenizer_config(pad_token: str) -> dict:
    return {
        "add_prefix_space": False,
        "bos_token": BOS,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": EOS,
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": pad_token,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": EOS,
    }


def special_tokens_map(pad_token: str) -> dict:
    return {"bos_token": BOS, "eos_token": EOS, "pad_token": pad_token, "unk_token": EOS}


def write(folder: Path, vocab: dict[str, int], merges: list[tuple[str, str]], pad_token: str = EOS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Same shape as the released files: compact JSON, "#version" header on merges.txt.
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8", newline="\n")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8", newline="\n"
    )
    for name, content in (
        ("tokenizer_config.json", tokenizer_config(pad_token)),
        ("special_tokens_map.json", special_tokens_map(pad_token)),
    ):
        (folder / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bpe_gz", help="path to bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument(
        "--out", action="append", help="tokenizer folder to write (repeatable); default: the shipped configs"
    )
    parser.add_argument("--pad-token", default=EOS, help="pad token for --out folders (default <|endoftext|>)")
    args = parser.parse_args(argv)

    vocab, merges = build(args.bpe_gz)
    if args.out:
        targets = {Path(o): args.pad_token for o in args.out}
    else:
        targets = {CONFIGS / k: v for k, v in DEFAULT_TARGETS.items()}
    for folder, pad in targets.items():
        write(folder, vocab, merges, pad)
        print(f"wrote {folder} ({len(vocab)} tokens, {len(merges)} merges, pad {pad!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
