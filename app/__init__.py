"""Gatescope: every gate of a real LSTM, shown as heatmaps for a sequence you type."""
