"""Training presets: named settings of ``TrainConfig`` (``train.train_config`` merges one
with what a user gives). Plain data, so that the command line can name them without
importing torch."""

PRESETS: dict[str, dict] = {
    # 10,000 simulated frames on 2 CPU cores in ≤ 90 min (bf16): 64² and 128² briefly
    # (their budget shares end them after 1 and 2 epochs), then up to 15 epochs at 224²
    # (265–285 s each; the budget may end it at 14), the warm-restart cycles 1 + 2 + 4 + 8,
    # so that thin features (1-px readout streaks, diffuse haloes a few pixels wide) are
    # resolved; 15 at 128² and 7 at 256² scored lower. lr 4e-3: the LR-range test runs
    # with the body frozen and picks the head's rate (4.7e-4), too low for a body trained
    # from scratch.
    "default": dict(arch="resnet18", representation="cartesian", sizes=(64, 128, 224),
                    epochs=(3, 3, 15), batch_size=32, lr=4e-3, time_budget_s=80 * 60),
    "paper": dict(arch="resnet50", representation="cartesian", sizes=(64, 128, 256, 512),
                  epochs=(10, 10, 10, 10), batch_size=16),
    "smoke": dict(arch="resnet18", sizes=(32,), epochs=(1,), frozen_epochs=0, batch_size=8,
                  lr=1e-3),
}
DEFAULT_EPOCHS = 12  # per size, when sizes are given without epochs
