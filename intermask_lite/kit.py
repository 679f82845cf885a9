"""The public kit: `load_pretrained("lab")` -> Kit with generate, react, inpaint and reconstruct.

Checkpoints are looked up in this order: `artifacts_dir/<preset>/` (what the notebooks and
`python -m intermask_lite train` write), then the shipped `data/checkpoints/<preset>_*.pt`. Notebooks use
`checkpoints.load_or_train`, which trains a small fallback when neither exists, so each notebook runs on its own.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import config as config_mod
from .checkpoints import KINDS, SHIPPED_DIR, checkpoint_path, load_or_train
from .cleanup import check_stages, clean
from .config import FRAMES_PER_TOKEN, seconds_to_columns
from .data.sources import training_clips
from .data.synthetic import CLASSES
from .familiarity import (REFERENCE_CLIPS, CroppedInputWarning, UnfamiliarMotionWarning, UnfamiliarPromptWarning,
                          measure_reference, motion_error_mm, motion_note, recorded_reference)
from .mask_transformer.generate import decode, inpaint_masks, model_logits_fn, reaction_masks
from .mask_transformer.int8 import int8_inference
from .mask_transformer.sampling import Sampling, row_seed
from .motion import Motion
from .placement import Placement, from_canonical, to_canonical
from .text import CaptionAnchor, PromptCheck, anchor_cache_file
from .utils import eval_mode, get_device

IDENTITY = Placement(shift=(0.0, 0.0, 0.0), yaw=0.0)  # the models' own frame


def load_pretrained(name: str = "lab", artifacts_dir=None, device: str = "auto", evaluator: bool = True,
                    train_if_missing: bool = False, int8: bool = False) -> "Kit":
    """Tokenizer + transformer (+ evaluator) of preset `name`, ready to generate.

    Without checkpoints (none in artifacts_dir/<name>/ nor shipped) this raises, unless train_if_missing; an
    interrupted training run there is then resumed, else it is loaded as it stands, with a note.
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
    train = train_if_missing                                           # else loading never starts a training run
    tok = load_or_train("vq", preset, artifacts_dir, device, train=train)
    trans = load_or_train("transformer", preset, artifacts_dir, device, tokenizer=tok, train=train)
    if int8:
        trans = int8_inference(trans)
    ev = load_or_train("evaluator", preset, artifacts_dir, device, train=train) if evaluator else None
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
    def _people(self, motion) -> tuple[np.ndarray, int]:
        """A Motion / Clip / BVH path as (joints (P, T', 22, 3) at the kit's fps, its length T in frames).

        T' is T rounded up to whole tokens (4 frames each), the last frame held; results are cut back to T."""
        if isinstance(motion, (str, Path)):
            motion = Motion.from_bvh(motion, fps=self.fps)
        elif not isinstance(motion, Motion):
            motion = Motion.from_clip(motion)  # a dataset Clip
        if motion.fps != self.fps:
            motion = motion.resample(self.fps)
        n = motion.n_frames
        if n < FRAMES_PER_TOKEN:
            raise ValueError(f"motion has {n} frames; at least {FRAMES_PER_TOKEN} are needed")
        pad = -n % FRAMES_PER_TOKEN
        joints = np.concatenate([motion.joints, np.repeat(motion.joints[:, -1:], pad, axis=1)], axis=1)
        return joints, n  # (P, T', 22, 3), T

    def _fit_columns(self, ids: torch.Tensor, crop: bool, what: str) -> int:
        """Token columns to keep of ids (..., C): all of them, or with crop=True the first max_columns (with a
        CroppedInputWarning saying what was kept); longer input without crop is a ValueError."""
        cols, limit = ids.shape[-1], self.max_columns
        if cols <= limit:
            return cols
        length, kept = cols * FRAMES_PER_TOKEN / self.fps, limit * FRAMES_PER_TOKEN / self.fps
        if not crop:
            raise ValueError(f"{what} is {length:g} s long; the {self.preset.name} models generate at most {kept:g} s: "
                             f"pass crop=True (CLI: --crop) to use its first {kept:g} s, or cut it yourself")
        warnings.warn(f"{what} is {length:g} s long: kept its first {kept:g} s (the {self.preset.name} models' "
                      "longest)", CroppedInputWarning, stacklevel=3)
        return limit

    @torch.no_grad()
    def tokenize(self, motion) -> torch.Tensor:
        """Token maps of each person: (P, 5, ceil(T/4)) long; the same wherever the motion stands (see _placed).

        A length that is not a multiple of 4 frames gets its last frame held to fill the last token."""
        return self._encode(self._placed(motion)[0])

    @torch.no_grad()
    def detokenize(self, ids: torch.Tensor, length: int | None = None) -> np.ndarray:
        """Token maps (P, 5, C) -> joints (P, 4 * length, 22, 3); columns past `length` are dropped."""
        ids = ids[..., : length or ids.shape[-1]]
        grid = self.tokenizer.decode(ids.to(self.device))              # (P, 12, 22, T)
        return self.tokenizer.grid_to_joints(grid).cpu().numpy()       # (P, T, 22, 3)

    def reconstruct(self, motion, cleanup="all") -> Motion:
        """Through the tokenizer and back: what the tokens keep of a Motion (one or two people), where it stands.

        cleanup: the cleanup stages run on the decoded joints (see `cleanup`; () = the raw decoder output, which
        stays available as `raw_joints`). Warns (UnfamiliarMotionWarning) when the motion reconstructs much
        worse than the built-in test split."""
        stages = check_stages(cleanup)
        src = motion if isinstance(motion, Motion) else None
        canon, placement, n = self._placed(motion)                     # (P, T', 22, 3)
        raw = self.detokenize(self._encode(canon))[:, :n]              # (P, T, 22, 3) as long as the input
        self._warn_if_unfamiliar(raw, canon[:, :n])
        out = self._motion(raw, stages, text=(src.text if src else "") + " (reconstructed)",
                           label=src.label if src else "")
        return self._placed_back([out], placement)[0]

    # ------------------------------------------------------------------ generation
    def decode_tokens(self, texts: list[str], lengths: list[int], n_cols: int, sampling: Sampling | None = None,
                      fixed=None, fixed_mask=None, trace: bool = False, row_seeds=None):
        """Token maps (B, 2, 5, n_cols) for B prompts, each at its own length in columns (`lengths`, <= n_cols).

        The decoder behind generate/react/inpaint: `fixed`/`fixed_mask` (B, 2, 5, n_cols) keep given tokens,
        `trace` also returns the decoding Trace, row_seeds (B,) seed each row (default: from sampling.seed and
        the row's index). Columns past a prompt's length hold PAD (nb_code + 1). Each distinct prompt is encoded once.
        """
        if any(not str(t).strip() for t in texts):
            raise ValueError("every prompt needs some text; got an empty one")
        unique = list(dict.fromkeys(texts))
        pooled = self.text_condition(unique)                           # (U, D_text)
        pooled = pooled[torch.tensor([unique.index(t) for t in texts])]  # (B, D_text)
        logits_fn = model_logits_fn(self.transformer, pooled)
        return decode(logits_fn, torch.tensor(lengths), n_cols, self.nb_code, sampling or Sampling(),
                      fixed=fixed, fixed_mask=fixed_mask, trace=trace, n_rows=self.transformer.n_rows,
                      row_seeds=row_seeds, schedule=self.preset.transformer.schedule)

    @torch.no_grad()
    def text_condition(self, texts: list[str]) -> torch.Tensor:
        """The pooled text vectors (B, D_text) the transformer is conditioned on: with preset.text.anchor = k > 0
        each is pulled onto its k nearest training captions' (text.CaptionAnchor; set it to 0 for the raw ones)."""
        with eval_mode(self.transformer, inference=True):
            pooled = self.transformer.encode_text(list(texts))  # (B, D_text)
        k = self.preset.text.anchor
        if k <= 0:
            return pooled
        if getattr(self, "_anchor", None) is None:
            cache = anchor_cache_file((self.paths or {}).get("transformer"))
            if cache is None or not cache.exists():
                print("encoding the training captions once, to anchor prompts to them (text.anchor)")
            captions = [c for clip in training_clips(self.preset)[0] for c in clip.captions]
            self._anchor = CaptionAnchor.from_captions(self.transformer.text_encoder, captions, cache)
        return self._anchor(pooled, k)  # (B, D_text)

    def _motion(self, raw: np.ndarray, stages, text: str = "", label: str = "") -> Motion:
        """A Motion from decoded joints (P, T, 22, 3) after the cleanup `stages`; the input kept as raw_joints."""
        m = Motion(clean(raw, self.fps, stages), fps=self.fps, text=text, label=label)
        m.raw_joints = raw.astype(np.float32)  # (P, T, 22, 3) the decoder's own output
        return m

    def _to_motions(self, ids: torch.Tensor, lengths: list[int], texts: list[str], stages=(),
                    frames: int | None = None) -> list[Motion]:
        """Motions decoded from token maps (B, 2, 5, C), each `lengths[b]` columns long; `frames` cuts them to a
        given motion's length (its last token was filled by holding its last frame)."""
        out = []
        for b, (length, text) in enumerate(zip(lengths, texts)):
            m = self._motion(self.detokenize(ids[b], length)[:, :frames], stages, text=text)
            m.tokens = ids[b, :, :, :length].clone()  # (2, 5, C) the tokens it came from
            m.token_frame = IDENTITY                  # made in the models' frame (_placed_back moves it)
            out.append(m)
        return out

    def _columns(self, seconds: float) -> int:
        max_cols = self.max_columns
        cols = seconds_to_columns(seconds, self.fps)
        if not 1 <= cols <= max_cols:
            raise ValueError(f"seconds={seconds} gives {cols} token columns; expected 1..{max_cols} "
                             f"(at most {max_cols * FRAMES_PER_TOKEN / self.fps:g} s for preset {self.preset.name!r})")
        return cols

    @staticmethod
    def _check_samples(samples, first_sample) -> None:
        for name, value, low in (("samples", samples, 1), ("first_sample", first_sample, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    @staticmethod
    def _settings(sampling: Sampling | None, settings: dict) -> Sampling:
        """`sampling` (default Sampling()) with keyword settings (steps=, seed=, ...) applied, validated."""
        return (sampling or Sampling()).updated(**settings)

    def generate(self, texts, seconds: float = 3.0, samples: int = 1, sampling: Sampling | None = None,
                 cleanup="all", trace: bool = False, first_sample: int = 0, **settings):
        """Two people from text. Returns `samples` Motions per prompt, prompt-major (and the Trace if trace).

        sampling: a Sampling (steps, guidance, top_k, temperature, seed, ...); keyword settings such as seed=1
        or steps=10 change single fields of it. Sample s of prompt i depends only on (seed, i, s); first_sample
        = k gives samples k, k+1, ... (to make many in chunks). cleanup: the cleanup stages run on the decoded
        joints ("all", a list of names, or () for the raw decoder output)."""
        sampling, stages = self._settings(sampling, settings), check_stages(cleanup)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("need at least one prompt")
        self._check_samples(samples, first_sample)
        self._note_unfamiliar_prompts(texts)
        cols = self._columns(seconds)
        batch = [t for t in texts for _ in range(samples)]
        seeds = [row_seed(sampling.seed, i, first_sample + s) for i in range(len(texts)) for s in range(samples)]
        result = self.decode_tokens(batch, [cols] * len(batch), cols, sampling, trace=trace, row_seeds=seeds)
        ids, tr = result if trace else (result, None)
        motions = self._to_motions(ids, [cols] * len(batch), batch, stages)
        return (motions, tr) if trace else motions

    def react(self, actor, text: str, samples: int = 1, sampling: Sampling | None = None, cleanup="all",
              crop: bool = False, first_sample: int = 0, **settings) -> list[Motion]:
        """Person B reacting to a given person A (a Motion, a Clip or a BVH path); A's tokens stay fixed.

        The two people come back where A stands in the given motion (B next to A, as generated). Settings,
        cleanup and first_sample as in generate. An actor longer than the models' longest motion is a
        ValueError unless crop=True (then its start is used, with a CroppedInputWarning). The cleanup's foot
        lock and push may move A a little."""
        sampling, stages = self._settings(sampling, settings), check_stages(cleanup)
        self._check_samples(samples, first_sample)
        self._note_unfamiliar_prompts([text])
        canon, placement, n = self._placed(actor, people=1)            # (1, T', 22, 3)
        ids_a = self._encode(canon)                                    # (1, 5, C)
        cols = self._fit_columns(ids_a, crop, "the actor")
        self._warn_if_unfamiliar(self.detokenize(ids_a)[:, :n], canon[:, :n])
        ids_a = ids_a[..., :cols].expand(samples, -1, -1)              # (S, 5, C)
        fixed, fixed_mask = reaction_masks(ids_a)
        seeds = [row_seed(sampling.seed, 0, first_sample + s) for s in range(samples)]
        ids = self.decode_tokens([text] * samples, [cols] * samples, cols, sampling, fixed=fixed,
                                 fixed_mask=fixed_mask, row_seeds=seeds)
        motions = self._to_motions(ids, [cols] * samples, [text] * samples, stages, frames=n)
        return self._placed_back(motions, placement)

    def inpaint(self, motion, person: str = "B", rows=None, seconds=None, text: str = "", samples: int = 1,
                sampling: Sampling | None = None, cleanup="all", crop: bool = False, **settings):
        """Regenerate a region (person, body-part rows, time range in seconds); everything else is kept.

        A Motion that the kit generated (it carries `.tokens`) keeps its own tokens outside the region;
        anything else is tokenized first. Settings and cleanup as in generate, crop as in react."""
        sampling, stages = self._settings(sampling, settings), check_stages(cleanup)
        self._check_samples(samples, 0)
        if isinstance(motion, Motion) and motion.n_people != 2:
            raise ValueError("inpaint needs a two-person Motion")
        own = getattr(motion, "tokens", None)
        if own is not None:                                            # the kit's own output: its tokens, its frame
            placement = getattr(motion, "token_frame", None) or IDENTITY
            ids = own.clone()                                          # (2, 5, C)
            n = motion.n_frames
        else:
            canon, placement, n = self._placed(motion)                 # (2, T', 22, 3)
            ids = self._encode(canon)                                  # (2, 5, C)
        cols = self._fit_columns(ids, crop, "the motion")
        ids = ids[None, ..., :cols].expand(samples, -1, -1, -1)        # (S, 2, 5, C)
        span = None if seconds is None else (seconds_to_columns(seconds[0], self.fps),
                                             seconds_to_columns(seconds[1], self.fps))
        fixed, fixed_mask = inpaint_masks(ids, person=person, rows=rows, cols=span)
        text = text or getattr(motion, "text", "") or "two people interact"
        self._note_unfamiliar_prompts([text])
        seeds = [row_seed(sampling.seed, 0, s) for s in range(samples)]
        out = self.decode_tokens([text] * samples, [cols] * samples, cols, sampling, fixed=fixed,
                                 fixed_mask=fixed_mask, row_seeds=seeds)
        motions = self._to_motions(out, [cols] * samples, [text] * samples, stages, frames=n)
        return self._placed_back(motions, placement)

    # ------------------------------------------------------------------ the user's frame and unfamiliar input
    def _placed(self, motion, people: int | None = None):
        """A user's motion in the models' frame: (joints (P, T, 22, 3), Placement to map results back).

        The first `people` people only (default all); the frame is fixed by the first person at frame 0.
        Returns (joints (P, T', 22, 3) in whole tokens, Placement, the true length T): see _people."""
        joints, n = self._people(motion)
        # the kit's own output carries the frame its tokens were made in: finding the frame again from a decoded
        # pose turns it by a few degrees, and then fewer of its tokens come back (benchmarks/bench_motion_quality.py,
        # generated lab motions: 22 % of their tokens in their own frame, 11 % in a found one)
        own_frame = getattr(motion, "token_frame", None) if isinstance(motion, Motion) else None
        return (*to_canonical(joints[:people], own_frame), n)

    @torch.no_grad()
    def _encode(self, joints: np.ndarray) -> torch.Tensor:
        """Joints (P, T, 22, 3) already in the models' frame -> token maps (P, 5, T/4) long."""
        grid = self.tokenizer.joints_to_grid(torch.as_tensor(joints))  # (P, 12, 22, T)
        return self.tokenizer.encode(grid.to(self.device)).cpu()

    @staticmethod
    def _placed_back(motions: list[Motion], placement) -> list[Motion]:
        """Results made in the models' frame, moved to where the user's motion stood (in place; returned)."""
        for m in motions:
            m.token_frame = placement  # where its tokens' frame lies in the user's (inpaint reads it)
            m.joints = from_canonical(m.joints, placement)
            if getattr(m, "raw_joints", None) is not None:
                m.raw_joints = from_canonical(m.raw_joints, placement)
        return motions

    def motion_reference_mm(self) -> float:
        """The 95th percentile (mm) of the tokenizer's per-clip reconstruction error on the built-in test split."""
        if getattr(self, "_reference_mm", None) is None:
            value = recorded_reference((self.paths or {}).get("vq"))
            if value is None:
                value = measure_reference(self.tokenizer, self.preset, limit=REFERENCE_CLIPS)
            self._reference_mm = value
        return self._reference_mm

    def _warn_if_unfamiliar(self, reconstruction: np.ndarray, truth: np.ndarray) -> None:
        """One UnfamiliarMotionWarning when a user's motion reconstructs much worse than the test split."""
        note = motion_note(motion_error_mm(reconstruction, truth), self.motion_reference_mm(), len(CLASSES))
        if note:
            warnings.warn(note, UnfamiliarMotionWarning, stacklevel=3)

    def _note_unfamiliar_prompts(self, texts) -> None:
        """One UnfamiliarPromptWarning per prompt far from every training caption, naming the nearest classes."""
        if getattr(self, "_prompt_check", None) is None:
            self._prompt_check = PromptCheck(self.transformer.text_encoder)
        for text in dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()):
            note = self._prompt_check.note(text)
            if note:
                warnings.warn(note, UnfamiliarPromptWarning, stacklevel=3)
