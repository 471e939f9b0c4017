"""DiffPure runs end-to-end through diffusers with a tiny random UNet saved like a real model folder."""

import pytest
import torch

from rid_desktop.checks import diffpure
from rid_desktop.checks.diffpure import (
    DIFFPURE_MODEL_ENV,
    configured_model_dir,
    inspect_model_dir,
    load_diffusion_purifier,
)
from rid_desktop.checks.purifiers import parse_purifier
from rid_desktop.errors import ModelError


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_unet():
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=(16, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    """A DDPMPipeline folder (model_index.json + unet/ + scheduler/), weights in safetensors."""
    from diffusers import DDPMPipeline, DDPMScheduler

    folder = tmp_path_factory.mktemp("tiny-ddpm")
    DDPMPipeline(unet=_tiny_unet(), scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(folder)
    assert list(folder.glob("unet/*.safetensors"))
    return folder


def _image(height, width, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    smooth = torch.stack([xx, yy, 0.5 * (xx + yy)])[None]
    return (smooth + 0.02 * torch.randn(1, 3, height, width, generator=g)).clamp(0, 1)


def test_diffpure_purifies_an_odd_sized_image_end_to_end(pipeline_folder):
    model = load_diffusion_purifier(pipeline_folder)
    assert model.info.kind == "unconditional" and model.tile == (32, 32)
    x = _image(24, 40)  # not the UNet's sample size: replicate-padded into two tiles of 32
    y = model.purify(x, t_star=0.1, steps=2, seed=1)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert 0 <= y.min() and y.max() <= 1
    assert (y - x).abs().mean() > 1e-3  # it really went through the diffusion model
    assert torch.equal(y, model.purify(x, t_star=0.1, steps=2, seed=1))  # same seed, same noise
    assert not torch.equal(y, model.purify(x, t_star=0.1, steps=2, seed=2))
    # deeper diffusion = larger departure from the input (the random UNet cannot restore it)
    deep = model.purify(x, t_star=0.6, steps=2, seed=1)
    assert (deep - x).abs().mean() > (y - x).abs().mean()


def test_noise_sigma_picks_the_matching_timestep(pipeline_folder):
    model = load_diffusion_purifier(pipeline_folder)
    alphas = model.scheduler.alphas_cumprod
    t = model.start_timestep(None, 0.15)
    ratio = float(((1 - alphas[t]) / alphas[t]).sqrt())
    assert ratio == pytest.approx(0.30, rel=0.05)  # sigma_y in [-1, 1] units
    assert model.start_timestep(0.1, None) == 100


def test_purifier_specs_use_the_configured_folder(pipeline_folder, monkeypatch):
    monkeypatch.setenv(DIFFPURE_MODEL_ENV, str(pipeline_folder))
    monkeypatch.setattr(diffpure, "DEFAULT_STEPS", 2)
    assert configured_model_dir() == pipeline_folder
    x = _image(16, 16)
    for spec in ("diffpure:0.05", "iwmf-diff"):
        purifier = parse_purifier(spec)
        assert purifier.unavailable is None
        y = purifier(x, seed=0)
        assert y.shape == x.shape and not torch.equal(y, x)


def test_a_bare_unet_folder_is_accepted(tmp_path):
    _tiny_unet().save_pretrained(tmp_path / "bare")
    assert inspect_model_dir(tmp_path / "bare").kind == "unconditional"


def test_pickle_weights_are_refused(tmp_path):
    _tiny_unet().save_pretrained(tmp_path / "pickled", safe_serialization=False)
    assert not list((tmp_path / "pickled").glob("*.safetensors"))
    with pytest.raises(ModelError, match="only safetensors") as info:
        load_diffusion_purifier(tmp_path / "pickled")
    assert "\n" not in str(info.value)


def test_a_ddim_pipeline_folder_keeps_its_scheduler_config(tmp_path):
    from diffusers import DDIMPipeline, DDIMScheduler

    folder = tmp_path / "tiny-ddim"
    DDIMPipeline(unet=_tiny_unet(), scheduler=DDIMScheduler(num_train_timesteps=500)).save_pretrained(folder)
    model = load_diffusion_purifier(folder)
    assert model.info.kind == "unconditional"
    assert model.scheduler.config.num_train_timesteps == 500
    assert model.start_timestep(0.1, None) == 50  # a fraction of *this* model's timesteps
    x = _image(32, 32)
    y = model.purify(x, t_star=0.1, steps=2, seed=0)
    assert y.shape == x.shape and (y - x).abs().mean() > 1e-3


class _FakeImg2Img:
    """Stands in for StableDiffusionImg2ImgPipeline (needs `transformers`): records how it is called."""

    def __init__(self):
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler(num_train_timesteps=1000)
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        noise = torch.randn(kwargs["image"].shape, generator=kwargs["generator"])
        return type("Out", (), {"images": (kwargs["image"] + 0.1 * noise).clamp(0, 1)})()


def test_img2img_wrapper_pads_to_8_runs_at_low_strength_and_crops_back(tmp_path):
    purifier = diffpure.DiffusionPurifier.__new__(diffpure.DiffusionPurifier)
    purifier.info = diffpure.DiffusionModelInfo(tmp_path, "img2img")
    purifier.device = torch.device("cpu")
    purifier.pipeline = fake = _FakeImg2Img()
    x = _image(21, 30)
    y = purifier.purify(x, t_star=0.2, steps=4, seed=3)
    call = fake.calls[-1]
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert tuple(call["image"].shape[-2:]) == (24, 32)  # the VAE needs multiples of 8
    assert call["strength"] == 0.2 and call["num_inference_steps"] == 20  # 4 denoising steps actually run
    assert call["prompt"] == [""] and call["guidance_scale"] == 1.0 and call["output_type"] == "pt"
    assert torch.equal(y, purifier.purify(x, t_star=0.2, steps=4, seed=3))  # seeded generator
    purifier.purify(x, noise_sigma=0.15, seed=0)  # IWMF-Diff: strength from the noise level
    alphas = fake.scheduler.alphas_cumprod
    t = round(fake.calls[-1]["strength"] * len(alphas)) - 1
    assert float(((1 - alphas[t]) / alphas[t]).sqrt()) == pytest.approx(0.30, rel=0.05)


def test_stable_diffusion_folder_is_recognised_and_load_errors_are_one_line(tmp_path):
    import json

    folder = tmp_path / "sd"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionImg2ImgPipeline", "vae": ["diffusers", "AutoencoderKL"],
        "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
    }))
    assert inspect_model_dir(folder).kind == "img2img"
    with pytest.raises(ModelError) as info:  # missing transformers, or broken components: one clear line
        diffpure.DiffusionPurifier(folder)
    assert "\n" not in str(info.value) and "sd" in str(info.value)
