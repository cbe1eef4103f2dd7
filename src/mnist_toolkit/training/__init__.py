"""Training a network: the config and its presets, optimizers and schedules, augmentation, the Trainer
and its state, resume and init-from, data-parallel runs, TensorBoard logs, and the optimizer comparison
and experiment grids built on them."""
