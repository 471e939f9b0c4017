"""The official RID perturbation network (Guo et al., arXiv 2412.09844), able to load the published weights.

RID ("Real-time Identity Defenses") trains a DiT to map a photo to a protective perturbation in one
forward pass. The authors publish checkpoints (``torch.save`` of ``DiT(scale=...).state_dict()``,
e.g. ``noise_model_modules.bin``) on Google Drive; users supply the file, we never download it.

Layout matched (state-dict key names and shapes, strict loading): ``libs/DiT.py`` of
github.com/Guohanzhong/RID, i.e. facebookresearch/DiT ``models.py`` with timm 0.9 building blocks::

    x_embedder.proj.{weight,bias}            Conv2d(3, 1152, 16, stride 16)      (timm PatchEmbed)
    t_embedder.mlp.{0,2}.{weight,bias}       Linear(256, 1152), Linear(1152, 1152)   (unused)
    y_embedder.embedding_table.weight        (1001, 1152)                        (unused)
    pos_embed                                (1, 1024, 1152) fixed 2-D sin-cos, stored as a Parameter
    blocks.N.attn.qkv / attn.proj            timm Attention, qkv_bias=True
    blocks.N.mlp.fc1 / mlp.fc2               timm Mlp, GELU(tanh)
    blocks.N.adaLN_modulation.1              Linear(1152, 6 * 1152)
    final_layer.linear                       Linear(1152, 16 * 16 * 3)
    final_layer.adaLN_modulation.1           Linear(1152, 2 * 1152)

The LayerNorms have no affine parameters, so they have no keys. The conditioning vector ``c`` is all
zeros (RID is unconditional), so the adaLN modulations reduce to their biases; the unused timestep and
label embedders are kept only because the published state dicts contain them.

Units — the part that is easy to get wrong: the official code normalises images to [-1, 1]
(``Normalize([0.5], [0.5])``), ends with ``tanh(x) * scale`` and adds that directly to the [-1, 1]
image; ``infer.py --eps 12`` means ``scale = 12/255`` *in [-1, 1] units*, which is **6/255 in [0, 1]
pixel units** (a [-1, 1] step is twice as large as a [0, 1] step). :class:`OfficialRIDGenerator`
takes and returns [0, 1] pixel units everywhere, so its ``forward(x01, eps01)`` returns
``tanh(net(2 * x01 - 1)) * eps01``, identical to half the official output at ``scale = 2 * eps01``.
Use :func:`official_scale_to_pixel_eps` to translate the paper's budgets.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rid_desktop.errors import ModelError

OFFICIAL_INPUT_SIZE = 512
OFFICIAL_PATCH_SIZE = 16
OFFICIAL_HIDDEN_SIZE = 1152
OFFICIAL_DEPTH = 14
OFFICIAL_NUM_HEADS = 8
OFFICIAL_MLP_RATIO = 4.0
OFFICIAL_NUM_CLASSES = 1000  # DiT's label embedder: 1000 classes + 1 "dropped label" row
FREQUENCY_EMBEDDING_SIZE = 256
OFFICIAL_DEFAULT_SCALE = 12 / 255  # infer.py's default --eps 12, in the official [-1, 1] units

# Keys whose presence identifies the official layout (any depth/width).
_SIGNATURE_KEYS = (
    "x_embedder.proj.weight",
    "pos_embed",
    "t_embedder.mlp.0.weight",
    "y_embedder.embedding_table.weight",
    "blocks.0.attn.qkv.weight",
    "blocks.0.adaLN_modulation.1.weight",
    "final_layer.linear.weight",
    "final_layer.adaLN_modulation.1.weight",
)


def official_scale_to_pixel_eps(scale_pm1: float) -> float:
    """Official ``tanh * scale`` budget in [-1, 1] image units -> L-inf budget in [0, 1] pixel units."""
    return scale_pm1 / 2.0


def pixel_eps_to_official_scale(eps01: float) -> float:
    """L-inf budget in [0, 1] pixel units -> the official network's ``scale`` in [-1, 1] units."""
    return eps01 * 2.0


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation. x: (B, T, D); shift, scale: (B, D)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def sincos_pos_embed_2d(embed_dim: int, grid_size: int) -> torch.Tensor:
    """DiT/MAE fixed 2-D sine-cosine position embedding. Returns (grid_size**2, embed_dim), float32.

    As in MAE/DiT, the first half of the channels encodes the column index and the second half the row
    index (their ``meshgrid(w, h)`` order), so a freshly built model equals the tensor stored in
    official checkpoints. Token order is row-major, matching ``flatten(2)`` of the patch grid.
    """
    if embed_dim % 4:
        raise ValueError(f"embed_dim must be a multiple of 4, got {embed_dim}")
    coords = torch.arange(grid_size, dtype=torch.float64, device="cpu")
    grid_w, grid_h = torch.meshgrid(coords, coords, indexing="xy")  # numpy meshgrid(w, h) order

    def one_axis(dim: int, pos: torch.Tensor) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64, device="cpu") / (dim / 2.0))
        out = pos.reshape(-1, 1) * omega.reshape(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

    emb = torch.cat([one_axis(embed_dim // 2, grid_w), one_axis(embed_dim // 2, grid_h)], dim=1)
    return emb.float()


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens. (B, C, H, W) -> (B, (H/p)*(W/p), D). Keys: ``proj``."""

    def __init__(self, patch_size: int, in_channels: int, hidden_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, hidden_size, kernel_size=patch_size, stride=patch_size, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    """Present only for state-dict compatibility: RID never feeds a timestep. Keys: ``mlp.0``, ``mlp.2``."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = FREQUENCY_EMBEDDING_SIZE):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )


class LabelEmbedder(nn.Module):
    """Present only for state-dict compatibility (DiT class labels + CFG null row). Key: ``embedding_table``."""

    def __init__(self, num_classes: int, hidden_size: int):
        super().__init__()
        # _weight skips nn.Embedding's normal_ init, which is very slow on the meta device (used to
        # build the 343 M-parameter network without allocating it before loading a checkpoint).
        weight = torch.empty(num_classes + 1, hidden_size)
        self.embedding_table = nn.Embedding(num_classes + 1, hidden_size, _weight=weight)
        if not weight.is_meta:
            nn.init.normal_(self.embedding_table.weight, std=0.02)


class Attention(nn.Module):
    """Multi-head self-attention with timm's ``qkv``/``proj`` layout. (B, T, D) -> (B, T, D)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden size {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    """timm ``Mlp`` layout (``fc1``, tanh-GELU, ``fc2``). (B, T, D) -> (B, T, D)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero conditioning. x: (B, T, D), c: (B, D)."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    """Modulated LayerNorm + linear to one patch of pixels per token. (B, T, D) -> (B, T, p*p*C)."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class OfficialRIDGenerator(nn.Module):
    """The official RID DiT generator; defaults are the published architecture.

    The reduced-size arguments exist so tests can exercise the same code cheaply; real checkpoints
    only fit the defaults. (No attribute is called ``config``: the ``rid`` engine uses that name to tell
    our compact generators from this one.)

    Args:
        input_size: square input side in pixels; the position embedding is fixed to it (512).
        patch_size, hidden_size, depth, num_heads, mlp_ratio: DiT hyper-parameters (16, 1152, 14, 8, 4).
        num_classes: size of the (unused) label embedder, 1000 as in DiT.
    """

    def __init__(
        self,
        input_size: int = OFFICIAL_INPUT_SIZE,
        patch_size: int = OFFICIAL_PATCH_SIZE,
        hidden_size: int = OFFICIAL_HIDDEN_SIZE,
        depth: int = OFFICIAL_DEPTH,
        num_heads: int = OFFICIAL_NUM_HEADS,
        mlp_ratio: float = OFFICIAL_MLP_RATIO,
        num_classes: int = OFFICIAL_NUM_CLASSES,
        in_channels: int = 3,
    ):
        super().__init__()
        if input_size % patch_size:
            raise ValueError(f"input size {input_size} is not a multiple of the patch size {patch_size}")
        self.input_size = input_size
        self.patch_size = patch_size
        self.hidden_size = hidden_size
        self.in_channels = self.out_channels = in_channels
        self.grid_size = input_size // patch_size

        self.x_embedder = PatchEmbed(patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size)
        # A Parameter (not a buffer) with requires_grad=False, exactly as the official code: it is in the state dict.
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid_size**2, hidden_size), requires_grad=False)
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth))
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)
        if not self.pos_embed.is_meta:  # meta: shapes only, the checkpoint provides the values
            with torch.no_grad():
                self.pos_embed.copy_(sincos_pos_embed_2d(hidden_size, self.grid_size).unsqueeze(0))

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, p*p*C) -> (B, C, H, W), with the official (h, w, p, q, c) token layout."""
        p, c, g = self.patch_size, self.out_channels, self.grid_size
        x = x.reshape(x.shape[0], g, g, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, g * p, g * p)

    def raw_output(self, x_pm1: torch.Tensor) -> torch.Tensor:
        """Pre-tanh network output. x_pm1: (B, 3, S, S) in [-1, 1] -> (B, 3, S, S), unbounded."""
        if x_pm1.ndim != 4 or x_pm1.shape[1] != self.in_channels or x_pm1.shape[-2:] != (self.input_size,) * 2:
            raise ValueError(
                f"the official RID network takes (B, {self.in_channels}, {self.input_size}, {self.input_size}) "
                f"tiles, got {tuple(x_pm1.shape)}"
            )
        # fp32 even inside a caller's bf16 autocast (the rid engine's on CUDA): the official inference
        # runs fp32, and the bf16 difference on real weights has not been measured (no GPU here).
        with _full_precision(x_pm1.device):
            x = self.x_embedder(x_pm1.float()) + self.pos_embed
            c = x.new_zeros(x.shape[0], self.hidden_size)  # RID's constant "no timestep, no label" conditioning
            for block in self.blocks:
                x = block(x, c)
            return self.unpatchify(self.final_layer(x, c))

    def forward_official(self, x_pm1: torch.Tensor, scale_pm1: float = OFFICIAL_DEFAULT_SCALE) -> torch.Tensor:
        """Exactly the official ``DiT(scale=scale_pm1)(x)``: perturbation in [-1, 1] units, |out| <= scale_pm1."""
        return torch.tanh(self.raw_output(x_pm1)) * scale_pm1

    def forward(self, x01: torch.Tensor, eps01: float) -> torch.Tensor:
        """Perturbation for an image in [0, 1].

        Args:
            x01: RGB in [0, 1]. Shape (B, 3, 512, 512) (``input_size``).
            eps01: L-inf budget in [0, 1] pixel units (official ``--eps 12`` == ``eps01 = 6/255``).

        Returns:
            Perturbation in [0, 1] pixel units, same shape, ``|p| <= eps01``.
        """
        # official: tanh(net(x_pm1)) * (2 * eps01) in [-1, 1] units; halving converts to [0, 1] units.
        return torch.tanh(self.raw_output(x01 * 2.0 - 1.0)) * eps01


def _full_precision(device: torch.device):
    """Autocast switched off on ``device``'s backend (a no-op context where autocast does not exist)."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a backend without autocast support
        return contextlib.nullcontext()


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that DataParallel/DDP checkpoints carry (only when every key has it)."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def looks_like_official_rid(state_dict: dict) -> bool:
    """True if the state dict has the official RID/DiT key layout (shapes are checked when loading)."""
    from rid_desktop.models.loading import unwrap_weights

    if not isinstance(state_dict, dict):
        return False
    try:
        state_dict = unwrap_weights(state_dict).state
    except ModelError:
        return False
    keys = set(strip_module_prefix(state_dict))
    return all(k in keys for k in _SIGNATURE_KEYS)


