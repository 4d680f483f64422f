"""SAGAN: self-attention, spectral norm, conditional batch norm, projection D, steps, EMA, attention maps."""
import numpy as np
import pytest
import torch
from torch import nn

from ganhelpers import sagan
from ganhelpers.__main__ import main
from ganhelpers.data import ImageSet
from ganhelpers.models import MODELS
from ganhelpers.sagan import (EMA, ConditionalBatchNorm2d, SAGANDiscriminator, SAGANGenerator, SelfAttention,
                              attention_for_query, generator_attention, sagan_steps)
from ganhelpers.train import TrainConfig, Trainer

SHAPES = [(1, 28, 28), (3, 32, 32)]


def tiny_data(shape, n=16):
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g),
                    torch.arange(n) % 10, [str(k) for k in range(10)], "tiny")


@pytest.mark.parametrize("n_classes", [10, 0])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes(shape, n_classes):
    torch.manual_seed(0)
    G = SAGANGenerator(16, shape, n_classes, base=8)
    D = SAGANDiscriminator(shape, n_classes, base=8)
    labels = torch.arange(5) % 10 if n_classes else None
    fake = G(torch.randn(5, 16), labels)
    assert fake.shape == (5, *shape) and fake.abs().max() <= 1
    assert D(fake, labels).shape == (5,)
    assert G.attention is not None and D.attention is not None
    assert D.features(fake).shape == (5, 4 * 8 * (7 * 7 if shape[1] == 28 else 4 * 4))


def test_attention_levels_and_bad_input():
    assert SAGANGenerator(img_shape=(1, 28, 28), base=8).attn_res == 14
    assert SAGANGenerator(img_shape=(3, 32, 32), base=8).attn_res == 16
    assert SAGANGenerator(img_shape=(1, 28, 28), base=8, attn_res=None).attention is None
    assert SAGANDiscriminator((1, 28, 28), base=8).attn_res == 7
    assert SAGANDiscriminator((3, 32, 32), base=8).attn_res == 8
    assert SAGANDiscriminator((1, 28, 28), base=8, attn_res=14).attn_res == 14
    with pytest.raises(ValueError, match="choose one of"):
        SAGANGenerator(img_shape=(1, 28, 28), attn_res=28)  # full resolution: too costly, refused
    with pytest.raises(ValueError, match="28- or 32-pixel"):
        SAGANGenerator(img_shape=(1, 64, 64))
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8)
    with pytest.raises(ValueError, match="pass labels"):
        G(torch.randn(2, 16))
    with pytest.raises(ValueError, match="shape"):
        G(torch.randn(2, 16), torch.zeros(3, dtype=torch.long))


def test_attention_rows_sum_to_one():
    torch.manual_seed(0)
    block = SelfAttention(16)
    block.keep_attention = True
    block(torch.randn(3, 16, 5, 6))
    beta = block.attention  # (B, N, N)
    assert beta.shape == (3, 30, 30) and (beta >= 0).all()
    assert torch.allclose(beta.sum(dim=-1), torch.ones(3, 30), atol=1e-5)


def test_attention_starts_as_identity_and_then_reaches_far():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert block.gamma.item() == 0 and torch.equal(block(x), x)  # gamma = 0: exactly the identity
    with torch.no_grad():
        block.gamma.fill_(1.0)
    block.eval()
    moved = x.clone()
    moved[:, :, 0, 0] += 3.0  # change one corner pixel
    change = (block(moved) - block(x)).abs()[:, :, 7, 7]  # ... and look at the opposite corner
    assert change.max() > 1e-3  # one layer of attention links any two positions; a 3x3 conv would not


def test_attention_matches_its_formula():
    torch.manual_seed(0)
    block = SelfAttention(16, spectral=False)
    with torch.no_grad():
        block.gamma.fill_(0.5)
    x = torch.randn(2, 16, 4, 4)
    flat = x.flatten(2)  # (B, C, N)
    f, g, h = (layer.weight[:, :, 0, 0] @ flat for layer in (block.f, block.g, block.h))  # (B, C', N)
    out = x.clone().flatten(2)
    for b in range(2):
        for j in range(16):
            beta = torch.softmax(f[b].T @ g[b][:, j], dim=0)  # (N,): softmax over i of f(x_i) . g(x_j)
            out[b, :, j] += 0.5 * block.v.weight[:, :, 0, 0] @ (h[b] @ beta)
    assert torch.allclose(block(x), out.view_as(x), atol=1e-5)


def _top_singular_value(layer):
    dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # torch's choice of "output" dimension
    with torch.no_grad():
        matrix = layer.weight.movedim(dim, 0).flatten(1)  # the normalised weight, as a matrix
    return torch.linalg.matrix_norm(matrix, ord=2).item()


