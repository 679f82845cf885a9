"""The public kit: `load_pretrained("lab")` -> Kit with generate, react, inpaint and reconstruct.

Checkpoints are looked up in this order: `artifacts_dir/<preset>/` (what the notebooks and
`python -m intermask_lite train` write), then the shipped `data/checkpoints/<preset>_*.pt`. Notebooks use
`checkpoints.load_or_train`, which trains a small fallback when neither exists, so each notebook runs on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import config as config_mod
from .checkpoints import KINDS, SHIPPED_DIR, checkpoint_path, load_or_train
from .config import DECODE_STEPS, FRAMES_PER_TOKEN, GUIDANCE, seconds_to_columns
from .motion import Motion
from .placement import from_canonical, to_canonical
from .utils import get_device


def load_pretrained(name: str = "lab", artifacts_dir=None, device: str = "auto", evaluator: bool = True,
                    train_if_missing: bool = False, int8: bool = False) -> "Kit":
    """Tokenizer + transformer (+ evaluator) of preset `name`, ready to generate.

    Without checkpoints (none in artifacts_dir/<name>/ nor shipped) this raises, unless train_if_missing.
    int8: the transformer's linear layers run 8-bit integer kernels (CPU only; mask_transformer.int8).
    """
    preset = config_mod.get_preset(name)
    if not train_if_missing:
        missing = [k for k in KINDS[: 3 if evaluator else 2] if checkpoint_path(k, name, artifacts_dir) is None]
        if missing:
            raise FileNotFoundError(
                f"no {', '.join(missing)} checkpoint for preset {name!r} in {artifacts_dir or '(no artifacts_dir)'}"
                f" or {SHIPPED_DIR}; train them with `python -m intermask_lite train vq --preset {name}` (then "
                "transformer, evaluator), or pass train_if_missing=True")
    tok = load_or_train("vq", preset, artifacts_dir, device)
    trans = load_or_train("transformer", preset, artifacts_dir, device, tokenizer=tok)
    if int8:
        from .mask_transformer.int8 import int8_inference
        trans = int8_inference(trans)
    ev = load_or_train("evaluator", preset, artifacts_dir, device) if evaluator else None
    paths = {k: checkpoint_path(k, name, artifacts_dir) for k in KINDS}
    return Kit(preset, tok, trans, ev, get_device(device), paths)


@dataclass
class Kit:
    """Everything needed to generate: tokenizer, Inter-M transformer (with its text encoder), evaluator."""

    preset: config_mod.Preset
    tokenizer: torch.nn.Module
    transformer: torch.nn.Module
    evaluator: torch.nn.Module | None = None
    device: torch.device = torch.device("cpu")
    paths: dict | None = None  # checkpoint file of each kind it was loaded from (None: trained in memory)

    @property
    def fps(self) -> int:
        return self.preset.data.fps

    @property
    def nb_code(self) -> int:
        return self.tokenizer.cfg.nb_code

    @property
    def max_columns(self) -> int:
        """Token columns of the longest motion the transformer was trained on."""
        return self.preset.data.max_frames // FRAMES_PER_TOKEN

    # ------------------------------------------------------------------ motion <-> tokens
    def _people(self, motion) -> np.ndarray:
        """A Motion / Clip / BVH path as joints (P, T, 22, 3) at the kit's fps, T a multiple of 4."""
        if isinstance(motion, (str, Path)):
            motion = Motion.from_bvh(motion, fps=self.fps)
        elif not isinstance(motion, Motion):
            motion = Motion.from_clip(motion)  # a dataset Clip
        if motion.fps != self.fps:
            motion = motion.resample(self.fps)
        n = motion.n_frames - motion.n_frames % FRAMES_PER_TOKEN
        if n < FRAMES_PER_TOKEN:
            raise ValueError(f"motion has {motion.n_frames} frames; at least {FRAMES_PER_TOKEN} are needed")
        return motion.joints[:, :n]  # (P, T, 22, 3)

    @torch.no_grad()
    def tokenize(self, motion) -> torch.Tensor:
        """Token maps of each person: (P, 5, T/4) long; the same wherever the motion stands (see _placed)."""
        return self._encode(self._placed(motion)[0])

    @torch.no_grad()
    def detokenize(self, ids: torch.Tensor, length: int | None = None) -> np.ndarray:
        """Token maps (P, 5, C) -> joints (P, 4 * length, 22, 3); columns past `length` are dropped."""
        ids = ids[..., : length or ids.shape[-1]]
        grid = self.tokenizer.decode(ids.to(self.device))              # (P, 12, 22, T)
        return self.tokenizer.grid_to_joints(grid).cpu().numpy()       # (P, T, 22, 3)

    def reconstruct(self, motion) -> Motion:
        """Through the tokenizer and back: what the tokens keep of a Motion (one or two people), where it stands.

        Warns (UnfamiliarMotionWarning) when the motion reconstructs much worse than the built-in test split."""
        src = motion if isinstance(motion, Motion) else None
        canon, placement = self._placed(motion)                        # (P, T, 22, 3)
        joints = self.detokenize(self._encode(canon))                  # (P, T, 22, 3)
        self._warn_if_unfamiliar(joints, canon)
        return Motion(from_canonical(joints, placement), fps=self.fps,
                      text=(src.text if src else "") + " (reconstructed)", label=src.label if src else "")

    # ------------------------------------------------------------------ generation
    def decode_tokens(self, texts: list[str], lengths: list[int], n_cols: int, seed: int = 0,
                      steps: int = DECODE_STEPS, guidance: float = GUIDANCE, top_k=None, temperature: float = 1.0,
                      fixed=None, fixed_mask=None, trace: bool = False):
        """Token maps (B, 2, 5, n_cols) for B prompts, each at its own length in columns (`lengths`, <= n_cols).

        The decoder behind generate/react/inpaint: `fixed`/`fixed_mask` (B, 2, 5, n_cols) keep given tokens,
        `trace` also returns the decoding Trace. Columns past a prompt's length hold PAD (nb_code + 1).
        """
        from .mask_transformer.generate import decode, model_logits_fn
        if any(not str(t).strip() for t in texts):
            raise ValueError("every prompt needs some text; got an empty one")
        gen = torch.Generator().manual_seed(int(seed))
        logits_fn = model_logits_fn(self.transformer, self.text_condition(texts))
        return decode(logits_fn, torch.tensor(lengths), n_cols, self.nb_code, steps=steps,
                      schedule=self.preset.transformer.schedule, guidance=guidance, top_k=top_k,
                      temperature=temperature, generator=gen, fixed=fixed, fixed_mask=fixed_mask, trace=trace,
                      n_rows=self.transformer.n_rows)

    @torch.no_grad()
    def text_condition(self, texts: list[str]) -> torch.Tensor:
        """The pooled text vectors (B, D_text) the transformer is conditioned on: with preset.text.anchor = k > 0
        each is pulled onto its k nearest training captions' (text.CaptionAnchor; set it to 0 for the raw ones)."""
        from .mask_transformer.generate import _eval_mode
        with _eval_mode(self.transformer):
            pooled = self.transformer.encode_text(list(texts))  # (B, D_text)
        k = self.preset.text.anchor
        if k <= 0:
            return pooled
        if getattr(self, "_anchor", None) is None:
            from .data.sources import training_clips
            from .text import CaptionAnchor, anchor_cache_file
            cache = anchor_cache_file((self.paths or {}).get("transformer"))
            if cache is None or not cache.exists():
                print("encoding the training captions once, to anchor prompts to them (text.anchor)")
            captions = [c for clip in training_clips(self.preset)[0] for c in clip.captions]
            self._anchor = CaptionAnchor.from_captions(self.transformer.text_encoder, captions, cache)
        return self._anchor(pooled, k)  # (B, D_text)

    def _to_motions(self, ids: torch.Tensor, lengths: list[int], texts: list[str]) -> list[Motion]:
        out = []
        for b, (length, text) in enumerate(zip(lengths, texts)):
            m = Motion(self.detokenize(ids[b], length), fps=self.fps, text=text)
            m.tokens = ids[b, :, :, :length].clone()  # (2, 5, C) the tokens it came from
            out.append(m)
        return out

    def _columns(self, seconds: float) -> int:
        max_cols = self.max_columns
        cols = seconds_to_columns(seconds, self.fps)
        if not 1 <= cols <= max_cols:
            raise ValueError(f"seconds={seconds} gives {cols} token columns; expected 1..{max_cols} "
                             f"(at most {max_cols * FRAMES_PER_TOKEN / self.fps:g} s for preset {self.preset.name!r})")
        return cols

    def generate(self, texts, seconds: float = 3.0, samples: int = 1, seed: int = 0, steps: int = DECODE_STEPS,
                 guidance: float = GUIDANCE, top_k=None, temperature: float = 1.0, trace: bool = False):
        """Two people from text. Returns `samples` Motions per prompt, prompt-major (and the Trace if trace)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        self._note_unfamiliar_prompts(texts)
        if not texts or samples < 1:
            raise ValueError(f"need at least one prompt and samples >= 1; got {len(texts)} prompts, samples={samples}")
        cols = self._columns(seconds)
        batch = [t for t in texts for _ in range(samples)]
        result = self.decode_tokens(batch, [cols] * len(batch), cols, seed, steps, guidance, top_k, temperature,
                                    trace=trace)
        ids, tr = result if trace else (result, None)
        motions = self._to_motions(ids, [cols] * len(batch), batch)
        return (motions, tr) if trace else motions

    def react(self, actor, text: str, samples: int = 1, seed: int = 0, steps: int = DECODE_STEPS,
              guidance: float = GUIDANCE, top_k=None, temperature: float = 1.0) -> list[Motion]:
        """Person B reacting to a given person A (a Motion, a Clip or a BVH path); A's tokens stay fixed.

        The two people come back where A stands in the given motion (B next to A, as generated)."""
        from .mask_transformer.generate import reaction_masks
        self._note_unfamiliar_prompts([text])
        canon, placement = self._placed(actor, people=1)               # (1, T, 22, 3)
        ids_a = self._encode(canon)                                    # (1, 5, C)
        self._warn_if_unfamiliar(self.detokenize(ids_a), canon)
        cols = min(ids_a.shape[-1], self.max_columns)
        ids_a = ids_a[..., :cols].expand(samples, -1, -1)              # (S, 5, C)
        fixed, fixed_mask = reaction_masks(ids_a)
        ids = self.decode_tokens([text] * samples, [cols] * samples, cols, seed, steps, guidance, top_k, temperature,
                                 fixed=fixed, fixed_mask=fixed_mask)
        return self._placed_back(self._to_motions(ids, [cols] * samples, [text] * samples), placement)

    def inpaint(self, motion, person: str = "B", rows=None, seconds=None, text: str = "", samples: int = 1,
                seed: int = 0, steps: int = DECODE_STEPS, guidance: float = GUIDANCE, top_k=None, temperature: float = 1.0):
        """Regenerate a region (person, body-part rows, time range in seconds); everything else is kept."""
        from .mask_transformer.generate import inpaint_masks
        if isinstance(motion, Motion) and motion.n_people != 2:
            raise ValueError("inpaint needs a two-person Motion")
        canon, placement = self._placed(motion)                        # (2, T, 22, 3)
        ids = self._encode(canon)                                      # (2, 5, C)
        cols = min(ids.shape[-1], self.max_columns)
        ids = ids[None, ..., :cols].expand(samples, -1, -1, -1)        # (S, 2, 5, C)
        span = None if seconds is None else (seconds_to_columns(seconds[0], self.fps),
                                             seconds_to_columns(seconds[1], self.fps))
        fixed, fixed_mask = inpaint_masks(ids, person=person, rows=rows, cols=span)
        text = text or getattr(motion, "text", "") or "two people interact"
        self._note_unfamiliar_prompts([text])
        out = self.decode_tokens([text] * samples, [cols] * samples, cols, seed, steps, guidance, top_k, temperature,
                                 fixed=fixed, fixed_mask=fixed_mask)
        return self._placed_back(self._to_motions(out, [cols] * samples, [text] * samples), placement)

    # ------------------------------------------------------------------ the user's frame and unfamiliar input
    def _placed(self, motion, people: int | None = None):
        """A user's motion in the models' frame: (joints (P, T, 22, 3), Placement to map results back).

        The first `people` people only (default all); the frame is fixed by the first person at frame 0."""
        return to_canonical(self._people(motion)[:people])

    @torch.no_grad()
    def _encode(self, joints: np.ndarray) -> torch.Tensor:
        """Joints (P, T, 22, 3) already in the models' frame -> token maps (P, 5, T/4) long."""
        grid = self.tokenizer.joints_to_grid(torch.as_tensor(joints))  # (P, 12, 22, T)
        return self.tokenizer.encode(grid.to(self.device)).cpu()

    @staticmethod
    def _placed_back(motions: list[Motion], placement) -> list[Motion]:
        """Results made in the models' frame, moved to where the user's motion stood (in place; returned)."""
        for m in motions:
            m.joints = from_canonical(m.joints, placement)
        return motions

    def motion_reference_mm(self) -> float:
        """The 95th percentile (mm) of the tokenizer's per-clip reconstruction error on the built-in test split."""
        from .familiarity import REFERENCE_CLIPS, measure_reference, recorded_reference
        if getattr(self, "_reference_mm", None) is None:
            value = recorded_reference((self.paths or {}).get("vq"))
            if value is None:
                value = measure_reference(self.tokenizer, self.preset, limit=REFERENCE_CLIPS)
            self._reference_mm = value
        return self._reference_mm

    def _warn_if_unfamiliar(self, reconstruction: np.ndarray, truth: np.ndarray) -> None:
        """One UnfamiliarMotionWarning when a user's motion reconstructs much worse than the test split."""
        import warnings

        from .familiarity import UnfamiliarMotionWarning, motion_error_mm, motion_note
        from .data.synthetic import CLASSES
        note = motion_note(motion_error_mm(reconstruction, truth), self.motion_reference_mm(), len(CLASSES))
        if note:
            warnings.warn(note, UnfamiliarMotionWarning, stacklevel=3)

    def _note_unfamiliar_prompts(self, texts) -> None:
        """One UnfamiliarPromptWarning per prompt far from every training caption, naming the nearest classes."""
        import warnings

        from .familiarity import UnfamiliarPromptWarning
        from .text import PromptCheck
        if getattr(self, "_prompt_check", None) is None:
            self._prompt_check = PromptCheck(self.transformer.text_encoder)
        for text in dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()):
            note = self._prompt_check.note(text)
            if note:
                warnings.warn(note, UnfamiliarPromptWarning, stacklevel=3)