def load_official_rid(
    source: str | Path | dict[str, torch.Tensor], *, name: str | None = None, part: str | None = None, **arch
) -> OfficialRIDGenerator:
    """Build the official network and load a user-supplied checkpoint with strict key and shape matching.

    Args:
        source: a checkpoint path, read only via :func:`rid_desktop.models.loading.load_state_dict`
            (safetensors or ``torch.load(weights_only=True)``), or a checkpoint already read that way
            (saves reading a 1.4 GB file twice). Training-checkpoint wrappers are unwrapped, ``ema``
            preferred over ``model`` (see :func:`rid_desktop.models.loading.unwrap_weights`); a
            ``module.`` prefix is stripped here.
        name: what to call the checkpoint in error messages (default: the file name).
        part: ``"ema"`` or ``"model"`` to pick that part of a training checkpoint (default: ema if present).
        arch: architecture overrides for tests; real checkpoints only fit the defaults.

    Returns:
        The network on CPU, in eval mode, with gradients off.

    Raises:
        ModelError: unreadable file, not the RID layout, or keys/shapes that do not fit.
    """
    from rid_desktop.models.loading import read_weights, unwrap_weights

    if isinstance(source, dict):
        label = name or "the checkpoint"
        state = unwrap_weights(source, part, label).state
    else:
        label = name or Path(source).name
        state = read_weights(source, part).state
    state = strip_module_prefix(state)
    if not looks_like_official_rid(state):
        missing = [k for k in _SIGNATURE_KEYS if k not in state]
        raise ModelError(
            f"{label} is not an official RID checkpoint (missing {', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''})"
        )
    with torch.device("meta"):
        net = OfficialRIDGenerator(**arch)
    expected = net.state_dict()
    problems = _layout_problems(expected, state)
    if problems:
        raise ModelError(f"{label} does not fit the official RID network: {problems}")
    try:  # assign: the meta placeholders are replaced by the checkpoint's tensors, no second copy in memory
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:  # defensive: _layout_problems should have caught everything
        raise ModelError(f"{label} does not fit the official RID network: {_one_line(exc)}") from exc
    return net.float().eval().requires_grad_(False)


def _layout_problems(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str:
    """One line naming missing/unexpected keys and shape mismatches; empty when the layout fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
