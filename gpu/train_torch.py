"""FER2013 teachers and distilled Xception-family students in PyTorch, for the GPU machine (no TensorFlow there).

Self-contained (torch + numpy). Three verbs, each time-budgeted by a wall-clock deadline (Unix seconds) so that a
run of fixed length can be planned; the learning rate follows a cosine over the *time* budget, so the schedule ends
when the time does, whatever the machine's speed. With ``--epochs N --checkpoint FILE`` the cosine spans N epochs
instead, the state is saved to FILE every few minutes and at the deadline, and the same command run again resumes
there (a training longer than one sitting: the CPU's background jobs); the final outputs are written once the N
epochs are done:

    python gpu/train_torch.py unpack  --src .gpu/fer2013.npz.xz --dst /tmp/fer2013.npz
    python gpu/train_torch.py teacher --data /tmp/fer2013.npz --arch resnet18 --deadline T --out DIR
    python gpu/train_torch.py student --data /tmp/fer2013.npz --arch xception-d2-32 --teachers DIR --deadline T \
        --out FILE.npz

Faces are uint8 (N, 48, 48) gray 0..255. Teachers see 44x44 crops (random crop, flip, rotation, zoom, erasing on the
GPU) and are evaluated with 10 crops (4 corners + centre, each mirrored). Students see the whole 48x48 face, as the
served model does, and learn from the mean of the teachers' probabilities on the centre 44 crop of the same
augmented face and its mirror (knowledge distillation, Hinton et al. 2015), mixed with the FER2013 label (and FER+
crowd shares). Students mirror :func:`fer_core.network.build_xception` layer for layer (TensorFlow's 'same' padding,
Keras' batch-norm epsilon) so their weights port to Keras and LiteRT unchanged (``gpu/import_student.py``).
PublicTest is only evaluated (reported), never trained on; nothing is selected on it here.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
TEACHER_CROP = 44
KERAS_BN = {"eps": 1e-3, "momentum": 0.01}  # Keras' BatchNormalization defaults (epsilon, 1 - momentum)


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), f"[{os.environ.get('FER_TAG', 'main')}]", *parts, flush=True)


# ----------------------------------------------------------------------------------------------------------- data


def unpack(src: Path, dst: Path) -> None:
    """``gpu/pack_data.py``'s xz file into a plain ``.npz`` of raw pixels at ``dst`` (what :func:`load` reads)."""
    import io

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pixels import NAME, decode

    with np.load(io.BytesIO(lzma.decompress(src.read_bytes()))) as packed:
        arrays = {k: packed[k] for k in packed.files}
    if str(arrays.pop("pixels", "raw")) == NAME:
        arrays = {k: decode(v) if k.startswith("x_") else v for k, v in arrays.items()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst.with_suffix(".tmp"), "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(dst.with_suffix(".tmp"), dst)


def load(path: Path, device: torch.device, limit: int = 0) -> dict:
    """Arrays of :mod:`gpu.pack_data` on ``device``: x_* float32 (N, 1, 48, 48) in 0..255, y_* int64, crowd_train
    float32 (N, 7). ``limit`` > 0 keeps that many faces of each split (for a quick test)."""
    with np.load(path) as raw:
        arrays = {k: raw[k] for k in raw.files}
    if limit:
        arrays = {k: v[:limit] for k, v in arrays.items()}
    out = {}
    for split in ("train", "val"):
        out[f"x_{split}"] = torch.from_numpy(arrays[f"x_{split}"]).to(device).float().unsqueeze(1)
        out[f"y_{split}"] = torch.from_numpy(arrays[f"y_{split}"]).to(device).long()
    out["crowd_train"] = torch.from_numpy(arrays["crowd_train"].astype(np.float32)).to(device)
    return out


def targets(y: torch.Tensor, crowd: torch.Tensor, crowd_weight: float) -> torch.Tensor:
    """(N, 7): one-hot label mixed with the FER+ crowd's vote shares where known (rows of zeros: unknown)."""
    t = F.one_hot(y, len(EMOTIONS)).float()
    known = (crowd.sum(1, keepdim=True) > 0).float()
    return t + crowd_weight * known * (crowd - t)


def augment(
    x: torch.Tensor,
    size: int,
    shift_px: float,
    degrees: float,
    zoom: float,
    erase_p: float,
    gen: torch.Generator,
    light_p: float = 0.0,
) -> torch.Tensor:
    """Random affine view of each face, on its device: (B, 1, 48, 48) -> (B, 1, size, size), same value range.

    One warp per face (grid_sample, reflected borders): a crop of ``size`` at a random offset of up to ``shift_px``
    pixels from the centre, rotation up to ``degrees``, zoom by a factor within 1 +- ``zoom``, mirror with p = 0.5;
    then, with p = ``light_p``, its contrast and brightness changed (:func:`relight`); then, with p = ``erase_p``, a
    random rectangle (2-25% of the area) set to mid-gray (random erasing)."""
    b, dev = x.shape[0], x.device
    rand = lambda *s: torch.rand(*s, device=dev, generator=gen)  # noqa: E731
    angle = (rand(b) * 2 - 1) * math.radians(degrees)
    scale = (1 + (rand(b) * 2 - 1) * zoom) ** -1 * (size / x.shape[-1])  # >1 zoom in: sample a smaller area
    flip = torch.where(rand(b) < 0.5, -1.0, 1.0)
    shift = (rand(b, 2) * 2 - 1) * shift_px / (x.shape[-1] / 2)  # normalised coordinates (1 = half the face)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, (b, 1, size, size), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if light_p > 0:
        out = relight(out, light_p, gen)
    if erase_p > 0:
        area = (0.02 + rand(b) * 0.23) * size * size
        ratio = torch.exp((rand(b) * 2 - 1) * math.log(3.3))
        h = (area * ratio).sqrt().clamp(max=size)
        w = (area / ratio).sqrt().clamp(max=size)
        cy, cx = rand(b) * size, rand(b) * size
        coords = torch.arange(size, device=dev, dtype=torch.float32)
        inside_y = (coords[None] - cy[:, None]).abs() <= h[:, None] / 2
        inside_x = (coords[None] - cx[:, None]).abs() <= w[:, None] / 2
        mask = (inside_y[:, :, None] & inside_x[:, None, :]) & (rand(b) < erase_p)[:, None, None]
        out = torch.where(mask[:, None], torch.full_like(out, 127.5), out)
    return out


def relight(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """With probability ``p`` per face (B, 1, H, W), 0..255: its contrast about its mean gray scaled by 0.4-1.4 and its
    brightness moved by up to 50 gray levels either way (a dim or flat webcam picture)."""
    b, dev = x.shape[0], x.device
    rand = lambda *s: torch.rand(*s, device=dev, generator=gen)  # noqa: E731
    contrast = torch.exp(math.log(0.4) + rand(b) * math.log(1.4 / 0.4))[:, None, None, None]
    brightness = ((rand(b) * 2 - 1) * 50.0)[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    lit = ((x - mean) * contrast + mean + brightness).clamp(0.0, 255.0)
    return torch.where((rand(b) < p)[:, None, None, None], lit, x)


def ten_crops(x: torch.Tensor, size: int = TEACHER_CROP) -> list[torch.Tensor]:
    """The 4 corner and the centre crop of ``size``, each also mirrored: 10 views of (B, 1, 48, 48)."""
    n, o = x.shape[-1], (x.shape[-1] - size) // 2
    views = [
        x[..., :size, :size],
        x[..., :size, n - size :],
        x[..., n - size :, :size],
        x[..., n - size :, n - size :],
        x[..., o : o + size, o : o + size],
    ]
    return views + [v.flip(-1) for v in views]


# ------------------------------------------------------------------------------------------------------- teachers


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class ResNet18(nn.Module):
    """ResNet-18 for 44x44 faces: a 3x3 stem at full resolution, no max-pool, stages of 64-128-256-512 at 44, 22,
    11, 6 pixels (about 1.1 GMACs a face), global average pool, dropout, linear."""

    def __init__(self, width: int = 64, dropout: float = 0.2):
        super().__init__()
        w = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(nn.Conv2d(1, w[0], 3, 1, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        layers, cin = [], w[0]
        for i, c in enumerate(w):
            layers += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
            cin = c
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, 7))

    def forward(self, x):
        return self.head(self.layers(self.stem((x - 127.5) / 64.0)))


class VGG(nn.Module):
    """VGG with batch norm for 44x44 faces: stages of two 3x3 convolutions (64-128-256-512), max-pool after the
    first three (44, 22, 11, 5 pixels; about 0.38 GMACs a face), global average pool, dropout, linear."""

    def __init__(self, width: int = 64, dropout: float = 0.3):
        super().__init__()
        layers, cin = [], 1
        for i, c in enumerate([width, width * 2, width * 4, width * 8]):
            for _ in range(2):
                layers += [nn.Conv2d(cin, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
                cin = c
            if i < 3:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, 7))

    def forward(self, x):
        return self.head(self.features((x - 127.5) / 64.0))


TEACHERS = {"resnet18": ResNet18, "vgg": VGG}


# ------------------------------------------------------------------------------------------------------- students


def same_pad_for_max(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's 'same' padding before a max-pool: the extra pixel of an uneven total goes after (right,
    bottom). Edge pixels are repeated, which gives the max of the real pixels exactly (each padded pixel's window
    holds the pixel it copies) without the infinities that broke bfloat16 training on the GPU."""
    n = x.shape[-1]
    total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2), mode="replicate")


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, **KERAS_BN)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D(3, 'same', no bias): depthwise 3x3 then pointwise 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class XceptionStudent(nn.Module):
    """The twin of ``fer_core.network.build_xception(block_widths, stem_width, dense_blocks)``: (B, 1, 48, 48) gray
    0..255 -> (B, 7) logits (the Keras model adds the softmax). The first ``dense_blocks`` blocks use plain 3x3
    convolutions where the feature maps are large, the rest depthwise-separable ones."""

    def __init__(self, block_widths=(32, 64, 128, 256), stem_width: int = 8, dense_blocks: int = 0):
        super().__init__()
        self.stem = nn.ModuleList(
            [nn.Conv2d(1, stem_width, 3, 1, 1, bias=False), nn.Conv2d(stem_width, stem_width, 3, 1, 1, bias=False)]
        )
        self.stem_bn = nn.ModuleList([bn(stem_width), bn(stem_width)])
        self.blocks = nn.ModuleList()
        cin = stem_width
        for i, w in enumerate(block_widths):
            conv = (lambda a, b: nn.Conv2d(a, b, 3, 1, 1, bias=False)) if i < dense_blocks else SeparableConv
            self.blocks.append(
                nn.ModuleDict(
                    {
                        "res_conv": nn.Conv2d(cin, w, 1, bias=False),
                        "res_bn": bn(w),
                        "sep0": conv(cin, w),
                        "sep0_bn": bn(w),
                        "sep1": conv(w, w),
                        "sep1_bn": bn(w),
                    }
                )
            )
            cin = w
        self.head = nn.Conv2d(cin, 7, 3, 1, 1)

    def forward(self, x):
        x = x / 127.5 - 1.0
        for conv, norm in zip(self.stem, self.stem_bn):
            x = F.relu(norm(conv(x)))
        for b in self.blocks:
            residual = b["res_bn"](b["res_conv"](x[..., ::2, ::2]))
            x = F.relu(b["sep0_bn"](b["sep0"](x)))
            x = b["sep1_bn"](b["sep1"](x))
            x = F.max_pool2d(same_pad_for_max(x, 3, 2), 3, 2) + residual
        return self.head(x).mean((2, 3))


STUDENTS = {  # name: (block_widths, stem_width, dense_blocks)
    "xception-32": ((32, 64, 128, 256), 8, 0),  # today's served architecture
    "xception-d2-32": ((32, 64, 128, 256), 16, 2),
    "xception-d2-40": ((40, 80, 160, 320), 16, 2),
    "xception-d1-48": ((48, 96, 192, 384), 16, 1),
    "xception-d4-32": ((32, 64, 128, 256), 16, 4),  # dense throughout: about 133 MMACs a pass
    "xception-d4-48": ((48, 96, 192, 384), 24, 4),  # about 300 MMACs, like the VGG teacher's 375 (0.9 ms int8)
    "xception-d4-64": ((64, 128, 256, 512), 32, 4),  # about 530 MMACs: an accurate model within its 4 ms
}


def build_student(name: str) -> XceptionStudent:
    widths, stem, dense = STUDENTS[name]
    return XceptionStudent(widths, stem, dense)


# ------------------------------------------------------------------------------------------------------- training


def lr_at(fraction: float, peak: float, warmup: float = 0.03) -> float:
    """Linear warm-up over the first ``warmup`` of the time budget, then a cosine to zero."""
    if fraction < warmup:
        return peak * fraction / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (fraction - warmup) / (1 - warmup))))


def sgd(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on batch-norm parameters and biases."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
        momentum=0.9,
        nesterov=True,
    )


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -(target * F.log_softmax(logits.float(), 1)).sum(1).mean()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, views, batch: int = 1024) -> torch.Tensor:
    """Mean softmax over ``views(x_batch) -> list of inputs``; (N, 7) float32. Model in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        with autocast(x.device):
            probs = [F.softmax(model(v).float(), 1) for v in views(x[i : i + batch])]
        out.append(torch.stack(probs).mean(0))
    return torch.cat(out)


def autocast(device: torch.device):
    """bfloat16 mixed precision on the GPU, and on a CPU with native bfloat16 (AVX-512 BF16 / AMX: training passes
    about 2x faster there); float32 on other CPUs."""
    native = device.type == "cuda" or (device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=native)


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> float:
    return float((probs.argmax(1) == y).float().mean())


def per_class_recall(probs: torch.Tensor, y: torch.Tensor) -> dict:
    pred = probs.argmax(1)
    return {
        name: float((pred[y == k] == k).float().mean()) if (y == k).any() else None for k, name in enumerate(EMOTIONS)
    }


def run_epochs(
    model,
    data,
    deadline: float,
    batch: int,
    peak_lr: float,
    weight_decay: float,
    step_fn,
    history,
    eval_fn,
    eval_every_s: float,
    gen: torch.Generator,
    epochs: int = 0,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 600.0,
) -> tuple[int, bool]:
    """Train until ``deadline``: shuffled epochs of ``batch`` faces. ``step_fn(x_batch_uint_range, target_batch) ->
    loss`` does the forward pass. ``epochs`` 0: the learning rate follows the fraction of the time spent; N: the
    fraction of N epochs done, and training ends after N epochs (or at the deadline, unfinished). ``checkpoint``: the
    whole state (weights, optimiser, epoch and place in it, random generators, ``history``) is saved there every
    ``checkpoint_every_s`` and when training stops, and read back first when the file exists. Returns (epochs done,
    finished: the schedule ran to its end)."""
    opt = sgd(model, peak_lr, weight_decay)
    n = len(data["y_train"])
    target_all = data["targets"]
    start, epoch, last_eval, last_save = time.time(), 0, time.time(), time.time()
    budget = max(deadline - start, 1.0)
    perm, position, trained_before = None, 0, 0.0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=data["y_train"].device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        epoch, position, perm, trained_before = state["epoch"], state["position"], state["perm"], state["seconds"]
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history[:] = state["history"]
        log(f"resumed from {checkpoint}: epoch {epoch + 1} of {epochs or '?'}, face {position} of {n}")

    def save() -> None:
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": epoch,
            "position": position,
            "perm": perm,
            "seconds": trained_before + time.time() - start,
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": history,
        }
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, checkpoint.with_suffix(".tmp"))
        os.replace(checkpoint.with_suffix(".tmp"), checkpoint)

    def finished() -> bool:
        return epochs > 0 and epoch >= epochs

    while not finished():
        model.train()
        if perm is None:
            perm = torch.randperm(n, device=data["y_train"].device, generator=gen)
        loss_sum = torch.zeros((), device=perm.device)
        steps = 0
        while position + batch <= n:
            fraction = (epoch + position / n) / epochs if epochs else (time.time() - start) / budget
            if fraction >= 1 or time.time() >= deadline:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(fraction, peak_lr)
            idx = perm[position : position + batch]
            loss = step_fn(data["x_train"][idx], target_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            loss_sum += loss.detach()
            steps += 1
            position += batch
            if checkpoint is not None and time.time() - last_save >= checkpoint_every_s:
                save()
                last_save = time.time()
        stopped = position + batch <= n  # inside an epoch: at the deadline (or the time schedule's end)
        if stopped and (epochs or steps == 0):
            break  # an epoch schedule goes on from this place in the epoch next time
        epoch, position, perm = epoch + 1, 0, None
        row = {
            "epoch": epoch,
            "seconds": round(trained_before + time.time() - start, 1),
            "loss": float(loss_sum) / max(steps, 1),  # of this sitting's part of the epoch
            "learning_rate": opt.param_groups[0]["lr"],
        }
        if time.time() - last_eval >= eval_every_s or finished():
            row.update(eval_fn())
            last_eval = time.time()
        history.append(row)
        log(json.dumps(row))
        if stopped or time.time() >= deadline:
            break
    if checkpoint is not None:
        save()
    return epoch, finished() or epochs == 0


def setup(seed: int) -> tuple[torch.device, torch.Generator]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return device, gen


def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    model = model.to(device)
    # channels-last is fast on the GPU; on CPUs oneDNN's strided 1x1 backward pass aborts with it (STACK.md)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def train_teacher(args) -> None:
    device, gen = setup(args.seed)
    data = load(args.data, device, args.limit)
    data["targets"] = targets(data["y_train"], data["crowd_train"], args.crowd_weight)
    model = TEACHERS[args.arch]()
    if args.init:  # a warm restart: a new snapshot of a trained teacher (8-bit weights are fine)
        read_state(args.init, model)
        log(f"teacher weights from {args.init}")
    model = prepare(model, device)
    log(
        f"teacher {args.arch}: {sum(p.numel() for p in model.parameters()):,} weights, {len(data['y_train'])} "
        f"training faces, {args.deadline - time.time():.0f} s, device {device}"
    )

    def step(x, t):
        x = augment(x, TEACHER_CROP, args.shift_px, args.degrees, args.zoom, args.erase, gen, args.light)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            logits = model(x)
        t = t * (1 - args.label_smoothing) + args.label_smoothing / len(EMOTIONS)
        return soft_cross_entropy(logits, t)

    def quick_eval():
        centre = lambda v: [ten_crops(v)[4]]  # noqa: E731
        return {"val_accuracy_centre": accuracy(predict(model, data["x_val"], centre), data["y_val"])}

    history: list = []
    started = time.time()
    epochs, done = run_epochs(
        model,
        data,
        args.deadline,
        args.batch,
        args.lr,
        args.weight_decay,
        step,
        history,
        quick_eval,
        args.eval_every_s,
        gen,
        args.epochs,
        args.checkpoint,
    )
    trained_s = history[-1]["seconds"] if history else time.time() - started
    if not done:
        log(f"teacher {args.arch}: stopped at the deadline after epoch {epochs} of {args.epochs}; run again to go on")
        return
    out = Path(args.out)  # the weights first: the 10-crop passes below take minutes on a CPU
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / "teacher.npz",
        arch=np.array(args.arch),  # numpy only: the CPU side reads it without torch
        **{
            k: v.detach().cpu().half().numpy()
            for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")
        },
    )
    val = predict(model, data["x_val"], ten_crops)
    train_probs = predict(model, data["x_train"], ten_crops)
    record = {
        "arch": args.arch,
        "seed": args.seed,
        "epochs": epochs,
        "train_seconds": round(trained_s, 1),
        "weights": sum(p.numel() for p in model.parameters()),
        "settings": vars_json(args),
        "val_accuracy_10crop": accuracy(val, data["y_val"]),
        "val_accuracy_centre": accuracy(predict(model, data["x_val"], lambda v: [ten_crops(v)[4]]), data["y_val"]),
        "val_recall_10crop": per_class_recall(val, data["y_val"]),
        "train_accuracy_10crop": accuracy(train_probs, data["y_train"]),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    np.savez(
        out / "probs.npz", train=train_probs.cpu().numpy().astype(np.float16), val=val.cpu().numpy().astype(np.float16)
    )
    (out / "record.json").write_text(json.dumps({**record, "history": history}, indent=1))
    log(
        f"teacher {args.arch} seed {args.seed}: {epochs} epochs in {trained_s:.0f} s, PublicTest "
        f"{record['val_accuracy_10crop']:.4f} (10 crops), {record['val_accuracy_centre']:.4f} (centre)"
    )


def saved_arch(path: Path) -> str:
    with np.load(path) as saved:
        return str(saved["arch"])


def teacher_files(folder: Path | None) -> list[Path]:
    """The teachers in ``folder``: ``*/teacher.npz`` (VGG / ResNet, shown the centre 44 crop) and ``*/student.npz``
    (an Xception-family student, e.g. one recovered from a served model, shown the whole 48x48 face)."""
    if not folder:
        return []
    return sorted([*Path(folder).glob("*/teacher.npz"), *Path(folder).glob("*/student.npz")])


def read_state(path: Path, model: nn.Module) -> None:
    """Weights of a ``.npz`` (a state dict; ``arch`` / ``record`` beside it) into ``model``, in place. Weights packed
    in 8 bits (``gpu/pack_data.py``, ``gpu/student_from_tflite.py``) come with ``name::scale``, one per channel."""
    state = {}
    with np.load(path) as saved:
        for k in saved.files:
            if k in ("arch", "record") or k.endswith("::scale"):
                continue
            value = saved[k].astype(np.float32)
            if f"{k}::scale" in saved.files:
                value *= saved[f"{k}::scale"].reshape((-1,) + (1,) * (value.ndim - 1))
            state[k] = torch.from_numpy(value)
    missing, unexpected = model.load_state_dict(state, strict=False)
    wrong = [k for k in missing if not k.endswith("num_batches_tracked")] + list(unexpected)  # that is not saved
    if wrong:
        raise ValueError(f"{path}: weights do not match its architecture: {wrong[:5]}")


def load_teachers(folder: Path | None, device: torch.device) -> list[tuple[nn.Module, bool]]:
    """(network in eval mode, whether it sees the centre crop) for each of ``teacher_files(folder)``."""
    teachers = []
    for path in teacher_files(folder):
        with np.load(path) as saved:
            if path.name == "student.npz":
                model: nn.Module = build_student(json.loads(str(saved["record"]))["arch"])
            else:
                model = TEACHERS[str(saved["arch"])]()
        read_state(path, model)
        teachers.append((prepare(model, device).eval(), path.name == "teacher.npz"))
        log(f"teacher {path.parent.name} loaded")
    return teachers


@torch.no_grad()
def precise_bn(model: nn.Module, x: torch.Tensor, batch: int = 256) -> None:
    """Batch-norm statistics recomputed as the plain average over one pass of un-augmented faces ``x``."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for i in range(0, len(x) - batch + 1, batch):
        model(x[i : i + batch])
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


@torch.no_grad()
def reseat_batch_norm(model: nn.Module, x: torch.Tensor, batch: int = 256) -> None:
    """Each batch norm's running statistics moved onto its input's statistics over ``x`` (eval mode), its weight
    and bias changed so that the eval-mode function stays the same: training-mode batch norm then starts from it.
    Needed after weights whose batch norms were folded away (``gpu/student_from_tflite.py``)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    sums = {m: [0.0, 0.0, 0] for m in norms}

    def hook(module, inputs):
        z = inputs[0].float()
        s = sums[module]
        s[0] = s[0] + z.sum((0, 2, 3))
        s[1] = s[1] + (z * z).sum((0, 2, 3))
        s[2] += z.numel() // z.shape[1]

    handles = [m.register_forward_pre_hook(hook) for m in norms]
    model.eval()
    for i in range(0, len(x), batch):
        model(x[i : i + batch])
    for h in handles:
        h.remove()
    for m in norms:
        total, squares, count = sums[m]
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0)
        old_std = (m.running_var + m.eps).sqrt()
        new_std = (var + m.eps).sqrt()
        m.bias += (mean - m.running_mean) * m.weight / old_std
        m.weight *= new_std / old_std
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)


