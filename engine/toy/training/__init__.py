"""Training and export of the bundled toy-scenes models (checkout only: not in the wheel, see setup.py).

    python -m engine.toy.training.train --out runs/toy --minutes 115
    python -m engine.toy.training.export --run runs/toy --dest resources/models
"""
