"""Models: the model type, the built-in and trained models, uploaded files, model versions."""