def stored_soft_targets(files: list[Path], temperature: float, n: int, device: torch.device) -> torch.Tensor:
    """(n, 7): the mean over ``files`` (teachers' ``probs.npz``, 10-crop probabilities on Training, float16) of each
    teacher's probabilities softened by ``temperature`` (p ** (1 / T), renormalised: softmax(logits / T) exactly)."""
    soft = []
    for path in files:
        with np.load(path) as saved:
            p = torch.from_numpy(saved["train"][:n].astype(np.float32)).clamp_min(1e-6)
        p = p ** (1.0 / temperature)
        soft.append(p / p.sum(1, keepdim=True))
        log(f"stored teacher probabilities {path}")
    return torch.stack(soft).mean(0).to(device)


def train_student(args) -> None:
    device, gen = setup(args.seed)
    data = load(args.data, device, args.limit)
    data["targets"] = targets(data["y_train"], data["crowd_train"], args.crowd_weight)
    teachers = load_teachers(args.teachers, device)
    stored = bool(args.stored_probs)
    if stored:  # the stored soft targets travel beside the hard ones: (N, 14) = label | teachers
        soft_all = stored_soft_targets(args.stored_probs, args.temperature, len(data["y_train"]), device)
        data["targets"] = torch.cat([data["targets"], soft_all], 1)
    model = build_student(args.arch)
    if args.init:
        read_state(args.init, model)
    model = prepare(model, device)
    if args.init:  # on the device, where the faces are
        reseat_batch_norm(model, data["x_train"][:8192])
        log(f"student weights from {args.init}")
    log(
        f"student {args.arch}: {sum(p.numel() for p in model.parameters()):,} weights, {len(teachers)} teachers, "
        f"{args.deadline - time.time():.0f} s, device {device}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temperature, alpha = args.temperature, (args.alpha if teachers or stored else 0.0)

    def teacher_probs(x48: torch.Tensor) -> torch.Tensor:
        o = (x48.shape[-1] - TEACHER_CROP) // 2
        centre = x48[..., o : o + TEACHER_CROP, o : o + TEACHER_CROP]
        with torch.no_grad(), autocast(device):
            logits = [
                t(v).float()
                for t, cropped in teachers
                for v in ((centre, centre.flip(-1)) if cropped else (x48, x48.flip(-1)))[: args.teacher_views]
            ]
        return torch.stack([F.softmax(z / temperature, 1) for z in logits]).mean(0)

    def step(x, t):
        k = len(EMOTIONS)
        t, soft = (t[:, :k], t[:, k:]) if stored else (t, None)
        x = augment(x, 48, args.shift_px, args.degrees, args.zoom, args.erase, gen)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        seen = relight(x, args.light, gen) if args.light > 0 else x  # the teachers see the face before relighting
        with autocast(device):
            logits = model(seen).float()
        loss = soft_cross_entropy(logits, t)
        if alpha > 0:
            soft = soft if stored else teacher_probs(x)
            kd = F.kl_div(F.log_softmax(logits / temperature, 1), soft, reduction="batchmean") * temperature**2
            loss = alpha * kd + (1 - alpha) * loss
        return loss

    def evaluate() -> dict:
        plain = predict(model, data["x_val"], lambda v: [v])
        both = predict(model, data["x_val"], lambda v: [v, v.flip(-1)])
        return {"val_accuracy": accuracy(plain, data["y_val"]), "val_accuracy_flip": accuracy(both, data["y_val"])}

    def save(history, epochs, final: bool) -> None:
        arrays = {  # in float16: a d4-64 student in float32 (19.7 MB) would not come back from the GPU (16 MiB a file)
            k: v.detach().half().cpu().numpy()
            for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")
        }
        widths, stem, dense = STUDENTS[args.arch]
        record = {
            "arch": args.arch,
            "block_widths": widths,
            "stem_width": stem,
            "dense_blocks": dense,
            "epochs": epochs,
            "final": final,
            "teachers": [p.parent.name for p in teacher_files(args.teachers)]
            + [p.parent.name for p in args.stored_probs],
            "settings": vars_json(args),
            "history": history,
            "weights": sum(p.numel() for p in model.parameters()),
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        }
        with open(out.with_suffix(".tmp"), "wb") as handle:  # numpy only: the CPU side reads it without torch
            np.savez(handle, record=np.array(json.dumps(record)), **arrays)
        os.replace(out.with_suffix(".tmp"), out)

    history: list = []
    started = time.time()
    epochs, done = run_epochs(
        model,
        data,
        args.deadline,
        args.batch,
        args.lr,
        args.weight_decay,
        step,
        history,
        evaluate,
        args.eval_every_s,
        gen,
        args.epochs,
        args.checkpoint,
    )
    if not done:
        log(f"student {args.arch}: stopped at the deadline after epoch {epochs} of {args.epochs}; run again to go on")
        return
    raw = evaluate()
    save(history + [{"after_training": raw}], epochs, final=False)
    precise_bn(model, data["x_train"])
    recal = evaluate()
    history.append(
        {
            "after_training": raw,
            "after_precise_bn": recal,
            "val_recall_flip": per_class_recall(
                predict(model, data["x_val"], lambda v: [v, v.flip(-1)]), data["y_val"]
            ),
        }
    )
    save(history, epochs, final=True)
    log(
        f"student {args.arch}: {epochs} epochs in {time.time() - started:.0f} s; PublicTest {raw['val_accuracy']:.4f} "
        f"/ flip {raw['val_accuracy_flip']:.4f}; precise BN {recal['val_accuracy']:.4f} / flip "
        f"{recal['val_accuracy_flip']:.4f}"
    )


def vars_json(args) -> dict:
    def plain(v):
        return str(v) if isinstance(v, Path) else [plain(x) for x in v] if isinstance(v, list) else v

    return {k: plain(v) for k, v in vars(args).items() if k != "func"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(required=True)
    p = verbs.add_parser("unpack")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--dst", type=Path, required=True)
    p.set_defaults(func=lambda a: unpack(a.src, a.dst))
    for verb, func, defaults in (
        (
            "teacher",
            train_teacher,
            dict(
                arch="resnet18",
                batch=128,
                lr=0.1,
                weight_decay=5e-4,
                shift_px=4.0,
                degrees=15.0,
                zoom=0.15,
                erase=0.5,
                label_smoothing=0.1,
            ),
        ),
        (
            "student",
            train_student,
            dict(
                arch="xception-d2-32",
                batch=128,
                lr=0.05,
                weight_decay=5e-4,
                shift_px=4.0,
                degrees=10.0,
                zoom=0.1,
                erase=0.25,
                label_smoothing=0.0,
            ),
        ),
    ):
        p = verbs.add_parser(verb)
        p.set_defaults(func=func)
        p.add_argument("--data", type=Path, required=True)
        p.add_argument("--arch", choices=sorted(TEACHERS if verb == "teacher" else STUDENTS), default=defaults["arch"])
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--deadline", type=float, required=True, help="stop training at this Unix time")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--limit", type=int, default=0, help="use only this many faces per split (tests)")
        p.add_argument("--batch", type=int, default=defaults["batch"])
        p.add_argument("--lr", type=float, default=defaults["lr"], help="peak learning rate (SGD, Nesterov)")
        p.add_argument("--weight-decay", type=float, default=defaults["weight_decay"])
        p.add_argument("--shift-px", type=float, default=defaults["shift_px"])
        p.add_argument("--degrees", type=float, default=defaults["degrees"])
        p.add_argument("--zoom", type=float, default=defaults["zoom"])
        p.add_argument("--erase", type=float, default=defaults["erase"], help="random-erasing probability")
        p.add_argument(
            "--light",
            type=float,
            default=0.0,
            help="probability of a random contrast and brightness change (a student's teachers see the face before it)",
        )
        p.add_argument(
            "--crowd-weight",
            type=float,
            default=0.3,
            help="target = (1 - w) * label + w * FER+ crowd shares where known",
        )
        p.add_argument("--label-smoothing", type=float, default=defaults["label_smoothing"])
        p.add_argument("--eval-every-s", type=float, default=30.0, help="PublicTest accuracy logged this often")
        p.add_argument("--epochs", type=int, default=0, help="the schedule's length in epochs (0: the time budget)")
        p.add_argument(
            "--checkpoint", type=Path, default=None, help="save the training state here; resume from it if it exists"
        )
        if verb == "student":
            soft_targets = p.add_mutually_exclusive_group()
            soft_targets.add_argument(
                "--teachers", type=Path, default=None, help="folder of teacher folders (*/teacher.npz, */student.npz)"
            )
            soft_targets.add_argument(
                "--stored-probs",
                type=Path,
                nargs="*",
                default=[],
                help="teachers' probs.npz (10-crop probabilities on Training): their mean is the soft target",
            )
            p.add_argument("--temperature", type=float, default=4.0)
            p.add_argument(
                "--teacher-views",
                type=int,
                choices=(1, 2),
                default=2,
                help="2: each teacher also sees the mirror image",
            )
            p.add_argument("--alpha", type=float, default=0.9, help="weight of the distillation loss")
            p.add_argument("--init", type=Path, default=None, help="start from this student.npz (same --arch)")
        else:
            p.add_argument("--init", type=Path, default=None, help="start from this teacher.npz (same --arch)")
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
