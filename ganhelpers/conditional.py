"""Class-conditional GANs: the conditional GAN (cGAN) and the auxiliary-classifier GAN (AC-GAN).

Both generators take the class as a second input, `G(z, labels)`: z (B, z_dim), labels (B,) int64 in
[0, n_classes) -> images (B, C, H, W) in [-1, 1]. The discriminators differ in where the label goes:

- cGAN (Mirza & Osindero 2014), the critic is *told* the class: a learned embedding of the label,
  reshaped to one extra image plane (1, H, W), is stacked onto the image's channels, and the critic
  scores the pair (image, class). Trained here with WGAN-GP (`steps.wgan_gp_steps` fits as it is:
  it passes `labels` to G, to the critic and to the gradient penalty).
- AC-GAN (Odena, Olah & Shlens 2017), the discriminator is *not* told the class: it has to guess it.
  One trunk, two heads: a real/fake logit (the source S) and K class logits (the class C).
  `forward(x)` returns both: (source_logits (B,), class_logits (B, K)).

`class_report` measures what a conditional generator does per class with the offline judge: how often
the judge agrees with the requested class, how sure it is, and how varied each class is compared with
real images of that class (AC-GAN's known weakness is the last one).

    G, D = build_cgan((1, 28, 28), n_classes=10, z_dim=100)
    d_step, g_step = wgan_gp_steps()
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import nets
from .losses import d_loss_bce, g_loss_nonsaturating


def check_labels(labels, n_classes: int, batch_size: int) -> torch.Tensor:
    """labels as an int64 tensor (B,) in [0, n_classes); a clear error for a missing or bad one."""
    if labels is None:
        raise ValueError("a conditional network needs the class of every sample: call it as G(z, labels) "
                         f"or D(x, labels) with labels of shape ({batch_size},) in [0, {n_classes})")
    labels = torch.as_tensor(labels)
    if labels.shape != (batch_size,) or labels.is_floating_point():
        raise ValueError(f"labels must be whole numbers of shape ({batch_size},), got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    # the range check reads the values (a host sync on a GPU): only on the CPU, where it costs nothing
    if labels.device.type == "cpu" and len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    return labels.long()


class ConditionalGenerator(nn.Module):
    """DCGAN generator fed [z, embedding(label)]: (B, z_dim) and (B,) -> (B, C, H, W) in [-1, 1].

    The label goes through a learned table `nn.Embedding(n_classes, embed_dim)` (rows start as N(0, 1),
    the scale of z) and is concatenated to z, so the first transposed convolution sees z_dim + embed_dim
    input channels. A one-hot vector would do the same job with a fixed identity table.
    """

    def __init__(self, z_dim: int = 100, img_shape=(1, 28, 28), n_classes: int = 10, base: int = 64,
                 embed_dim: int = 16):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes}: a conditional generator needs at least 2 classes")
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), n_classes
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.body = nets.DCGANGenerator(z_dim + embed_dim, img_shape, base)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, z.size(0)).to(z.device)
        return self.body(torch.cat([z, self.embed(labels)], dim=1))  # (B, z_dim + embed_dim) -> (B, C, H, W)


class ConditionalCritic(nn.Module):
    """cGAN critic: the label as an extra image channel. (B, C, H, W), (B,) -> scores (B,).

    `nn.Embedding(n_classes, H * W)` gives every class a learned plane, reshaped to (1, H, W) and
    concatenated to the image, so the first convolution sees C + 1 channels and can compare the strokes
    with the class everywhere in the picture. Its rows start as N(0, 1), the scale of images in [-1, 1].
    The body is the DCGAN discriminator; `norm="layer"` by default because the WGAN-GP penalty is per
    sample and batch norm would mix the samples of a batch (see notebook 04).
    """

    def __init__(self, img_shape=(1, 28, 28), n_classes: int = 10, base: int = 64, norm: str = "layer"):
        super().__init__()
        c, h, w = nets._check_shape(img_shape)
        self.img_shape, self.n_classes = (c, h, w), n_classes
        self.embed = nn.Embedding(n_classes, h * w)
        self.body = nets.DCGANDiscriminator((c + 1, h, w), base, norm=norm)

    def label_plane(self, labels: torch.Tensor) -> torch.Tensor:
        """The class as one image plane: (B,) -> (B, 1, H, W)."""
        _, h, w = self.img_shape
        return self.embed(labels).view(-1, 1, h, w)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, x.size(0)).to(x.device)
        plane = self.label_plane(labels).to(x.dtype)  # (B, 1, H, W)
        return self.body(torch.cat([x, plane], dim=1))  # (B, C + 1, H, W) -> (B,)


class ACGANDiscriminator(nn.Module):
    """AC-GAN discriminator: one DCGAN trunk, a source head and a class head.

    forward(x, labels=None): x (B, C, H, W) -> (source_logits (B,), class_logits (B, n_classes)).
    `labels` is accepted for the common signature and ignored: the class is what D has to find out.
    Both heads are one convolution over the trunk's last map (4x4 at 32 pixels, 7x7 at 28).
    """

    def __init__(self, img_shape=(1, 28, 28), n_classes: int = 10, base: int = 64, norm: str = "batch",
                 dropout: float = 0.0):
        super().__init__()
        dcgan = nets.DCGANDiscriminator(img_shape, base, norm=norm, dropout=dropout)
        self.img_shape, self.n_classes = tuple(img_shape), n_classes
        self.trunk = dcgan.net[:-1]  # everything up to the last map (B, width, res, res)
        self.source = dcgan.net[-1]  # Conv2d(width, 1, res): real or fake
        self.classify = nn.Conv2d(self.source.in_channels, n_classes, self.source.kernel_size)  # which class
        nets.dcgan_init(self.classify)

    def forward(self, x: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)  # (B, width, res, res)
        return self.source(features).flatten(), self.classify(features).flatten(1)  # (B,), (B, K)


def acgan_steps(class_weight: float = 1.0, fake_class_loss: bool = True):
    """AC-GAN's steps: D maximises L_S + L_C, G maximises L_C - L_S (Odena et al. 2017).

    L_S = E log P(S=real | x_real) + E log P(S=fake | x_fake)   (the usual GAN game)
    L_C = E log P(C=c | x_real) + E log P(C=c | x_fake)         (both get the right class)
    As losses to minimise: D minimises BCE(source) + class_weight * CE(class); G minimises the
    non-saturating -log P(S=real | fake) + class_weight * CE(class of fake). fake_class_loss=False drops
    the fake term from D's L_C (some implementations do, so D learns classes from real images only).
    Fakes are asked for the classes of the real batch, so the class frequencies follow the data.
    """
    if not class_weight >= 0:
        raise ValueError(f"class_weight={class_weight} must be >= 0")

    def d_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)  # (B, z_dim)
        with torch.no_grad():
            fake = G(z, labels)  # (B, C, H, W)
        real_source, real_class = D(real)  # (B,), (B, K)
        fake_source, fake_class = D(fake)
        class_loss = F.cross_entropy(real_class, labels)
        if fake_class_loss:
            class_loss = class_loss + F.cross_entropy(fake_class, labels)
        return {"loss_D": d_loss_bce(real_source, fake_source) + class_weight * class_loss,
                "D_real": torch.sigmoid(real_source).mean(), "D_fake": torch.sigmoid(fake_source).mean(),
                "acc_real": (real_class.argmax(1) == labels).float().mean(),  # D's class accuracy
                "acc_fake": (fake_class.argmax(1) == labels).float().mean()}

    def g_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)
        fake_source, fake_class = D(G(z, labels))  # (B,), (B, K)
        class_loss = F.cross_entropy(fake_class, labels)
        return {"loss_G": g_loss_nonsaturating(fake_source) + class_weight * class_loss, "class_loss_G": class_loss}

    return d_step, g_step


# ----------------------------------------------------------------------------- registry builders

def _base(img_shape, mnist_width: int) -> int:
    """Channel width: narrow at 28 pixels (MNIST trains fine and fast on a CPU), DCGAN's 64 at 32."""
    return mnist_width if img_shape[-1] == 28 else 64