def test_spectral_norm_brings_the_top_singular_value_to_one():
    torch.manual_seed(0)
    for layer in (nn.Linear(40, 30), nn.Conv2d(8, 16, 3), nn.ConvTranspose2d(16, 8, 4, 2, 1)):
        with torch.no_grad():
            layer.weight.mul_(7.0)  # far from 1 to start with
        layer = sagan.sn(layer)  # torch runs 15 power iterations here, then one per training-mode forward
        x = torch.randn(2, *((40,) if isinstance(layer, nn.Linear) else (layer.in_channels, 6, 6)))
        early = _top_singular_value(layer)
        for _ in range(300):
            layer(x)
        late = _top_singular_value(layer)
        # power iteration underestimates sigma (u.Wv <= sigma), so W / estimate has sigma >= 1, and the
        # estimate converges as (sigma_2 / sigma_1)^k: slowly for random matrices, whose top gap is small
        assert 1 - 1e-5 <= late <= early and late < 1.01, (type(layer).__name__, early, late)
        raw = layer.parametrizations.weight.original
        assert torch.linalg.matrix_norm(raw.detach().flatten(1), ord=2) > 2  # the raw weight is untouched
        layer.eval()  # eval mode reuses the last estimate: no more iterations
        assert _top_singular_value(layer) == pytest.approx(late, abs=1e-6)


def test_both_networks_are_spectrally_normalised():
    G, D = sagan.build_sagan((1, 28, 28), 10, 16, base=8)
    # the class embedding and CBN's maps to gamma/beta are not weight layers of the signal path (and
    # W = 0 at the start has no top singular value to divide by): everything else is normalised
    conditioning = {id(m) for norm in G.norms for m in norm.modules()} | {id(G.class_embed)}
    for net in (G, D):
        weighted = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))
                    and id(m) not in conditioning]
        assert len(weighted) >= 6 and all(hasattr(m, "parametrizations") for m in weighted)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_conditional_batch_norm_uses_the_label():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, embed_dim=3)
    x = torch.randn(6, 4, 5, 5)
    e = torch.eye(3)[[0, 1, 2, 0, 1, 2]]  # one-hot class vectors: the table-per-class special case
    assert torch.allclose(cbn(x, e), cbn.bn(x), atol=1e-6)  # W = 0 at the start: gamma = 1, beta = 0
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.tensor([0.0, 1.0, 2.0]).expand(4, 3))   # gamma_y = 1, 2, 3
        cbn.bias.weight.copy_(torch.tensor([0.0, -1.0, 5.0]).expand(4, 3))  # beta_y = 0, -1, 5
    out, normed = cbn(x, e), cbn.bn(x)
    for k, (g, b) in enumerate([(1, 0), (2, -1), (3, 5)]):
        rows = e[:, k] == 1
        assert torch.allclose(out[rows], g * normed[rows] + b, atol=1e-5)
    plain = ConditionalBatchNorm2d(4, embed_dim=0)  # unconditional: ordinary affine batch norm
    assert torch.equal(plain(x, None), plain.bn(x)) and plain.bn.affine


def test_generator_uses_the_label():
    torch.manual_seed(0)
    z = torch.randn(1, 16).repeat(10, 1)  # one z, ten classes
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8).eval()
    images = G(z, torch.arange(10))
    assert torch.allclose(images, images[:1].expand_as(images))  # W = 0: no effect of the label at the start
    G.train()
    G(z, torch.arange(10)).square().mean().backward()  # ... but every class's path learns at once
    assert all(norm.gain.weight.grad.abs().sum() > 0 and norm.bias.weight.grad.abs().sum() > 0 for norm in G.norms)
    assert G.class_embed.weight.grad is not None  # (zero now: it is reached through W, which starts at 0)
    with torch.no_grad():
        for norm in G.norms:
            norm.gain.weight.normal_(0, 0.1)
    images = G.eval()(z, torch.arange(10))
    assert (images[1:] - images[:1]).abs().flatten(1).amax(1).min() > 1e-4  # now every class changes the picture
    labelled = SAGANGenerator(16, (1, 28, 28), 10, base=8, label_input=True).eval()
    assert labelled.fc.parametrizations.weight.original.shape[1] == 16 + 128  # [z, e_y] at the input
    images = labelled(z, torch.arange(10))
    assert (images[1:] - images[:1]).abs().flatten(1).amax(1).min() > 1e-4  # the label acts from the start


def test_projection_discriminator_formula_and_label_effect():
    torch.manual_seed(0)
    D = SAGANDiscriminator((1, 28, 28), 10, base=8).eval()
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    phi = D.features(x)  # (B, F)
    expected = D.psi(phi).squeeze(1) + (D.embed.weight[labels] * phi).sum(1)
    assert torch.allclose(D(x, labels), expected, atol=1e-5)
    assert not torch.allclose(D(x, labels), D(x, labels.flip(0)))  # the label changes the score


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_steps_return_finite_losses_and_train(shape, loss):
    torch.manual_seed(0)
    G, D = sagan.build_sagan(shape, 10, 16, base=8)
    config = TrainConfig(steps=2, batch_size=4, lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9), log_every=1,
                         progress=False, device="cpu")
    before = [p.detach().clone() for p in D.parameters()]
    history = Trainer(G, D, *sagan_steps(loss), tiny_data(shape), config).fit()
    for key in ("loss_D", "loss_G", "D_real", "D_fake"):
        assert np.isfinite(history[key]).all(), key
    assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters()))
    with pytest.raises(ValueError, match="hinge"):
        sagan_steps("bce-ish")


