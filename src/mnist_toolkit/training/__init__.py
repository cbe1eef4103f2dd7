"""Training a network: the config and its presets, optimizers and schedules, augmentation, the Trainer
and its state, resume and init-from, data-parallel runs, TensorBoard logs, and the optimizer comparison
and experiment grids built on them.

The engine, by concern: `devices` (where it runs), `split` (the data split and each epoch's batch order),
`callbacks` (the records progress is reported with), `signals` (stopping on SIGINT/SIGTERM), `trainer`
(the Trainer and its loop), `prepare` (a run folder and a Trainer built complete for it).
"""
