from engine.models.cache import ModelCache
from engine.models.loader import module_bytes
from engine.models.registry import ModelRegistry


def test_pipelines_are_cached_and_share_components(kit):
    cache = ModelCache(ModelRegistry(bundled_dir=kit), device="cpu")
    spec = cache.registry.resolve("tiny-sd1")
    txt2img = cache.pipeline(spec, "txt2img")
    assert cache.pipeline(spec, "txt2img") is txt2img
    img2img = cache.pipeline(spec, "img2img")
    inpaint = cache.pipeline(spec, "inpaint")
    assert type(img2img).__name__ == "StableDiffusionImg2ImgPipeline"
    assert type(inpaint).__name__ == "StableDiffusionInpaintPipeline"
    assert img2img.unet is txt2img.unet and inpaint.vae is txt2img.vae and img2img.text_encoder is txt2img.text_encoder
    assert cache.loads == 1
    assert cache.used_bytes() == module_bytes(txt2img) > 0


def test_least_recently_used_is_evicted_under_a_memory_limit(kit):
    registry = ModelRegistry(bundled_dir=kit)
    probe = ModelCache(registry, device="cpu")
    one_model = module_bytes(probe.pipeline(registry.resolve("tiny-sd1")))
    cache = ModelCache(registry, device="cpu", max_bytes=int(one_model * 2.5))
    sd1, sd2, sdxl = (registry.resolve(i) for i in ("tiny-sd1", "tiny-sd2", "tiny-sdxl"))
    cache.pipeline(sd1)
    cache.pipeline(sd2)
    cache.pipeline(sd1)  # sd1 is now the most recently used
    cache.pipeline(sdxl)  # needs room: sd2 goes first
    assert cache.loaded() == ["tiny-sd1", "tiny-sdxl"]
    assert cache.used_bytes() <= cache.max_bytes
    loads = cache.loads
    cache.pipeline(sd1)
    assert cache.loads == loads  # still cached, not read again