def build_cgan(img_shape, n_classes: int, z_dim: int):
    """(ConditionalGenerator, ConditionalCritic with layer norm) for the model registry.

    Base width 32 at 28 pixels. At 2,000 G steps on mnist-5k (one CPU thread) the judge's conditional
    accuracy was 70% at width 16 (17 steps/s), 80% with only the critic at 32, 87% with both at 32
    (10.7 steps/s): the critic must learn which strokes go with which label plane, and a narrow one
    learns it slowly. The registry's faster critic (lr_D 1e-3, TTUR) took 87% to 89%.
    """
    if not n_classes:
        raise ValueError("cgan needs a labelled dataset (n_classes > 0)")
    base = _base(img_shape, 32)
    return (ConditionalGenerator(z_dim, img_shape, n_classes, base),
            ConditionalCritic(img_shape, n_classes, base, norm="layer"))


def build_acgan(img_shape, n_classes: int, z_dim: int):
    """(ConditionalGenerator, ACGANDiscriminator with batch norm) for the model registry (base width 32 at
    28 pixels: at 16 the BCE game oscillated much more in our runs)."""
    if not n_classes:
        raise ValueError("acgan needs a labelled dataset (n_classes > 0)")
    base = _base(img_shape, 32)
    return ConditionalGenerator(z_dim, img_shape, n_classes, base), ACGANDiscriminator(img_shape, n_classes, base)


