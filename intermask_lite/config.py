"""Dataclass configs and the three presets: smoke(), lab() (the default) and paper().

Presets shrink widths, lengths and steps, never the mechanisms (docs/architecture.md, section 3). Each section is
owned by the module that uses it; `Preset` bundles them and round-trips through a plain dict so that it
can live inside a checkpoint. `with_overrides(preset, ["vq.nb_code=1024"])` changes single fields.
"""
from __future__ import annotations

import ast
import math
from dataclasses import asdict, dataclass, field, fields, replace


# Decoding defaults of Kit.generate/react/inpaint, the CLI and the evaluation, picked with the lab models (class
# accuracy of generated motion: 0.69, 0.80, 0.77 at 10, 20, 30 steps on the validation split). Guidance, with the
# 9600-step transformer on 42 test prompts and 3 seeds (benchmarks/bench_motion_quality.py, cleaned motion): class
# accuracy 0.93, 0.88, 0.80 and touch rate 0.63, 0.63, 0.75 at 1.5, 2 and 3; FID 0.18, 0.16, 0.21.
DECODE_STEPS = 20
GUIDANCE = 1.5
# Gumbel noise on the re-masking confidence (mask_transformer.sampling.Sampling): without it, decoding keeps the
# most confident codes first, which are repeats of their neighbours, and a token row freezes into one code (mode
# share 0.56 against 0.27 in ground truth; 6: 0.40 and FID 0.29 -> 0.22; benchmarks/bench_motion_quality.py)
CONFIDENCE_NOISE = 6.0

FRAMES_PER_TOKEN = 4  # one token column covers 4 frames: the tokenizer's time stride (T -> T/4)


def seconds_to_columns(seconds: float, fps: float) -> int:
    """Token columns covering `seconds` of motion at `fps`, rounded half up (2.5 s at 20 fps: 12.5 -> 13)."""
    if seconds < 0 or fps <= 0:
        raise ValueError(f"need seconds >= 0 and fps > 0; got seconds={seconds}, fps={fps}")
    return int(math.floor(seconds * fps / FRAMES_PER_TOKEN + 0.5))


@dataclass
class DataConfig:
    n_clips: int = 2000          # built-in clips generated
    seed: int = 0                # generator seed
    fps: int = 20                # frame rate the models work at (built-in data: 20; clips at another rate are
                                 # resampled)
    source: str = "synthetic"    # training clips: "synthetic", "interhuman:<folder>" or "interx:<folder>" (see
                                 # data.sources)
    window: int = 64             # tokenizer training window in frames (multiple of 4)
    max_frames: int = 120        # longest clip fed to the transformer (6 s at 20 fps)
    vq_clip_frame: bool = False  # tokenizer windows keep their clip's coordinates (see VQWindowDataset.context)


@dataclass
class VQConfig:
    nb_code: int = 512           # codebook size (paper 1024)
    code_dim: int = 48           # code vector width (paper 512); lab size trains in minutes on a CPU
    width: int = 48              # conv channels (paper 512)
    depth: int = 2               # residual blocks per stage
    dilation_growth: int = 3     # dilation growth of the residual blocks
    mu: float = 0.99             # EMA decay of the codebook
    gumbel_temp: float = 0.5     # temperature of stochastic code assignment in training (0 = off)
    kind: str = "2d"             # "2d" (the paper's tokenizer) or "1d" (ablation)
    width_1d: int = 0            # conv channels of the 1D variant (0 = vq.model.matched_1d_width)
    reset_until: float = 1.0     # share of the training steps with dead-code resets (1 = all, the paper's)
    # loss weights
    w_feat: float = 1.0          # features, normalised (SmoothL1)
    w_pos: float = 0.5           # joint positions in metres (paper 1)
    w_vel: float = 0.5           # frame-to-frame joint velocity in metres (paper 100)
    w_bone: float = 0.3          # bone lengths along the chains in metres (paper 5)
    w_geo: float = 0.01          # rotation geodesic angle in radians (paper 0.01)
    w_foot: float = 0.5          # foot velocity where the true foot is in contact (paper 500)
    w_commit: float = 0.02       # commitment (paper 0.02)
    w_readback: float = 0.3      # read-back term of the decoder tuning (vq_tune; the paper has no such phase)


