"""intermask_lite.baselines: models the paper compares against.

- diffusion: an InterGen-style two-person diffusion model (DiffusionConfig, DuetDenoiser, alpha_bars,
  ddim_step, ddim_sample); diffusion_train: train_diffusion, load_diffusion, generate_joints, DiffusionKit.
"""
