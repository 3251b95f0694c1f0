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
"""
