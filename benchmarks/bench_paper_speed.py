"""Paper-preset speed on a CPU, side by side with the official InterMask code: one training step, one generation.

    python benchmarks/bench_paper_speed.py                                  # this kit; official numbers as quoted
    python benchmarks/bench_paper_speed.py --official ~/src/InterMask       # also times the official code here
    python benchmarks/bench_paper_speed.py --threads 1 --repeats 5

What is timed, both sides with random weights at the paper's sizes (6 blocks, width 384, 6 heads, feed-forward
1024, 1024 codes):
- training step: batch 4, 22 token columns per person (88 frames): 2 x 5 x 22 = 220 motion tokens per sample;
  text conditioning, masking, step-unroll second pass, backward, gradient clipping and an AdamW step;
- generation: tokens of a 90-frame interaction (22 columns) for a new prompt, 20 decoding steps with guidance
  (this kit also turns them into motion with the paper-sized tokenizer, shown separately).
Each side conditions on text as its training and generation do. This kit: the frozen MiniLM's features of the
training captions are cached (computed once before training), then a 2-layer adapter; a prompt is encoded once
per generation. The official code: CLIP ViT-L/14@336px's text tower (12 layers, width 768, 77 tokens) runs on
every batch, then its 2 trainable layers; here that tower has the original's shape and random weights (the
weights are not downloadable here; the arithmetic is the same). Rows alternate between the two sides, repeat by
repeat, so a changing load on the machine hits both alike. "int8" rows: this kit's generation with
`int8=True` (mask_transformer.int8). The official side needs `pip install einops positional-encodings`.

Without --official the official numbers are the ones quoted in the project's issue (official code, 2 threads,
torch 2.13, an idle machine): training step 2.37 s, generation 3.54 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

from intermask_lite.config import GUIDANCE, get_preset
from intermask_lite.mask_transformer.sampling import Sampling
from intermask_lite.mask_transformer.generate import decode, model_logits_fn
from intermask_lite.mask_transformer.int8 import int8_inference
from intermask_lite.mask_transformer.training import build_transformer, masked_token_loss
from intermask_lite.utils import seed_everything

QUOTED = {"training step": 2.37, "generation": 3.54}  # seconds, official code, 2 threads, quoted in the issue
QUOTED_THREADS = 2
CAPTIONS = ["two people shake hands", "one person pushes the other away", "they hug and step back",
            "the two bow to each other"]
BATCH, COLUMNS, FRAMES, STEPS = 4, 22, 88, 20


# ---------------------------------------------------------------- this kit
def paper_models():
    """(preset, transformer, tokenizer) of the paper preset with random weights (kit_training_step unrolls)."""
    from intermask_lite.vq.model import MotionTokenizer
    preset = get_preset("paper")
    seed_everything(0)
    transformer = build_transformer(preset, preset.vq.nb_code, CAPTIONS)  # caches the captions' MiniLM features
    tokenizer = MotionTokenizer(preset.vq).eval()
    return preset, transformer, tokenizer


def kit_training_step(preset, model):
    """A function running one training step of this kit (forward with unroll, backward, clip, fused AdamW)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99), fused=True)  # as train.fit
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, preset.vq.nb_code, (BATCH, 2, 5, COLUMNS), generator=gen)  # (B, 2, 5, C)

    def step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = masked_token_loss(model, tokens, CAPTIONS[:BATCH], preset.transformer, gen, unroll=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return step


def kit_generation(preset, model):
    """A function generating the tokens of one interaction, a new prompt each call (the frozen encoder runs)."""
    nb_code, calls = preset.vq.nb_code, [0]

    def generate():
        calls[0] += 1
        prompt = [f"two people greet each other, take {calls[0]}"]
        return decode(model_logits_fn(model, prompt), [COLUMNS], COLUMNS, nb_code,
                      Sampling(steps=STEPS, guidance=GUIDANCE, seed=calls[0]))  # (1, 2, 5, C)
    return generate


def kit_to_motion(preset, tokenizer):
    """A function turning one interaction's tokens into joints with the paper-sized tokenizer."""
    ids = torch.randint(0, preset.vq.nb_code, (2, 5, COLUMNS))  # (2, 5, C)

    def to_motion():
        with torch.inference_mode():
            return tokenizer.grid_to_joints(tokenizer.decode(ids))  # (2, 4C, 22, 3)
    return to_motion


# ---------------------------------------------------------------- the official code
def official_model(checkout: Path):
    """The official MaskTransformer at the paper's sizes from a checkout, with a random-weight CLIP text tower."""
    sys.path.insert(0, str(checkout))
    clip_stub = types.ModuleType("clip")

    def tokenize(texts, truncate=True):  # CLIP pads every caption to 77 tokens, end-of-text is the largest id
        ids = torch.randint(1, 49406, (len(texts), 77))
        for i, t in enumerate(texts):
            ids[i, min(len(t.split()) + 1, 76):] = 0
            ids[i, min(len(t.split()) + 1, 76)] = 49407
        return ids
    clip_stub.tokenize = tokenize
    sys.modules["clip"] = clip_stub
    from models.mask_transformer import transformer as official

    class CLIPTextTower(nn.Module):
        """ViT-L/14's text transformer (12 pre-norm layers, width 768, 12 heads, causal), sequence-first."""

        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation="gelu", norm_first=True)
            self.layers = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
            self.causal = nn.Transformer.generate_square_subsequent_mask(77)

        def forward(self, x):  # (77, B, 768)
            return self.layers(x, mask=self.causal, is_causal=True)

    def load_and_freeze_clip(self, version):  # the original's modules, shapes and freezing; random weights
        self.clip_token_embedding = nn.Embedding(49408, 768).requires_grad_(False)
        self.clip_transformer = CLIPTextTower().requires_grad_(False)
        self.clip_positional_embedding = nn.Parameter(torch.randn(77, 768) * 0.01, requires_grad=False)
        self.clip_ln_final = nn.LayerNorm(768).requires_grad_(False)
        self.clip_dtype = torch.float32
        layer = nn.TransformerEncoderLayer(768, 8, 2048, dropout=0.1, activation="gelu", batch_first=True)
        self.clipTrans = nn.TransformerEncoder(layer, num_layers=2)
        self.clipln = nn.LayerNorm(768)

    official.MaskTransformer.load_and_freeze_clip = load_and_freeze_clip
    opt = types.SimpleNamespace(num_tokens=1024, step_unroll=1.0, interaction_mask_prob=0.2)
    torch.manual_seed(0)
    return official.MaskTransformer(code_dim=512, cond_mode="text", latent_dim=384, ff_size=1024, num_layers=6,
                                    num_heads=6, dropout=0.2, clip_dim=768, cond_drop_prob=0.1,
                                    clip_version="ViT-L/14@336px", opt=opt)