def test_hinge_step_value():
    torch.manual_seed(0)
    G, D = sagan.build_sagan((1, 28, 28), 10, 16, base=8)
    G.eval(), D.eval()  # frozen SN estimates and BN statistics: two calls give the same numbers
    d_step, _ = sagan_steps("hinge")
    real, labels = torch.rand(4, 1, 28, 28) * 2 - 1, torch.arange(4)

    class Stub:
        D_probabilities = True
    torch.manual_seed(1)
    out = d_step(G, D, real, labels, Stub)
    torch.manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(4, 16), labels)
    expected = torch.relu(1 - D(real, labels)).mean() + torch.relu(1 + D(fake, labels)).mean()
    assert torch.allclose(out["loss_D"], expected, atol=1e-5) and Stub.D_probabilities is False


def test_registry_entry():
    spec = MODELS["sagan"]
    assert spec.conditional and spec.check((1, 28, 28)) is None and spec.check((3, 32, 32)) is None
    assert spec.check((2,)) is not None
    assert spec.defaults["lr_D"] == 4e-4 and spec.defaults["lr_G"] == 1e-4 and spec.defaults["betas"] == (0.0, 0.9)
    G, D = spec.build((1, 28, 28), 10, 100)
    assert isinstance(G, SAGANGenerator) and G.n_classes == 10 and isinstance(D, SAGANDiscriminator)
    assert G.attn_res == D.attn_res == 7 and spec.build((3, 32, 32), 10, 100)[0].attn_res == 8


def test_ema_callback(tmp_path):
    torch.manual_seed(0)
    G, D = sagan.build_sagan((1, 28, 28), 10, 16, base=8)
    config = TrainConfig(steps=3, batch_size=4, lr_G=1e-2, lr_D=4e-4, betas=(0.0, 0.9), log_every=1,
                         progress=False, device="cpu", out_dir=str(tmp_path))
    start = {k: v.clone() for k, v in G.state_dict().items()}
    ema = EMA(decay=0.5)
    trainer = Trainer(G, D, *sagan_steps(), tiny_data((1, 28, 28)), config, callbacks=[ema])
    updates = []  # G's weights after each step, to replay the average by hand

    class Record(sagan.Callback):
        def on_step_end(self, trainer):
            updates.append(trainer.G.fc.parametrizations.weight.original.detach().clone())
    trainer.callbacks.append(Record())
    trainer.fit()
    expected = start["fc.parametrizations.weight.original"]
    for w in updates:
        expected = 0.5 * expected + 0.5 * w
    assert torch.allclose(ema.G_ema.fc.parametrizations.weight.original, expected, atol=1e-6)
    assert not torch.allclose(expected, updates[-1])  # the average lags behind G
    for name, buffer in G.named_buffers():
        assert torch.equal(ema.G_ema.get_buffer(name), buffer), name  # BN statistics and SN vectors copied
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["callbacks"]["0.EMA"]["G_ema"]  # with the weights
    assert torch.allclose(saved["fc.parametrizations.weight.original"], expected, atol=1e-6)
    assert ema.sample(torch.randn(2, 16), torch.tensor([1, 2])).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)


def test_attention_maps_for_a_query():
    torch.manual_seed(0)
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8)
    images, beta = generator_attention(G, torch.randn(3, 16), torch.tensor([0, 1, 2]))
    assert images.shape == (3, 1, 28, 28) and beta.shape == (3, 196, 196)
    assert G.attention.attention is None and G.training  # the block and the mode are restored
    weights = attention_for_query(beta, (27, 0), 28)  # bottom-left pixel: cell (13, 0) of the 14x14 map
    assert weights.shape == (3, 28, 28)
    assert torch.allclose(weights.sum(dim=(1, 2)), torch.full((3,), 4.0), atol=1e-4)  # 2x2 pixels per cell
    assert torch.allclose(weights[:, ::2, ::2].flatten(1), beta[:, 13 * 14 + 0], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        attention_for_query(beta, (28, 0), 28)
    fig = sagan.plot_attention(images[:2], beta[:2], [(5, 5), (20, 14)])
    assert len(fig.axes) == 2 * 3


def test_cli_trains_and_samples_by_class(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "sagan", "--dataset", "mnist-5k", "--steps", "2", "--batch-size", "8", "--out", str(run),
                 "--device", "cpu"]) == 0
    assert main(["sample", str(run), "--labels", "all", "--n", "20", "--out", str(tmp_path / "s.npz")]) == 0
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (20, 1, 28, 28)
    assert list(arrays["labels"]) == [k for k in range(10) for _ in range(2)]  # one row of the grid per class
    assert main(["sample", str(run), "--labels", "7", "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
