"""How well a tokenizer reconstructs whole clips: errors, code usage, foot skating, and the evaluator's view.

evaluate_tokenizer(model, clips) -> dict(mpjpe_mm, mpjpe_aligned_mm, root_error_mm, root_spread, usage,
                                    perplexity, dead_codes, skate_speed, skate_speed_truth,
                                    mpjpe_<chain>_mm for each skeleton chain, mpjpe_contact_mm)
                                    (and class_acc, fid of the reconstructions given an evaluator)
"""
from __future__ import annotations

import numpy as np
import torch

from ..skeleton import CHAINS, joint_distances
from ..utils import eval_mode
from ..vq.model import MotionTokenizer, root_spread
from ..vq.pipeline import clip_grids
from . import metrics, physics
from ..evaluator import embed_joints


def evaluate_tokenizer(model: MotionTokenizer, clips, device=None, evaluator=None) -> dict:
    """Reconstruction through the tokens (nearest codes) over whole clips, both people (through the encoder and
    decoder alone for a tokenizer that bypasses its codebook, whose usage, perplexity and dead codes are nan).

    mpjpe_mm: mean joint position error in millimetres, where the bodies stand included;
    mpjpe_aligned_mm: the same with each pose's root (pelvis) moved onto the truth's first, the pose alone (the
    convention of MoMask-style tokenizer MPJPE); root_error_mm: mean root position error, where the bodies stand;
    mpjpe_<chain>_mm: mpjpe_mm over the joints of one skeleton chain (right_leg, left_leg, spine, right_arm,
    left_arm); mpjpe_contact_mm: mpjpe_mm over the frames where the truth's contact joints touch
    (physics.contact_frames; contact classes only; nan when no clip has such a frame);
    root_spread: vq.model.root_spread over all clips (near 0: placement collapsed onto a line).
    usage: share of the codebook used over all clips; perplexity: of the token histogram over all clips;
    dead_codes: codes never used.
    skate_speed / skate_speed_truth: mean horizontal foot speed (m/s) of the reconstruction / the truth on the
    frames where the true foot stands on the ground (eval.physics.foot_contacts of the truth), mean over clips:
    how much the reconstructed feet slide where they should stand still.
    With an `evaluator` (evaluator.Evaluator) also what it makes of the reconstructions:
    class_acc (clips of the classes it knows) and fid (against the same clips before the tokenizer).
    MPJPE can mislead: runs of similar MPJPE differ in how recognisable their reconstructions stay.
    """
    if not clips:
        raise ValueError("evaluate_tokenizer needs at least one clip")
    device = device or model.grid_mean.device
    errors, aligned, roots, tokens, pairs = [], [], [], [], []
    chains, contact = {name: [] for name in CHAINS}, []
    pred_roots, true_roots, skate, skate_truth = [], [], [], []
    with eval_mode(model):
        for clip in clips:
            grid = clip_grids(model, clip).to(device)                      # (2, 12, 22, T)
            if model.quantize:
                ids = model.encode(grid)                                   # (2, R, T/4)
                tokens.append(ids.flatten().cpu())
                recon = model.decode(ids)                                  # (2, 12, 22, T)
            else:
                recon = model.reconstruct(grid)                            # (2, 12, 22, T), no codes
            recon, truth = model.grid_to_joints(recon), model.grid_to_joints(grid)  # (2, T, 22, 3) each
            err = joint_distances(recon, truth)                            # (2, T, 22) metres
            errors.append(err.flatten().cpu())
            for name, chain in CHAINS.items():
                chains[name].append(err[:, :, chain].flatten().cpu())
            touching = physics.contact_frames(truth.cpu().numpy(), clip.label)  # (T,) or None
            if touching is not None and touching.any():
                contact.append(err[:, torch.as_tensor(touching)].flatten().cpu())
            roots.append(err[:, :, 0].flatten().cpu())                     # joint 0 is the root
            pred_roots.append(recon[:, :, 0].cpu())                        # (2, T, 3)
            true_roots.append(truth[:, :, 0].cpu())                        # (2, T, 3)
            aligned.append(joint_distances(recon, truth, align_root=True).flatten().cpu())
            recon_np, truth_np = recon.cpu().numpy(), truth.cpu().numpy()  # (2, T, 22, 3) each
            contacts = physics.foot_contacts(truth_np, clip.fps)           # (2, T, 4)
            skate.append(physics.foot_skating(recon_np, clip.fps, contacts)["skate_speed"])
            skate_truth.append(physics.foot_skating(truth_np, clip.fps, contacts)["skate_speed"])
            if evaluator is not None:
                pairs.append((recon_np, truth_np))
    if tokens:
        codes = model.quantizer.code_stats(torch.cat(tokens))          # usage, perplexity, dead codes
        codes["dead_codes"] = int(codes["dead_codes"])
    else:
        codes = dict.fromkeys(("usage", "perplexity", "dead_codes"), float("nan"))
    scores = {"mpjpe_mm": float(torch.cat(errors).mean()) * 1000.0,
              "mpjpe_aligned_mm": float(torch.cat(aligned).mean()) * 1000.0,
              "root_error_mm": float(torch.cat(roots).mean()) * 1000.0,
              **{f"mpjpe_{name}_mm": float(torch.cat(e).mean()) * 1000.0 for name, e in chains.items()},
              "mpjpe_contact_mm": float(torch.cat(contact).mean()) * 1000.0 if contact else float("nan"),
              "root_spread": root_spread(torch.cat(pred_roots, dim=1), torch.cat(true_roots, dim=1)),
              **codes,
              "skate_speed": float(np.mean(skate)), "skate_speed_truth": float(np.mean(skate_truth))}
    if evaluator is not None:
        scores.update(_evaluator_scores(evaluator, pairs, clips))
    return scores


def _evaluator_scores(evaluator, pairs, clips) -> dict:
    """class_acc and fid of reconstructed clips, as the evaluation's reconstruction row computes them."""
    fps = clips[0].fps
    recon_emb = embed_joints(evaluator, [r for r, _ in pairs], fps)   # (N, D)
    truth_emb = embed_joints(evaluator, [t for _, t in pairs], fps)   # (N, D)
    out = {"fid": metrics.fid(recon_emb, truth_emb)}
    accuracy = evaluator.class_accuracy(recon_emb, [c.label for c in clips])
    if accuracy is not None:
        out["class_acc"] = accuracy
    return out