def official_training_step(model):
    optimizer = torch.optim.AdamW(model.parameters_wo_clip(), lr=2e-4, betas=(0.9, 0.99), weight_decay=1e-5)
    ids = torch.randint(0, 1024, (BATCH, 2 * 5 * COLUMNS))
    lengths = torch.full((BATCH,), COLUMNS)

    def step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = model(ids, CAPTIONS[:BATCH], lengths)[0]
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters_wo_clip(), 1.0)
        optimizer.step()
    return step


def official_generation(model):
    return lambda: model.generate(CAPTIONS[:1], torch.tensor([2 * COLUMNS]), timesteps=STEPS, cond_scale=GUIDANCE)


# ---------------------------------------------------------------- timing
def alternate(jobs: dict, repeats: int) -> dict:
    """{name: median seconds} of each job, the jobs taking turns; the first round warms up and is dropped."""
    times = {name: [] for name in jobs}
    for round_ in range(repeats + 1):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up (median)")
    parser.add_argument("--official", type=Path, default=None, help="a checkout of the official InterMask code")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 generation rows")
    args = parser.parse_args(argv)
    preset, transformer, tokenizer = paper_models()
    fast = None if args.no_int8 else int8_inference(transformer)
    official = official_model(args.official.expanduser()) if args.official else None
    n_ours = sum(p.numel() for p in transformer.parameters())
    print(f"this kit: {n_ours / 1e6:.1f} M trainable parameters (MiniLM frozen outside)")
    if official is not None:
        n_theirs = sum(p.numel() for p in official.parameters_wo_clip())
        print(f"official: {n_theirs / 1e6:.1f} M trainable parameters (CLIP text tower frozen outside)")
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        train_jobs = {"kit": kit_training_step(preset, transformer)}
        gen_jobs = {"kit": kit_generation(preset, transformer), "kit to motion": kit_to_motion(preset, tokenizer)}
        if fast is not None:
            gen_jobs["kit int8"] = kit_generation(preset, fast)
        if official is not None:
            train_jobs["official"] = official_training_step(official)
            gen_jobs["official"] = official_generation(official)
        train = alternate(train_jobs, args.repeats)
        gen = alternate(gen_jobs, args.repeats)
        rows.append({"threads": threads, "train": train, "gen": gen})
        print(f"threads {threads}: training step " + ", ".join(f"{k} {v:.2f} s" for k, v in train.items())
              + "; generation " + ", ".join(f"{k} {v:.2f} s" for k, v in gen.items()), flush=True)
    print_table(rows, measured=official is not None)
    return rows


def print_table(rows: list, measured: bool) -> None:
    print("\n| what | threads | official (s) | this kit (s) | speed-up | this kit int8 (s) | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        for what, key in (("training step", "train"), ("generation (tokens)", "gen")):
            times = row[key]
            theirs = times.get("official") if measured else (
                QUOTED[what.split(" (")[0]] if row["threads"] == QUOTED_THREADS else None)
            cells = [f"{theirs:.2f}" + ("" if measured else " (quoted)") if theirs else "-"]
            for name in ("kit", "kit int8"):
                ours = times.get(name)
                cells += [f"{ours:.2f}", f"{theirs / ours:.2f}x" if theirs else "-"] if ours else ["-", "-"]
            print(f"| {what} | {row['threads']} | " + " | ".join(cells) + " |")
    print("\nthis kit's tokens to motion (paper-sized tokenizer), not in the rows above: "
          + ", ".join(f"{r['gen']['kit to motion']:.2f} s ({r['threads']} threads)" for r in rows))
    print("targets: training step 1.5x faster, generation 2x faster than the official code"
          + ("" if measured else "; official numbers quoted (an idle machine), not measured here"))


if __name__ == "__main__":
    main()