@dataclass
class TokenizerStudyConfig:
    """Switches of the tokenizer study (docs/tokenizer_study.md) that no preset changes: each default is the paper's."""
    joint_order: str = "smpl"    # 2D joint axis: "smpl" (the skeleton's order, the paper's) or "chains"
    quantize: bool = True        # False: no codebook, a plain autoencoder with no tokens (what the codes cost)
    foot_from: float = 0.0       # share of the training steps before the foot term starts (0 = at once)
    short_clips: str = "skip"    # clips shorter than the window: "skip" or "reflect" (played back and forth)


@dataclass
class TrainConfig:
    steps: int = 3000            # optimisation steps
    batch_size: int = 64         # per micro-step, summed over all processes (one step sees batch_size * grad_accum)
    lr: float = 2e-4             # peak learning rate
    weight_decay: float = 0.0    # AdamW weight decay
    warmup: int = 200            # linear warm-up steps
    milestones: tuple = (0.6, 0.85)  # step decay points, as fractions of `steps`
    gamma: float = 0.1           # decay factor at each milestone
    grad_accum: int = 1          # gradient accumulation steps
    grad_clip: float = 1.0       # max gradient norm (0 = off)
    eval_every: int = 500        # validation interval in steps
    amp: bool = True             # automatic mixed precision on CUDA
    cpu_bf16: bool = False       # bf16 autocast on a CPU with native bf16 (AVX512-BF16 / AMX); float32 elsewhere
    num_workers: int = 0         # DataLoader workers
    compile: bool = False        # wrap the model in torch.compile (needs a C++ compiler on CPUs; pays off on GPUs)
    mirror: bool = False         # transformer: also train on every training clip's mirror image (captions mirrored);
                                 # off in every preset: on the lab budget it left validation accuracy at 0.36 and
                                 # generated class accuracy fell from 0.93 to 0.89 (docs/results.md)


@dataclass
class TextConfig:
    encoder: str = "scratch"     # "scratch" (trained from captions) or "minilm" (frozen, pretrained)
    dim: int = 64                # width of the token features after the adapter (paper 384)
    adapter_layers: int = 1      # trainable transformer layers on top of the encoder
    max_words: int = 32          # longest caption in tokens
    rewrites: int = 0            # synonym rewrites added per training caption (transformer; data.caption_augment)
    word_drop: float = 0.0       # in training, share of a caption's word features left out (at least one kept)
    anchor: int = 0              # in generation, pull a prompt's text vector onto its k nearest training
                                 # captions' (text.CaptionAnchor; 0: off)


@dataclass
class TransformerConfig:
    latent_dim: int = 64         # model width (paper 384); lab size fits 15 min of training on 2 CPU cores
    n_layers: int = 2            # Inter-M blocks (paper 6)
    n_heads: int = 4             # attention heads (paper 6)
    ff_mult: int = 2             # feed-forward width multiple, when ff_width is 0
    ff_width: int = 0            # feed-forward width (0: ff_mult x latent_dim; the official paper code: 1024)
    dropout: float = 0.1         # dropout on embeddings and sub-layer outputs
    interaction_mask_prob: float = 0.2  # share of batches with one whole person masked
    text_drop_prob: float = 0.1  # share of captions replaced by the null condition
    schedule: str = "cosine"     # masking schedule: cosine, linear, sqrt


@dataclass
class TransformerStudyConfig:
    """Switches of the ablation study (studies.ablations) that no preset changes: each default is the paper's model."""
    joint_self_attn: bool = True  # self-attention over the whole [A][SEP][B] sequence (first sub-layer)
    spatial: bool = True         # spatial attention (across body-part rows)
    temporal: bool = True        # temporal attention (across time columns)
    cross: bool = True           # cross-attention to the other person
    independent: bool = False    # no attention at all between the two people (cross-attention off whatever `cross`
                                 # says, and the joint self-attention kept to each person's own tokens)
    unroll: bool = False         # step-unroll: a second training pass on the model's own predictions
    unroll_mode: str = "schedule"  # "schedule" (the paper's: the first pass's least confident predictions stay
                                 # masked, as one decoding step later would keep them) or "random_share"


