"""vbbench: dataset curation and evaluation benchmark for portrait-matting models.

The package follows the data flow, one module per stage (see docs/architecture.md):
sources/download → verify → split → variants → models/predict → metrics/score →
browse / leaderboard. ``cli.py`` only parses arguments and delegates.
"""

__version__ = "0.1.0"
