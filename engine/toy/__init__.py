"""The bundled offline model "toy-scenes": procedural scenes, training and export."""
