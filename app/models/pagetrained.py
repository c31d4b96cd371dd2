"""Models trained in the page (app.service.trainings): a training's snapshot while it is kept, or
one saved to the store, built from its card and its weights with the head."""

from __future__ import annotations

import numpy as np

from app.models.zoo import Model, trained_labels


def from_training(model_id: str, card: dict, params: dict[str, np.ndarray], live: bool = False) -> Model:
    """A model trained in the page (app.service.trainings), from its card and its weights with
    the head (`head.weight`, `head.bias`); live: a snapshot of a training still held in memory."""
    weights = {k: v for k, v in params.items() if not k.startswith("head.")}
    head = {k.removeprefix("head."): v for k, v in params.items() if k.startswith("head.")}
    when = f"at step {card['steps']} of {card['settings']['steps']}"
    accuracy = card.get("accuracy")
    right = f": {100 * accuracy:.1f} % right on {card['accuracy_on']}" if accuracy is not None else ""
    return Model(
        id=model_id,
        title=f"{'Training' if live else 'Trained in the page'}: {card['title']} ({when})",
        description=f"{card['description']} Trained in the page by Gatescope's NumPy trainer {when}"
        f"{right}. Replay: {card['command']}",
        hint=card["hint"],
        weights=weights,
        vocab=card["vocab"],
        input_size=len(card["vocab"]),
        example=card.get("example", ""),
        card=card,
        head=head,
        labels=trained_labels(card, head["weight"].shape[0]),
    )
