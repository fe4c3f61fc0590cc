"""Rank candidates against their prompt with a CLIP model (cosine of text and image embeddings)."""

from __future__ import annotations

from pathlib import Path


class ClipScorer:
    def __init__(self, model, tokenizer, image_processor, device: str):
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.device = device

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "ClipScorer":
        from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

        model = CLIPModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
        processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
        return cls(model, tokenizer, processor, device)

    def score(self, images, prompt: str) -> list[float]:
        """Cosine similarity of each PIL image with `prompt`, in the order given."""
        import torch

        with torch.inference_mode():
            text = self.tokenizer([prompt], padding=True, truncation=True, return_tensors="pt").to(self.device)
            pixels = self.image_processor(images=list(images), return_tensors="pt")["pixel_values"].to(self.device)
            text_embeds = _embeds(self.model.get_text_features(**text))
            image_embeds = _embeds(self.model.get_image_features(pixel_values=pixels))
            text_embeds = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
            image_embeds = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
            return (image_embeds @ text_embeds.T).squeeze(-1).float().cpu().tolist()

    def image_embeddings(self, images):
        """Unit-length image embeddings (N x D numpy) of PIL images: the vision tower alone, for
        comparing images with each other (a clip's identity to its references)."""
        import torch

        with torch.inference_mode():
            pixels = self.image_processor(images=list(images), return_tensors="pt")["pixel_values"].to(self.device)
            embeds = _embeds(self.model.get_image_features(pixel_values=pixels))
            return (embeds / embeds.norm(dim=-1, keepdim=True)).float().cpu().numpy()


def _embeds(output):
    # transformers 5 may return a model output object where 4.x returned a tensor
    return output if hasattr(output, "norm") else output.pooler_output
