"""Training Inter-M: the masked-token loss, tokenising the clips once, train_transformer and load_transformer."""
from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..config import FRAMES_PER_TOKEN, Preset, TransformerConfig, get_preset
from ..data.caption_augment import training_captions
from ..data.clip import mirror_clip, training_clip_lists
from ..data.features import clip_features, features_to_grid
from ..distributed import train_loader
from ..text import build_text_encoder
from ..train import fit
from ..utils import eval_mode, get_device, load_checkpoint, load_weights, seed_everything
from ..vq.model import pad_to_multiple
from .model import InterMTransformer
from .tools import N_ROWS, TokenIds, bert_corrupt, get_schedule, pad_tokens, random_mask_by_ratio, schedule_time

UNROLL_MODES = ("schedule", "random_share")
UNROLL_STEPS = 20  # the decoding steps the paper's step-unroll assumes: its second pass is one such step later



def masked_token_loss(model: InterMTransformer, tokens: torch.Tensor, captions: list[str],
                      cfg: TransformerConfig, generator: torch.Generator | None = None, unroll: bool = False,
                      unroll_mode: str = "schedule"):
    """Cross-entropy on the masked positions of two token maps (B, 2, 5, T') (PAD beyond each length).

    One mask ratio per sample from the schedule, positions chosen jointly over both people; in a share
    cfg.interaction_mask_prob of batches one whole person is masked instead; chosen positions get
    BERT corruption; a share cfg.text_drop_prob of captions becomes the null condition. With unroll (the study's)
    a second pass sees some of the first pass's argmax predictions in place of MASK and the loss is the mean of
    both passes': unroll_mode "schedule" (the paper's) fills those a decoding step later would keep (`unroll_fill`)
    and scores the rest, "random_share" fills a random share and scores every masked position.
    Returns (loss, {"loss", "acc", "mask_ratio"}).
    """
    if unroll and unroll_mode not in UNROLL_MODES:
        raise ValueError(f"unknown unroll_mode {unroll_mode!r}; expected one of {list(UNROLL_MODES)}")
    core = getattr(model, "module", model)  # the model itself when fit wraps it in DDP
    ids, device = core.ids, tokens.device
    B = tokens.shape[0]
    valid = tokens != ids.pad  # (B, 2, 5, T')
    if tokens.dtype != torch.long or (tokens[valid] < 0).any() or (tokens[valid] >= ids.nb_code).any():
        raise ValueError(f"training tokens must be long codes 0..{ids.nb_code - 1} or PAD={ids.pad} "
                         "(never MASK or SEP)")

    def rand(*shape):  # uniform draws from the CPU generator, so every device sees the same masks
        return torch.rand(shape, generator=generator).to(device)

    if float(rand(1)) < cfg.interaction_mask_prob:
        person = (rand(B) < 0.5).long()  # (B,) the person to generate from the other
        chosen = valid & (torch.arange(2, device=device)[None] == person[:, None])[:, :, None, None]
    else:
        ratio = get_schedule(cfg.schedule)(rand(B))  # (B,)
        chosen = random_mask_by_ratio(valid, ratio, generator)  # (B, 2, 5, T')
    inputs = bert_corrupt(tokens, chosen, ids, generator)  # (B, 2, 5, T')
    dropped = rand(B) < cfg.text_drop_prob  # (B,)
    texts = [None if d else c for d, c in zip(dropped.tolist(), captions)]
    pooled = core.encode_text(texts)  # (B, D_text): encoded once for both passes

    logits = model(inputs, pooled)  # (B, 2, 5, T', K)
    target = tokens[chosen]  # (N,)
    loss = F.cross_entropy(logits[chosen].float(), target)
    pred = logits.detach().argmax(-1)  # (B, 2, 5, T')
    acc = (pred[chosen] == target).float().mean()
    if unroll:
        if unroll_mode == "schedule":  # scored where still hidden (the official code's labels)
            fill = unroll_fill(logits.detach(), chosen & (inputs == ids.mask), valid, cfg.schedule)
            scored = chosen & ~fill  # (B, 2, 5, T')
        else:  # a random share of the masked positions, scored on all of them (filled ones too: fix them)
            share = rand(B)[:, None, None, None]  # (B, 1, 1, 1)
            fill = chosen & (rand(*tokens.shape) < share)  # (B, 2, 5, T')
            scored = chosen
        logits2 = model(torch.where(fill, pred, inputs), pooled)
        loss = 0.5 * (loss + F.cross_entropy(logits2[scored].float(), tokens[scored]))
    stats = {"loss": float(loss.detach()), "acc": float(acc), "mask_ratio": float(chosen.sum() / valid.sum())}
    return loss, stats