@dataclass
class EvalConfig:
    dim: int = 256               # joint embedding width of the evaluator
    width: int = 128             # evaluator motion/text encoder width
    layers: int = 2              # evaluator motion transformer layers
    heads: int = 4               # evaluator attention heads
    text_layers: int = 1         # layers of the evaluator's own scratch text encoder
    w_class: float = 0.5         # weight of the evaluator's class cross-entropy next to InfoNCE
    noise_prob: float = 0.5      # share of evaluator training clips perturbed by a few cm of noise
    replications: int = 5        # repetitions of each metric
    pools: tuple = (32,)         # R-precision pool sizes
    mm_prompts: int = 16         # prompts sampled repeatedly for MultiModality (T2M: 100)
    mm_samples: int = 10         # samples per prompt for MultiModality


@dataclass
class Preset:
    """One value for every setting: the sections below (each owned by the module that uses it). The field defaults
    are each section's own; the presets (smoke(), lab(), paper()) spell out what they change."""
    name: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    vq: VQConfig = field(default_factory=VQConfig)
    vq_train: TrainConfig = field(default_factory=TrainConfig)
    # the tokenizer's second phase (vq.readback): its decoder alone tuned so that its output reads back to the same
    # tokens; 0 steps (the default, the paper's) leaves it out
    vq_tune: TrainConfig = field(default_factory=lambda: TrainConfig(steps=0, lr=2e-5, warmup=0, milestones=()))
    text: TextConfig = field(default_factory=TextConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    transformer_train: TrainConfig = field(default_factory=TrainConfig)
    evaluator_train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    vq_study: TokenizerStudyConfig = field(default_factory=TokenizerStudyConfig)  # experiments only
    transformer_study: TransformerStudyConfig = field(default_factory=TransformerStudyConfig)  # experiments only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preset":
        kinds = {f.name: f.type for f in fields(cls)}
        d = _moved_study_fields(d)
        out = {}
        for key, value in d.items():
            if key not in kinds:
                raise ValueError(f"unknown config section {key!r}; expected one of {list(kinds)}")
            if key in SECTIONS:
                known = {f.name for f in fields(SECTIONS[key])}
                bad = set(value) - known
                if bad:
                    raise ValueError(f"unknown fields {sorted(bad)} in config section {key!r}")
                value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
                out[key] = SECTIONS[key](**value)
            else:
                out[key] = value
        return cls(**out)


SECTIONS = {"data": DataConfig, "vq": VQConfig, "vq_train": TrainConfig, "vq_tune": TrainConfig, "text": TextConfig,
            "transformer": TransformerConfig, "transformer_train": TrainConfig, "evaluator_train": TrainConfig,
            "eval": EvalConfig, "vq_study": TokenizerStudyConfig,
            "transformer_study": TransformerStudyConfig}  # the Preset fields that are config dataclasses
# where the study switches lived before they had sections of their own (checkpoints written then store them there):
# (section, field) -> (study section, field)
_STUDY_FIELDS_BEFORE = {
    ("vq", "joint_order"): ("vq_study", "joint_order"), ("vq", "quantize"): ("vq_study", "quantize"),
    ("vq", "foot_from"): ("vq_study", "foot_from"), ("data", "vq_short_clips"): ("vq_study", "short_clips"),
    **{("transformer", name): ("transformer_study", name)
       for name in ("joint_self_attn", "spatial", "temporal", "cross", "independent", "unroll")},
}


def _moved_study_fields(d: dict) -> dict:
    """A preset dict with the study switches moved from their former sections into their study sections."""
    d = {key: dict(value) if isinstance(value, dict) else value for key, value in d.items()}
    for (section, old), (study, new) in _STUDY_FIELDS_BEFORE.items():
        if isinstance(d.get(section), dict) and old in d[section]:
            d.setdefault(study, {})[new] = d[section].pop(old)
    return d


def with_steps(preset: Preset, steps: int) -> Preset:
    """`preset` with every training (tokenizer, transformer, evaluator) cut to `steps` steps and validated 4 times:
    a short run of a big preset, e.g. paper() on a GPU for a lesson. Its name is kept, so its checkpoints go to
    <artifacts_dir>/<name>/: give such a run an artifacts folder of its own."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    short = {name: replace(getattr(preset, name), steps=steps, eval_every=max(steps // 4, 1))
             for name in ("vq_train", "transformer_train", "evaluator_train")}
    return replace(preset, **short)


def with_overrides(preset: Preset, assignments) -> Preset:
    """`preset` with "section.field=value" assignments applied, e.g. ["vq.nb_code=1024", "vq_train.lr=7e-4"].

    A value is a Python literal (1024, 7e-4, True or true, (0.85, 0.95)) or a bare word for a string field
    ("vq_study.joint_order=chains"); it must have the type of the field it replaces (an int may replace a float).
    """
    for item in assignments:
        key, eq, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot:
            raise ValueError(f"override {item!r}: expected section.field=value, e.g. vq.nb_code=1024")
        if section not in SECTIONS:
            raise ValueError(f"override {item!r}: unknown section {section!r}; expected one of {sorted(SECTIONS)}")
        part = getattr(preset, section)
        names = [f.name for f in fields(part)]
        if name not in names:
            raise ValueError(f"override {item!r}: section {section!r} has no field {name!r}; its fields: {names}")
        value = _override_value(text.strip(), getattr(part, name), item)
        preset = replace(preset, **{section: replace(part, **{name: value})})
    return preset


def _override_value(text: str, current, item: str):
    """Parse `text` as a literal (else keep the word) and check it against the field's current value."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(current, bool) and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"                                 # true/false as a shell user writes them
    if isinstance(current, float) and type(value) is int:
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    if type(value) is not type(current):
        raise ValueError(f"override {item!r}: the field holds {type(current).__name__} values (now {current!r}), "
                         f"got {type(value).__name__} {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"override {item!r}: expected a finite number >= 0, got {value}")
        if type(current) is int and current >= 1 and value < 1:  # sizes, counts and steps
            raise ValueError(f"override {item!r}: the field counts something and must be at least 1, got {value}")
    return value


def smoke() -> Preset:
    """Seconds per notebook; proves only that the code runs."""
    return Preset(
        name="smoke",
        data=DataConfig(n_clips=48, window=32, max_frames=60),
        vq=VQConfig(nb_code=32, code_dim=16, width=16, depth=1),
        vq_train=TrainConfig(steps=6, batch_size=8, warmup=2, eval_every=3),
        text=TextConfig(dim=32, anchor=4),  # anchoring on, so that smoke runs go through it as the lab does
        transformer=TransformerConfig(latent_dim=32, n_layers=1, n_heads=2, ff_mult=2),
        transformer_train=TrainConfig(steps=6, batch_size=8, warmup=2, eval_every=3, lr=5e-4),
        evaluator_train=TrainConfig(steps=6, batch_size=8, warmup=2, eval_every=3, lr=1e-3),
        eval=EvalConfig(dim=32, width=32, layers=1, heads=2, replications=2, pools=(8,), mm_samples=2),
    )


def lab() -> Preset:
    """The default: a 2-core CPU trains the whole chain (tokenizer 31 + 6 min, transformer 116 min, evaluator 12 min).

    Its transformer reads text through the frozen MiniLM (caption features computed once and cached), so that
    prompts in a user's own words work: the scratch encoder knows only the words of the built-in captions. Each
    training caption also comes in 3 synonym rewrites, and a fifth of its words are left out at random in training,
    so the transformer learns more than the templates' words; in generation a prompt's text vector is pulled onto
    its 8 nearest training captions' (text.CaptionAnchor)."""
    return Preset(
        name="lab",
        data=DataConfig(n_clips=2000, fps=20, window=64, max_frames=120),
        # at small batches rarely used codes keep counting as dead: the lab tokenizer resets them for 20 % of its
        # steps
        vq=VQConfig(nb_code=512, code_dim=48, width=48, depth=2, reset_until=0.2),
        # small batches, many steps: at equal compute they beat large batches (tokenizer: 91 mm against 124 mm after
        # 1200 x 16 and 600 x 32 windows; transformer: validation token accuracy 0.30 against 0.28); the tokenizer
        # trains in bf16 where the CPU has it (1.5x the steps per second); short of steps, it keeps the full
        # learning rate longer (decay at 85 and 95 %: 68.4 against 70.6 mm over five seeds)
        vq_train=TrainConfig(steps=25600, batch_size=16, lr=1e-3, warmup=100, milestones=(0.85, 0.95),
                             eval_every=3200, cpu_bf16=True),
        # then its decoder alone (encoder and codebook frozen, so the tokens and any transformer on them stay valid)
        # learns that what it decodes reads back to its own tokens (vq.readback): a test clip's tokens come back from
        # its reconstruction 0.61 of the time against 0.47, generated motion's 0.26 against 0.22, at 53.7 against
        # 52.5 mm (1500 steps, 5.5 min on 1 thread; bench_motion_quality, 3 seeds)
        vq_tune=TrainConfig(steps=1500, batch_size=16, lr=2e-5, warmup=0, milestones=(), eval_every=500),
        text=TextConfig(encoder="minilm", dim=64, rewrites=3, word_drop=0.2, anchor=8),
        # width 128 (64 underfit: train loss = validation loss): validation token accuracy 0.393 against 0.359 after
        # 9600 steps (116 min on 1 thread); touch rate of generated contact motion 0.61 -> 0.76, FID 0.135 -> 0.138
        # (within noise), read-back 0.26 -> 0.32 (bench_motion_quality, 3 seeds)
        transformer=TransformerConfig(latent_dim=128, n_layers=2, n_heads=4, ff_mult=2, dropout=0.1),
        transformer_train=TrainConfig(steps=9600, batch_size=16, lr=1e-3, warmup=200, eval_every=1600),
        evaluator_train=TrainConfig(steps=600, batch_size=64, lr=1e-3, eval_every=200),
        eval=EvalConfig(dim=256, width=128, layers=2, heads=4, replications=5, pools=(32,)),
    )


def paper() -> Preset:
    """The paper's sizes, for a GPU: 300 frames at 30 fps (InterHuman's; the built-in clips are resampled)."""
    return Preset(
        name="paper",
        data=DataConfig(n_clips=8000, fps=30, window=64, max_frames=300, vq_clip_frame=True),
        vq=VQConfig(nb_code=1024, code_dim=512, width=512, depth=2, w_pos=1.0, w_vel=100.0, w_bone=5.0,
                    w_geo=0.01, w_foot=500.0, w_commit=0.02),
        vq_train=TrainConfig(steps=50000, batch_size=256, lr=2e-4, warmup=1000, eval_every=2000, num_workers=4,
                             milestones=(0.7, 0.85)),
        text=TextConfig(encoder="minilm", dim=384, adapter_layers=2),
        transformer=TransformerConfig(latent_dim=384, n_layers=6, n_heads=6, ff_width=1024, dropout=0.2),
        transformer_train=TrainConfig(steps=100000, batch_size=52, lr=2e-4, warmup=2000, eval_every=5000,
                                      num_workers=4),
        evaluator_train=TrainConfig(steps=10000, batch_size=128, lr=1e-4, warmup=500, eval_every=1000),
        eval=EvalConfig(dim=512, width=512, layers=4, heads=8, text_layers=2, replications=20, pools=(32, 96),
                        mm_prompts=100, mm_samples=30),
    )


PRESETS = {"smoke": smoke, "lab": lab, "paper": paper}


def get_preset(name: "str | Preset") -> Preset:
    """Preset by name, or a Preset itself: the one place where "a preset or its name" becomes a Preset.

    INTERMASK_SMOKE=1 is handled by callers (see utils.is_smoke)."""
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]()
