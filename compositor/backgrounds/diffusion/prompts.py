"""Prompts of any length through CLIP's 77-token window: encoded in chunks, the way the common web UIs do.

CLIP's text encoder sees 77 positions: a start token, 75 tokens of text, an end token. diffusers' pipelines cut a
longer prompt there (with only a logged warning), so the end of a long tag list, where a style's suffix goes, is
lost. Here the prompt's tokens are split into chunks of 75 (a chunk that would end within the last 20 tokens after
a comma ends at that comma instead, so a tag is not cut in two), each chunk is wrapped in start and end tokens,
padded to 77 and encoded alone, and the encodings are laid end to end: the UNet's cross-attention takes a text of
any length. The negative prompt gets as many chunks (empty ones added), since both go through the UNet as one
batch.

A prompt that fits one chunk is encoded exactly as diffusers' own ``encode_prompt`` encodes it (same tokens, same
padding, same layers), so backgrounds cached before chunking existed keep their keys and pixels.

SDXL: each chunk goes through both text encoders (the penultimate layer of each, side by side, as SDXL was
trained); the pooled embedding SDXL also takes comes from the second encoder on the first chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHUNK = 75
"""Text tokens per chunk: CLIP's 77 positions less the start and end tokens."""
COMMA_BACKTRACK = 20
"""A chunk ends after its last comma when that comma is among its last this-many tokens."""


@dataclass
class Conditioning:
    """The text conditioning of one generation (torch tensors).

    ``embeds``: ``(B, 77 * chunks, D)``, the unconditional row first when guided (B = 2), else B = 1.
    ``pooled``: ``(B, P)`` for SDXL, None for SD 1.x/2.x.
    """

    embeds: Any
    pooled: Any | None


def chunk_ids(tokenizer: Any, text: str) -> list[list[int]]:
    """The text's token ids (no start or end tokens) in chunks of at most ``CHUNK``; ``[[]]`` for an empty text."""
    ids: list[int] = tokenizer(text, add_special_tokens=False, truncation=False).input_ids
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    chunks: list[list[int]] = []
    current: list[int] = []
    last_comma = -1
    for token in ids:
        if len(current) == CHUNK:
            if last_comma >= 0 and CHUNK - 1 - last_comma <= COMMA_BACKTRACK:
                chunks.append(current[: last_comma + 1])
                current = current[last_comma + 1 :]
            else:
                chunks.append(current)
                current = []
            last_comma = -1
        current.append(token)
        if token == comma:
            last_comma = len(current) - 1
    if current or not chunks:
        chunks.append(current)
    return chunks


def window(tokenizer: Any, chunk: list[int]) -> list[int]:
    """One chunk as CLIP's 77 positions: start, the tokens, end, then the tokenizer's padding."""
    ids = [tokenizer.bos_token_id, *chunk, tokenizer.eos_token_id]
    return ids + [tokenizer.pad_token_id] * (tokenizer.model_max_length - len(ids))


def _encode_chunks(pipe: Any, family: str, chunks: list[list[int]], device: str) -> tuple[Any, Any | None]:
    """Each chunk through the text encoder(s), laid end to end: ``(1, 77 * len(chunks), D)`` and the pooled
    embedding of the first chunk (SDXL) or None."""
    import torch  # noqa: PLC0415

    if family != "sdxl":
        parts = []
        for chunk in chunks:
            ids = torch.tensor([window(pipe.tokenizer, chunk)], device=device)
            parts.append(pipe.text_encoder(ids)[0])
        return torch.cat(parts, dim=1), None
    parts, pooled = [], None
    for chunk in chunks:
        per_encoder = []
        for tokenizer, encoder in ((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2)):
            ids = torch.tensor([window(tokenizer, chunk)], device=device)
            out = encoder(ids, output_hidden_states=True)
            if pooled is None and out[0].ndim == 2:
                pooled = out[0]
            per_encoder.append(out.hidden_states[-2])
        parts.append(torch.cat(per_encoder, dim=-1))
    return torch.cat(parts, dim=1), pooled


def encode_ids(pipe: Any, family: str, chunks: list[list[int]], device: str) -> tuple[Any, Any | None]:
    """Token-id chunks (as ``chunk_ids`` gives them) encoded: embeddings ``(1, 77 * n, D)`` and pooled or None."""
    embeds, pooled = _encode_chunks(pipe, family, chunks, device)
    dtype = pipe.unet.dtype
    return embeds.to(dtype=dtype), (pooled.to(dtype=dtype) if pooled is not None else None)


def encode(pipe: Any, family: str, prompt: str, negative: str, device: str, guided: bool) -> Conditioning:
    """The prompt (and, when ``guided``, the negative prompt) encoded for the UNet, at any length.

    SDXL with an empty negative prompt and ``force_zeros_for_empty_prompt`` (as SDXL base sets it) takes zeros for
    the unconditional row, as diffusers' SDXL pipelines do.
    """
    import torch  # noqa: PLC0415

    tokenizer = pipe.tokenizer
    cond_chunks = chunk_ids(tokenizer, prompt)
    zero_negative = (
        family == "sdxl" and not negative and bool(getattr(pipe.config, "force_zeros_for_empty_prompt", False))
    )
    uncond_chunks = chunk_ids(tokenizer, negative) if guided and not zero_negative else []
    count = max(len(cond_chunks), len(uncond_chunks))
    cond_chunks += [[]] * (count - len(cond_chunks))
    cond, pooled = encode_ids(pipe, family, cond_chunks, device)
    if not guided:
        return Conditioning(cond, pooled)
    if zero_negative:
        uncond, uncond_pooled = torch.zeros_like(cond), (torch.zeros_like(pooled) if pooled is not None else None)
    else:
        uncond_chunks += [[]] * (count - len(uncond_chunks))
        uncond, uncond_pooled = encode_ids(pipe, family, uncond_chunks, device)
    both_pooled = torch.cat([uncond_pooled, pooled]) if pooled is not None else None
    return Conditioning(torch.cat([uncond, cond]), both_pooled)