# ----------------------------------------------------------------------------- measuring per class

def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Average Euclidean distance over all pairs of rows of (N, F): a diversity score (0 = all equal)."""
    if len(features) < 2:
        raise ValueError("a pairwise distance needs at least 2 samples")
    return torch.pdist(features.double()).mean().item()


@torch.no_grad()
def class_report(G, dataset: str = "mnist-5k", n_per_class: int = 200, seed: int = 0, device=None,
                 real_split: str = "train") -> dict:
    """Per-class scores of a conditional generator with the offline judge of `dataset`.

    For every class k: n_per_class samples G(z, k) (eval mode, seeded noise of its own), and the real
    images of class k (at most n_per_class of them). Returns a dict of lists indexed by class plus means:
    - "accuracy": share of samples the judge puts in the requested class;
    - "confidence": the judge's mean softmax probability of the requested class;
    - "diversity", "real_diversity": mean pairwise distance of judge features inside the class;
    - "diversity_ratio": diversity / real_diversity (1: as varied as real digits; below 1: less);
    "mean_*" average each over classes. The global RNG is untouched.
    """
    from .data import load_dataset, to_float
    from .judges import JudgeExtractor
    device = device or next(G.parameters()).device
    extractor = JudgeExtractor(dataset, device)
    real = load_dataset(dataset, real_split)
    gen = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    report = {k: [] for k in ("accuracy", "confidence", "diversity", "real_diversity", "diversity_ratio")}
    try:
        for k in range(G.n_classes):
            z = torch.randn(n_per_class, G.z_dim, generator=gen).to(device)  # (n, z_dim)
            labels = torch.full((n_per_class,), k, dtype=torch.long, device=device)
            features, logits = extractor(G(z, labels).float())  # (n, F), (n, K)
            real_features, _ = extractor(to_float(real.images[real.labels == k][:n_per_class]))
            probs = logits.softmax(1)[:, k]  # (n,) the judge's belief in the requested class
            report["accuracy"].append((logits.argmax(1) == k).float().mean().item())
            report["confidence"].append(probs.mean().item())
            report["diversity"].append(mean_pairwise_distance(features))
            report["real_diversity"].append(mean_pairwise_distance(real_features))
            report["diversity_ratio"].append(report["diversity"][-1] / report["real_diversity"][-1])
    finally:
        G.train(was_training)
    for key in list(report):
        report[f"mean_{key}"] = sum(report[key]) / len(report[key])
    return report
