"""fer_core: facial emotion recognition from video, without Streamlit.

One frame flows one way: decode -> detect -> track -> landmarks -> blink -> classify -> record.

- :mod:`fer_core.decode`      video files (PyAV, container timestamps) and still images
- :mod:`fer_core.detect`      dlib HOG face detector -> :class:`~fer_core.detect.Detections`
- :mod:`fer_core.track`       face identities across frames (IoU association)
- :mod:`fer_core.landmarks`   dlib's 68 points as named regions
- :mod:`fer_core.blink`       eye aspect ratio and a per-face blink detector
- :mod:`fer_core.classifier`  the emotion CNN served by LiteRT (no TensorFlow at serving time)
- :mod:`fer_core.records`     one :class:`~fer_core.records.FaceRecord` per face per frame, per-face summaries
- :mod:`fer_core.pipeline`    the steps above for one frame
- :mod:`fer_core.video`       a whole file -> table, summary, annotated MP4 (``python -m fer_core analyze``)
- :mod:`fer_core.draw`, :mod:`fer_core.export`  drawing and writing, reading records only
- :mod:`fer_core.train`, :mod:`fer_core.evaluate`, :mod:`fer_core.network`, :mod:`fer_core.datasets`  the model

Models load when their classes are built, never at import.

The public API below is importable from ``fer_core`` itself; each name is imported on first use, so
``import fer_core`` stays fast::

    import fer_core

    analysis = fer_core.analyze_video("interview.mp4", "results/", every=3)      # a VideoAnalysis
    for face in analysis.faces:                                                  # FaceSummary per identity
        print(face.track_id, face.dominant_emotion, face.blinks_per_minute)

    pipeline = fer_core.FramePipeline(fer_core.PipelineSettings(model_dir=str(fer_core.model_folder("accurate"))))
    result = pipeline.process(fer_core.read_image("photo.jpg"), 0.0, 0)          # FaceRecord per face
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "analyze_video": "fer_core.video",
    "VideoAnalysis": "fer_core.video",
    "FramePipeline": "fer_core.pipeline",
    "PipelineSettings": "fer_core.pipeline",
    "DetectorSettings": "fer_core.detect",
    "EmotionClassifier": "fer_core.classifier",
    "Models": "fer_core.models",
    "FaceRecord": "fer_core.records",
    "FaceSummary": "fer_core.records",
    "read_image": "fer_core.decode",
    "iter_frames": "fer_core.decode",
    "probe_video": "fer_core.decode",
    "model_folder": "fer_core.model_file",
    "NAMED_MODELS": "fer_core.model_file",
    "EMOTIONS": "fer_core.labels",
    "HistoryStore": "fer_core.store",
    "FerError": "fer_core.errors",
    "DecodeError": "fer_core.errors",
    "NoFaceError": "fer_core.errors",
    "ModelFileError": "fer_core.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fer_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
