#!/usr/bin/env bash
# Creates .venv-fer: the `fer` package (justinshenk/fer), used ONLY by bench/fer_peer.py as the peer to compare with.
#
#   bash bench/setup_fer_env.sh            # then: .venv-fer/bin/python bench/fer_peer.py --quick
#
# fer declares facenet-pytorch (whose torch pin can pull gigabytes), moviepy and ffmpeg-python as dependencies, but
# its default detector is OpenCV's Haar cascade and its default classifier a TFLite file run by tf.lite: that path
# imports neither torch nor MTCNN (facenet_pytorch is imported only by FER(mtcnn=True); moviepy is optional, for
# audio). So fer is installed with --no-deps plus exactly what `import fer; FER(); fer.Video(...).analyze(...)` imports:
#   opencv-contrib-python<5  fer's declared OpenCV; OpenCV 5 removed cv2.CascadeClassifier and the Haar XML files
#   tensorflow               fer runs its quantised .tflite through tf.lite.Interpreter and imports keras' load_model
#   pandas, tqdm, requests, Pillow   imported at module level by fer/classes.py and fer/utils.py
#   setuptools<82            fer/fer.py imports pkg_resources, gone from setuptools 82
# No stub module is needed. Note: fer 25.10.3's fer/__init__.py does not re-export FER and Video (its README's
# `from fer import FER` fails), so bench/fer_peer.py imports them from fer.fer and fer.classes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
FER_VERSION=25.10.3
if [ ! -x .venv-fer/bin/python ]; then
    "$PY" -m venv .venv-fer
fi
.venv-fer/bin/pip install -q --upgrade pip
.venv-fer/bin/pip install -q "opencv-contrib-python>=4.8,<5" "tensorflow==2.21.0" pandas tqdm requests Pillow "setuptools<82"
.venv-fer/bin/pip install -q --no-deps "fer==$FER_VERSION"
.venv-fer/bin/python -c "import fer, cv2; from fer.fer import FER; from fer.classes import Video; FER(); print('fer', fer.__version__, 'opencv', cv2.__version__, 'ready')"
