"""The NumPy engine: the LSTM, weight layouts, interventions, and the quantities views explain."""
