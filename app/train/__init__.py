"""Training LSTMs in NumPy: backpropagation through time, Adam, toy tasks, and the CLI."""