def unroll_fill(logits: torch.Tensor, hidden: torch.Tensor, valid: torch.Tensor, schedule: str) -> torch.Tensor:
    """The paper's step-unroll: which MASK positions (hidden, (B, 2, 5, T')) the second pass sees filled in.

    The share of valid positions hidden is a time on the masking schedule; one decoding step later
    (1 / (UNROLL_STEPS + 1) on) fewer stay hidden: the least confident first-pass predictions (max softmax
    probability of logits (B, 2, 5, T', K)) stay MASK, the rest of the hidden positions get their prediction."""
    B = hidden.shape[0]
    n_valid = valid.flatten(1).sum(1).clamp(min=1)  # (B,)
    ratio = hidden.flatten(1).sum(1) / n_valid  # (B,)
    later = (schedule_time(schedule, ratio) + 1 / (UNROLL_STEPS + 1)).clamp(max=1)  # (B,)
    n_still = (get_schedule(schedule)(later) * n_valid).round().clamp(min=1)  # (B,)
    confidence = logits.float().softmax(-1).amax(-1)  # (B, 2, 5, T')
    confidence = torch.where(hidden, confidence, torch.full_like(confidence, float("inf")))  # others never stay
    rank = confidence.reshape(B, -1).argsort(1).argsort(1).view_as(hidden)  # (B, 2, 5, T') 0 = least confident
    still = rank < n_still[:, None, None, None]
    return hidden & ~still


