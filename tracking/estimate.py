"""Usage a provider did not report, estimated: a tokenizer where one loads offline, else characters.

A call whose reply carries no usage (an OpenAI-compatible server that leaves `usage` out, a stream
cut before its usage chunk) is recorded with these estimates and `usage_source = "estimated"`,
never as 0 tokens.

- **Tokenizer.** tiktoken's `o200k_base` (then `cl100k_base`), only if its encoding file is already
  on this machine with the right SHA-256: in `TIKTOKEN_CACHE_DIR`, `DATA_GYM_CACHE_DIR`, tiktoken's
  default cache (`<tmp>/data-gym-cache`), or the copy LiteLLM ships in
  `litellm/litellm_core_utils/tokenizers/`. Nothing is downloaded: tiktoken reads the cached file
  only when it exists and its hash matches. The count is that encoding's, whatever the model (a
  good estimate for OpenAI models, within some 10-20 % for others).
- **Characters.** Without one: ceil(characters / 4), OpenAI's rule of thumb for English text.

The request's text is the JSON of its prompt fields (messages, system, input, tools, ...), so the
estimate counts some JSON punctuation too: it errs high, as a budget should.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_BLOBS = {
    "o200k_base": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                   "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    "cl100k_base": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
                    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
}  # fmt: skip
_REQUEST_TEXT = ("system", "instructions", "messages", "input", "prompt", "contents", "tools")
_env_lock = threading.Lock()


def _cache_dirs() -> list[Path]:
    dirs = [os.environ.get("TIKTOKEN_CACHE_DIR"), os.environ.get("DATA_GYM_CACHE_DIR"),
            os.path.join(tempfile.gettempdir(), "data-gym-cache")]  # fmt: skip
    spec = importlib.util.find_spec("litellm")  # finds the package without importing it
    if spec is not None and spec.submodule_search_locations:
        dirs.append(os.path.join(next(iter(spec.submodule_search_locations)), "litellm_core_utils", "tokenizers"))
    return [Path(d) for d in dirs if d]


def _offline_dir(name: str) -> Path | None:
    """A directory holding the encoding's file under tiktoken's cache name, with the right hash."""
    url, sha256 = _BLOBS[name]
    key = hashlib.sha1(url.encode()).hexdigest()
    for directory in _cache_dirs():
        path = directory / key
        try:
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                return directory
        except OSError:
            continue
    return None


@functools.cache
def encoding() -> Any | None:
    """The tiktoken encoding that loads without network, or None (then characters are counted)."""
    try:
        import tiktoken
    except ImportError:
        return None
    for name in _BLOBS:
        directory = _offline_dir(name)
        if directory is None:
            continue
        with _env_lock:  # tiktoken reads its cache directory from the environment, only while loading
            before = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
            try:
                return tiktoken.get_encoding(name)
            except Exception:
                log.debug("tiktoken could not load %s from %s", name, directory, exc_info=True)
            finally:
                if before is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = before
    return None


def method() -> str:
    """How tokens are estimated here: "tiktoken:<encoding>" or "characters/4"."""
    enc = encoding()
    return f"tiktoken:{enc.name}" if enc is not None else "characters/4"


def tokens(text: str) -> int:
    """Estimated tokens of a text."""
    if not text:
        return 0
    enc = encoding()
    if enc is not None:
        return len(enc.encode(text, disallowed_special=()))
    return -(-len(text) // 4)


def request_text(payload: Mapping[str, Any]) -> str:
    """The prompt of a request (its messages, system, input, tools ...) as one text."""
    parts = [payload[key] for key in _REQUEST_TEXT if payload.get(key) is not None]
    return json.dumps(parts, default=str, ensure_ascii=False) if parts else ""
