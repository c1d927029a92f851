"""One module per framework, each imported only when its backend is chosen (training.trainer.BACKENDS)."""