# ---------------------------------------------------------------- data
@torch.no_grad()
def tokenize_clips(clips, tokenizer, max_frames: int, batch_size: int = 32, device="cpu") -> torch.Tensor:
    """Each clip's two people through tokenizer.encode: (N, 2, 5, max_frames/4) long, PAD after the clip."""
    if not clips:
        raise ValueError("tokenize_clips got no clips")
    ids = TokenIds(tokenizer.cfg.nb_code)
    n_cols = max_frames // FRAMES_PER_TOKEN
    mean = tokenizer.grid_mean[None, :, :, None].cpu()  # (1, 12, 22, 1)
    std = tokenizer.grid_std[None, :, :, None].cpu()
    tokenizer = tokenizer.to(device).eval()
    out, lengths = [], []
    for start in range(0, len(clips), batch_size):
        grids = []
        for clip in clips[start : start + batch_size]:
            feats = torch.as_tensor(clip_features(clip))[:, :max_frames]  # (2, T, 262)
            grid = (features_to_grid(feats) - mean) / std  # (2, 12, 22, T)
            grid, n_frames = pad_to_multiple(grid, FRAMES_PER_TOKEN)
            lengths.append(min(n_cols, -(-n_frames // FRAMES_PER_TOKEN)))
            padding = max_frames - grid.shape[-1]  # repeat the last frame up to max_frames
            grids.append(torch.cat([grid, grid[..., -1:].expand(2, 12, 22, padding)], -1))
        batch = torch.stack(grids).flatten(0, 1).to(device)  # (2b, 12, 22, max_frames)
        codes = tokenizer.encode(batch).cpu()  # (2b, 5, n_cols)
        out.append(codes.view(-1, 2, *codes.shape[1:]))
    tokens = torch.cat(out).long()  # (N, 2, 5, n_cols)
    return pad_tokens(tokens, torch.tensor(lengths), ids)


class TokenDataset(Dataset):
    """Token maps with their captions; each item picks one caption at random."""

    def __init__(self, tokens: torch.Tensor, captions: list[list[str]]):
        if len(tokens) != len(captions):
            raise ValueError(f"{len(tokens)} token maps but {len(captions)} caption lists")
        self.tokens, self.captions = tokens, captions

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i: int) -> dict:
        return {"tokens": self.tokens[i], "caption": random.choice(self.captions[i])}


def make_loss_fn(cfg: TransformerConfig, unroll: bool = False, unroll_mode: str = "schedule"):
    """loss_fn(model, batch, device) for train.fit; unroll, unroll_mode: the study's step-unroll."""
    def loss_fn(model, batch, device):
        loss, stats = masked_token_loss(model, batch["tokens"].to(device), list(batch["caption"]), cfg,
                                        unroll=unroll, unroll_mode=unroll_mode)
        stats.pop("loss")  # fit logs the loss itself
        return loss, stats
    return loss_fn


def make_val_fn(cfg: TransformerConfig, dataset: TokenDataset, batch_size: int, seed: int = 0, unroll: bool = False,
                unroll_mode: str = "schedule"):
    """val_fn(model, device): the masked-token loss and accuracy on fixed masks (same seed every time)."""
    def val_fn(model, device):
        generator = torch.Generator().manual_seed(seed)
        totals, n = {"val_loss": 0.0, "val_acc": 0.0}, 0
        with eval_mode(model):
            for start in range(0, len(dataset), batch_size):
                tokens = dataset.tokens[start : start + batch_size].to(device)
                captions = [c[0] for c in dataset.captions[start : start + batch_size]]
                _, stats = masked_token_loss(model, tokens, captions, cfg, generator, unroll, unroll_mode)
                totals["val_loss"] += stats["loss"] * len(tokens)
                totals["val_acc"] += stats["acc"] * len(tokens)
                n += len(tokens)
        return {k: v / max(n, 1) for k, v in totals.items()}
    return val_fn


# ---------------------------------------------------------------- pipeline
def build_transformer(preset: Preset, nb_code: int, captions: list[str] | None = None,
                      vocab: list[str] | None = None, n_rows: int = N_ROWS) -> InterMTransformer:
    """A fresh Inter-M with its text encoder (the scratch vocabulary from `captions` or `vocab`);
    n_rows: token rows per person of its tokenizer (5 for 2D, 1 for 1D)."""
    text_encoder = build_text_encoder(preset.text, captions, vocab=vocab)
    return InterMTransformer(preset.transformer, nb_code, text_encoder, n_rows, preset.transformer_study)


def train_transformer(preset, train_clips, val_clips, *, tokenizer, out_dir=None, device="auto", progress=True,
                      seed=0, init_from=None):
    """Tokenise the clips once with the trained `tokenizer` and train Inter-M with train.fit.

    preset: a Preset or its name (data.sources.training_clips(preset) gives the built-in clips); val_clips
    may be empty (no validation); init_from: a transformer checkpoint of the same config to fine-tune (train.fit).
    Returns (model, history); checkpoints go to out_dir/transformer_{last,best}.pt.
    """
    preset = get_preset(preset)
    seed_everything(seed)
    train_clips, val_clips = training_clip_lists(train_clips, val_clips, "train_transformer")
    if preset.transformer_train.mirror:  # twice the token maps; validation keeps the clips as they are
        train_clips = train_clips + [mirror_clip(c) for c in train_clips]
    dev = get_device(device)
    datasets = {}
    for name, part in (("train", train_clips), ("val", val_clips)):
        if not part:  # tiny datasets (smoke) may have no validation clips
            continue
        tokens = tokenize_clips(part, tokenizer, preset.data.max_frames, device=dev)
        rewrites = preset.text.rewrites if name == "train" else 0  # validation keeps the clips' own captions
        datasets[name] = TokenDataset(tokens, training_captions(part, rewrites, seed))
    captions = [c for caps in datasets["train"].captions for c in caps]
    model = build_transformer(preset, tokenizer.cfg.nb_code, captions, n_rows=tokenizer.token_rows)
    tcfg = preset.transformer_train
    loader = train_loader(datasets["train"], tcfg)  # this process's share of each global batch
    extra = {"preset": preset.to_dict(), "nb_code": tokenizer.cfg.nb_code, "vocab": model.text_encoder.vocab,
             "n_rows": tokenizer.token_rows}
    unroll = dict(unroll=preset.transformer_study.unroll, unroll_mode=preset.transformer_study.unroll_mode)
    val_fn = make_val_fn(preset.transformer, datasets["val"], tcfg.batch_size, **unroll) if "val" in datasets \
        else None
    history = fit(model, make_loss_fn(preset.transformer, **unroll), loader, tcfg, val_fn=val_fn,
                  out_dir=out_dir, kind="transformer", extra=extra, device=device, progress=progress, seed=seed,
                  init_from=init_from)
    return model.eval(), history


def load_transformer(path: str | Path):
    """(model, text_encoder) from a transformer checkpoint written by train_transformer, in eval mode."""
    ckpt = load_checkpoint(path, kind="transformer")
    extra = ckpt.get("extra") or {}
    missing = {"preset", "nb_code", "vocab"} - set(extra)
    if missing:
        raise ValueError(f"{path} lacks {sorted(missing)} in its 'extra' entry; retrain with train_transformer")
    preset = Preset.from_dict(extra["preset"])
    model = build_transformer(preset, int(extra["nb_code"]), vocab=extra["vocab"],
                              n_rows=int(extra.get("n_rows", N_ROWS)))
    load_weights(model, ckpt["model"], path)
    model.eval()
    return model, model.text_encoder
