"""The Xception family of emotion networks (Keras; imported by training only, never by serving).

One function builds every variant from a loop over block widths: the mini-Xception of Arriaga et al. (2017,
about 60k weights) is ``block_widths=(16, 32, 64, 128), stem_width=8``; wider tuples give the larger variants.
The network takes a (48, 48, 1) float32 face with gray levels 0..255 and does its own scaling to [-1, 1], so the
serving side feeds the resized crop as it is.
"""

from __future__ import annotations

import keras
from keras import layers, regularizers

MINI_XCEPTION = {"block_widths": (16, 32, 64, 128), "stem_width": 8}


def build_xception(
    input_size: int = 48,
    num_classes: int = 7,
    block_widths: tuple[int, ...] = (16, 32, 64, 128),
    stem_width: int = 8,
    l2: float = 0.01,
    dropout: float = 0.0,
    name: str = "xception",
    dense_blocks: int = 0,
) -> keras.Model:
    """Build an Xception-style classifier: (N, input_size, input_size, 1) gray 0..255 -> (N, num_classes) softmax.

    Each block halves the resolution: two 3x3 depthwise-separable convolutions and a 3x3 max-pool, added to a
    strided 1x1 convolution of the block's input (the residual). The first ``dense_blocks`` blocks use plain 3x3
    convolutions instead (as Xception's entry flow does where the feature maps are large). ``l2`` is the weight
    decay on every kernel.
    """
    reg = regularizers.l2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=(input_size, input_size, 1), name="face")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    for i in range(2):
        x = layers.Conv2D(stem_width, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"stem{i}_conv")(
            x
        )
        x = layers.BatchNormalization(name=f"stem{i}_bn")(x)
        x = layers.ReLU(name=f"stem{i}_relu")(x)
    for i, width in enumerate(block_widths):
        # A strided 1x1 convolution, written as subsample-then-1x1: TF 2.21's oneDNN backward pass of a
        # strided 1x1 Conv2D aborts the process ("double free"); this form computes the same function.
        residual = layers.MaxPooling2D(1, strides=2, padding="same", name=f"block{i}_res_subsample")(x)
        residual = layers.Conv2D(width, 1, use_bias=False, kernel_regularizer=reg, name=f"block{i}_res_conv")(residual)
        residual = layers.BatchNormalization(name=f"block{i}_res_bn")(residual)
        for j in range(2):
            if i < dense_blocks:
                x = layers.Conv2D(
                    width, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"block{i}_sep{j}"
                )(x)
            else:
                x = layers.SeparableConv2D(
                    width,
                    3,
                    padding="same",
                    use_bias=False,
                    depthwise_regularizer=reg,
                    pointwise_regularizer=reg,
                    name=f"block{i}_sep{j}",
                )(x)
            x = layers.BatchNormalization(name=f"block{i}_sep{j}_bn")(x)
            if j == 0:
                x = layers.ReLU(name=f"block{i}_sep{j}_relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{i}_pool")(x)
        x = layers.Add(name=f"block{i}_add")([x, residual])
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Conv2D(num_classes, 3, padding="same", kernel_regularizer=reg, name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = layers.Softmax(name="probabilities", dtype="float32")(x)  # float32 even under mixed precision
    return keras.Model(inputs, outputs, name=name)


def with_flip_average(model: keras.Model) -> keras.Model:
    """Test-time augmentation inside the graph: the mean of ``model`` on each face and on its mirror image.
    Same input and output shapes and the same weights; about twice the compute per face."""
    inputs = keras.Input(shape=model.input_shape[1:], name="face")
    mirrored = layers.Lambda(lambda x: keras.ops.flip(x, axis=2), name="mirror")(inputs)
    outputs = layers.Average(name="flip_average")([model(inputs), model(mirrored)])
    return keras.Model(inputs, outputs, name=f"{model.name}_flip_tta")


def build_vgg(
    widths: tuple[int, ...] = (64, 128, 256, 512),
    input_size: int = 48,
    crop: int = 44,
    num_classes: int = 7,
    name: str = "vgg",
) -> keras.Model:
    """The VGG teacher of ``gpu/train_torch.py`` (trained in PyTorch), for serving: (N, input_size, input_size, 1)
    gray 0..255 -> (N, num_classes) softmax. The centre ``crop`` x ``crop`` of the face, scaled as (x - 127.5) / 64,
    then per width two 3x3 convolutions with batch norm (PyTorch's epsilon) and ReLU, a 2x2 max-pool after every
    stage but the last, global average pooling and a dense layer."""
    inputs = keras.Input(shape=(input_size, input_size, 1), name="face")
    margin = (input_size - crop) // 2
    x = layers.Cropping2D(margin, name="centre_crop")(inputs)
    x = layers.Rescaling(1.0 / 64.0, offset=-127.5 / 64.0, name="scale")(x)
    for i, width in enumerate(widths):
        for j in range(2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{i}_conv{j}")(x)
            x = layers.BatchNormalization(epsilon=1e-5, name=f"stage{i}_bn{j}")(x)
            x = layers.ReLU(name=f"stage{i}_relu{j}")(x)
        if i < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"stage{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
